# Round trips through a real InfluxDB 1.x: every type, every character line protocol escapes,
# measurements from a field, precision, gzip (sourced by run_tests.sh).

# write_rows FILE: rows with every field type, and names and values holding commas, spaces,
# equals signs, quotes, backslashes, newlines and non-ASCII text; some rows make no point.
write_rows() {
  "$python" - "$1" <<'PY'
import json, sys
names = ["cpu load", "mem,used", "disk=io", "uni ☃ é", 'q"uote', "back\\slash", "tab\tname",
         "#hash", "trail\\"]
hosts = ["a b", "x,y=z", "", None, "é☃ 東京", "back\\,slash", 'say "hi"', "line\nbreak", "end\\",
         " lead and trail "]
messages = ["plain", "", 'with "quotes"', "new\nline", "a,b c=d", "back\\slash\\", "☃ snow",
            "tab\tand\r\ncrlf", "=,\\ \""]
rows = []
for i in range(300):
    rows.append({
        "name": names[i % len(names)],
        "host": hosts[i % len(hosts)],
        "region": i % 4,
        "load avg": (i - 150) / 7 if i % 11 else None,
        "a,b=c": [-9223372036854775808, 9223372036854775807, 0, i][i % 4],
        "q\"k": i % 3 == 0,
        "msg": messages[i % len(messages)],
        "ts": 1700000000000000 + i * 1001 if i % 37 != 5 else None,
    })
# A row whose every field is null makes no point.
rows.append({"name": "cpu load", "host": "h", "region": 1, "load avg": None, "a,b=c": None,
             "q\"k": None, "msg": None, "ts": 1700000000999999})
with open(sys.argv[1], "w", encoding="utf-8") as out:
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
PY
}

# round_trip_yaml FILE INPUT EXTRA...: file → influxdb with the round-trip schema.
round_trip_yaml() {
  local file="$1" input="$2"
  shift 2
  {
    cat <<YAML
name: round-trip
sources:
  rows:
    connector: file
    path: $input
    format: jsonl
    schema: {name: string, host: string, region: int64, "load avg": double, "a,b=c": int64,
             "q\"k": bool, msg: string, ts: timestamp_us}
sinks:
  influx:
    connector: influxdb
    url: http://127.0.0.1:$port
    username: $user
    password: \${INFLUX_PASSWORD}
    tags: [host, region]
    time: ts
YAML
    for line in "$@"; do echo "    $line"; done
    cat <<YAML
dead_letters:
  connector: file
  path: dead.jsonl
YAML
  } > "$file"
}

# Every type and every escaped character, measurements from a field; read back exactly.
case_round_trip_every_type() {
  create_database roundtrip
  write_rows rows.jsonl
  round_trip_yaml pipeline.yaml rows.jsonl "database: roundtrip" "measurement_field: name" \
    "batch_rows: 64"
  if ! INFLUX_PASSWORD="$password" run_sluice pipeline.yaml; then
    fail_case "round trip: the run failed"
    return
  fi
  local result dead rows
  result=$(check compare roundtrip rows.jsonl \
    '{"measurement_field": "name", "tags": ["host", "region"], "time": "ts"}') || {
    fail_case "round trip: $result"
    return
  }
  dead=$(lines dead.jsonl)
  rows=$(lines rows.jsonl)
  if [ "$result" = "points=$((rows - dead)) dead=$dead" ] && [ "$dead" -gt 0 ] &&
    grep -q 'a point needs at least one' dead.jsonl && grep -q "comment" dead.jsonl &&
    grep -q 'newline' dead.jsonl && grep -q "time field 'ts' is null" dead.jsonl &&
    grep -q '"stage":"sink:influx"' dead.jsonl; then
    pass "round trip: $rows rows, every point read back exactly ($result)"
  else
    fail_case "round trip: $result, $dead dead letters of $rows rows"
  fi
}

# A fixed measurement in seconds: times are floored to the second.
case_precision() {
  create_database precise
  write_rows rows.jsonl
  round_trip_yaml pipeline.yaml rows.jsonl "database: precise" "measurement: m" \
    "precision: ms"
  if ! INFLUX_PASSWORD="$password" run_sluice pipeline.yaml; then
    fail_case "precision: the run failed"
    return
  fi
  local result
  if result=$(check compare precise rows.jsonl \
    '{"measurement": "m", "tags": ["host", "region"], "time": "ts", "precision_ns": 1000000}'); then
    pass "precision ms: every point at its floored time ($result)"
  else
    fail_case "precision: $result"
  fi
}

# gzip: the same points arrive (InfluxDB decodes Content-Encoding: gzip).
case_gzip() {
  create_database zipped
  write_rows rows.jsonl
  round_trip_yaml pipeline.yaml rows.jsonl "database: zipped" "measurement_field: name" \
    "gzip: true" "batch_rows: 1000"
  if ! INFLUX_PASSWORD="$password" run_sluice pipeline.yaml; then
    fail_case "gzip: the run failed"
    return
  fi
  local result
  if result=$(check compare zipped rows.jsonl \
    '{"measurement_field": "name", "tags": ["host", "region"], "time": "ts"}'); then
    pass "gzip: every point read back ($result)"
  else
    fail_case "gzip: $result"
  fi
}
