# Round trips in every payload format, wildcards, metadata and dead letters (sourced by
# run_tests.sh, which provides lib.sh).

# Every format: rows -> mqtt sink -> broker -> mqtt source -> the same rows. The source's
# persistent session exists before the sink publishes, so nothing depends on timing.
case_round_trip_formats() {
  cat > rows.jsonl <<'ROWS'
{"id": 1, "name": "plain", "price": 1.5}
{"id": 2, "name": "with, comma and \"quotes\"", "price": -0.1}
{"id": 3, "name": "ünïcödé", "price": 1e-7}
{"id": 4, "name": "", "price": 123456789.125}
ROWS
  printf '{"value": "one"}\n{"value": "two, three"}\n{"value": ""}\n' > raw.jsonl
  cat > rows.avsc <<'AVSC'
{"type": "record", "name": "Row", "fields": [
  {"name": "id", "type": "long"}, {"name": "name", "type": "string"},
  {"name": "price", "type": "double"}]}
AVSC
  local format input schema source_schema sink_extra count
  for format in json csv avro arrow raw; do
    input=rows.jsonl
    schema="schema: {id: int64, name: string, price: double}"
    source_schema="$schema"
    sink_extra=""
    count=4
    case "$format" in
      raw) input=raw.jsonl; schema="schema: {value: string}"; source_schema=""; count=3 ;;
      avro) source_schema="avro_schema: rows.avsc"; sink_extra="avro_schema: rows.avsc" ;;
      arrow) count=1 ;;  # one message per batch
    esac
    session "rt-$format" 5 "rt/$format"
    cat > publish.yaml <<YAML
name: rt-publish-$format
sources:
  rows: {connector: file, path: $input, $schema}
sinks:
  out: {connector: mqtt, url: "mqtt://127.0.0.1:$port", topic: rt/$format, format: $format, $sink_extra}
YAML
    cat > consume.yaml <<YAML
name: rt-consume-$format
sources:
  rows:
    connector: mqtt
    url: "mqtt://127.0.0.1:$port"
    topics: [rt/$format]
    client_id: rt-$format
    format: $format
    $source_schema
    until: {count: $count, duration: 20s}
sinks:
  out: {connector: file, path: out-$format.jsonl}
YAML
    run_sluice publish.yaml || { fail_case "round trip $format: publishing failed"; continue; }
    run_sluice consume.yaml || { fail_case "round trip $format: consuming failed"; continue; }
    if "$python" "$root/tests/compare_jsonl.py" --unordered "$input" "out-$format.jsonl"; then
      pass "round trip in format $format"
    else
      fail_case "round trip $format: the rows differ"
    fi
  done
}

# + and # filters (MQTT 3.1.1), metadata fields, and messages published by mosquitto_pub.
case_wildcards() {
  cat > wild.yaml <<YAML
name: wildcards
sources:
  in:
    connector: mqtt
    url: "mqtt://127.0.0.1:$port"
    version: "3.1.1"
    topics: ["wc/+/temp", "wc/all/#"]
    clean_start: true
    schema: {n: int64}
    metadata: true
    until: {count: 4, duration: 20s}
sinks:
  out: {connector: file, path: out.jsonl}
YAML
  run_sluice wild.yaml &
  local pid=$!
  wait_connected stderr.txt || { kill "$pid"; fail_case "wildcards: no connection"; return; }
  local topic n=0
  for topic in wc/a/temp wc/a/humidity wc/b/temp wc/a/b/temp wc/all wc/all/x/y wcx/all/z; do
    n=$((n + 1))
    mosquitto_pub -p "$port" -q 1 -t "$topic" -m "{\"n\": $n}"
  done
  wait "$pid" || { fail_case "wildcards: the run failed"; return; }
  local got
  got=$("$python" -c 'import json
rows = map(json.loads, open("out.jsonl"))
print(" ".join("%s=%d/%d" % (r["_topic"], r["n"], r["_qos"]) for r in rows))')
  if [ "$got" = "wc/a/temp=1/1 wc/b/temp=3/1 wc/all=5/1 wc/all/x/y=6/1" ]; then
    pass "wildcards + and # select exactly the matching topics (3.1.1)"
  else
    fail_case "wildcards: got $got"
  fi
}

# MQTT 5 user properties and the retain flag in the metadata fields.
case_metadata_v5() {
  mosquitto_pub -p "$port" -V 5 -q 1 -r -t md/retained -m '{"n": 1}' \
    -D publish user-property origin sensor-7 -D publish user-property unit C
  cat > md.yaml <<YAML
name: metadata
sources:
  in:
    connector: mqtt
    url: "mqtt://127.0.0.1:$port"
    topics: ["md/#"]
    clean_start: true
    schema: {n: int64}
    metadata: true
    until: {count: 1, duration: 20s}
sinks:
  out: {connector: file, path: out.jsonl}
YAML
  run_sluice md.yaml || { fail_case "metadata: the run failed"; return; }
  mosquitto_pub -p "$port" -r -t md/retained -n  # clear the retained message
  if "$python" - <<'PY'
import json
row = json.loads(open("out.jsonl").readline())
assert row["_retain"] is True, row
assert json.loads(row["_properties"]) == {"origin": "sensor-7", "unit": "C"}, row
assert row["_timestamp"].startswith("20"), row
PY
  then
    pass "metadata: retain flag, receive time and MQTT 5 user properties"
  else
    fail_case "metadata: $(cat out.jsonl)"
  fi
}

# Malformed payloads become dead letters with their topic; every message is accounted for.
case_malformed_payloads() {
  session bad-payloads 5 "bad/#"
  : > messages.txt
  local i
  for i in $(seq 1 50); do echo "{\"id\": $i, \"v\": $i.5}" >> messages.txt; done
  printf 'not json\n{"id": "x", "v": 1}\n{"id": 7\n' >> messages.txt
  publish bad/in messages.txt
  mosquitto_pub -p "$port" -q 1 -t bad/binary -s < <(printf '\xff\xfe{}')
  cat > bad.yaml <<YAML
name: malformed
sources:
  in:
    connector: mqtt
    url: "mqtt://127.0.0.1:$port"
    topics: ["bad/#"]
    client_id: bad-payloads
    schema: {id: int64, v: double}
    until: {idle: 2s, duration: 20s}
sinks:
  out: {connector: file, path: out.jsonl}
dead_letters: {connector: file, path: dead.jsonl}
YAML
  run_sluice bad.yaml || { fail_case "malformed: the run failed"; return; }
  local rows dead origins
  rows=$(wc -l < out.jsonl)
  dead=$(wc -l < dead.jsonl)
  origins=$("$python" -c 'import json
print(" ".join(sorted({json.loads(l)["origin"] for l in open("dead.jsonl")})))')
  if [ "$rows" -eq 50 ] && [ "$dead" -eq 4 ] && [ "$origins" = "mqtt:bad/binary mqtt:bad/in" ] &&
    grep -q "54 rows in" stderr.txt; then
    pass "malformed payloads: 50 rows + 4 dead letters (origin mqtt:<topic>) = 54 messages"
  else
    fail_case "malformed: $rows rows, $dead dead letters, origins '$origins'"
  fi
}

# QoS 2 end to end, both protocol versions: mosquitto_pub -> source (qos 2, PUBREC only once the
# batch is written) -> sink (qos 2, waits for PUBCOMP) -> collector; run twice on one
# persistent session, so the second run sees only what came after the first.
case_qos2() {
  local version
  for version in 5 3.1.1; do
    session "q2-out-$version" 5 "q2/$version/out"
    cat > q2.yaml <<YAML
name: qos2
sources:
  in:
    connector: mqtt
    url: "mqtt://127.0.0.1:$port"
    version: "$version"
    topics: ["q2/$version/in"]
    client_id: q2-in-$version
    qos: 2
    schema: {n: int64}
    until: {count: 3, duration: 20s}
sinks:
  out: {connector: mqtt, url: "mqtt://127.0.0.1:$port", version: "$version", topic: "q2/$version/out", qos: 2}
YAML
    local round
    for round in 1 2; do
      run_sluice q2.yaml &
      local pid=$!
      wait_connected stderr.txt || { kill "$pid"; fail_case "qos2 $version: no connection"; return; }
      for n in 1 2 3; do
        mosquitto_pub -p "$port" -q 2 -t "q2/$version/in" -m "{\"n\": $((round * 10 + n))}"
      done
      wait "$pid" || { fail_case "qos2 $version: run $round failed"; return; }
    done
    collected "q2-out-$version" "q2/$version/out" got.jsonl
    if [ "$(ids got.jsonl n | tr '\n' ' ')" = "11 12 13 21 22 23 " ]; then
      pass "QoS 2 in and out with MQTT $version, twice on one session: each message once"
    else
      fail_case "qos2 $version: got $(ids got.jsonl n | tr '\n' ' ')"
    fi
  done
}
