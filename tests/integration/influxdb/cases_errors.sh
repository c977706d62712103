# Refused points, an unreachable or restarted server, wrong credentials, and the 2.x API
# against a stand-in (sourced by run_tests.sh).

# A field type conflict with existing data (a partial write, found by splitting the request)
# and times the server cannot parse (named in its message) become dead letters with the
# server's message; every other row is written: rows in = points + dead letters.
case_partial_write() {
  create_database conflicts
  # "value" is an integer field of measurement temp from now on.
  curl -sf -XPOST "http://127.0.0.1:$port/write?db=conflicts" -u "$user:$password" \
    --data-binary 'temp,sensor=s0 value=1i 1' || {
    fail_case "partial write: cannot prepare the conflict"
    return
  }
  "$python" - rows.jsonl <<'PY'
import json, sys
with open(sys.argv[1], "w") as out:
    for i in range(2000):
        kind = "temp" if i % 7 == 3 else "hum"
        t = 9223372036854775807 if i % 250 == 17 else 1000000 + i
        out.write(json.dumps({"kind": kind, "sensor": f"s{i % 5}", "value": i / 4, "t": t}) + "\n")
PY
  cat > pipeline.yaml <<YAML
name: partial
sources:
  rows:
    connector: file
    path: rows.jsonl
    schema: {kind: string, sensor: string, value: double, t: int64}
sinks:
  influx:
    connector: influxdb
    url: http://127.0.0.1:$port
    database: conflicts
    username: $user
    password: \${INFLUX_PASSWORD}
    measurement_field: kind
    tags: [sensor]
    time: t
    batch_rows: 500
dead_letters:
  connector: file
  path: dead.jsonl
YAML
  if ! INFLUX_PASSWORD="$password" run_sluice pipeline.yaml; then
    fail_case "partial write: the run failed"
    return
  fi
  local points dead conflicts unparsed
  points=$(check count conflicts) || points=0
  points=$((points - 1))  # without the point written above
  dead=$(lines dead.jsonl)
  conflicts=$(grep -c 'field type conflict' dead.jsonl || true)
  unparsed=$(grep -c 'time outside range' dead.jsonl || true)
  # 286 temp rows conflict; 8 rows have an unparseable time, 2 of them temp rows.
  if [ "$points" -eq $((2000 - dead)) ] && [ "$conflicts" -eq 284 ] && [ "$unparsed" -eq 8 ] &&
    [ "$dead" -eq 292 ]; then
    pass "partial write: 2000 rows = $points points + $dead dead letters ($conflicts type conflicts, $unparsed unparseable); $(grep -o 'in [0-9]* request(s)' stderr.txt)"
  else
    fail_case "partial write: $points points, $dead dead ($conflicts conflicts, $unparsed unparsed)"
    head -c 600 dead.jsonl
  fi
}

# influx_yaml FILE URL DATABASE EXTRA...: a bounded generator into InfluxDB.
influx_yaml() {
  local file="$1" url="$2" database="$3"
  shift 3
  {
    cat <<YAML
name: quotes
sources:
  quotes: {connector: generator, count: ${COUNT:-1000}, rate: ${RATE:-0}, batch_size: 500}
sinks:
  influx:
    connector: influxdb
    url: $url
    database: $database
    measurement: quotes
    tags: [symbol]
    time: ts
    precision: ms
YAML
    for line in "$@"; do echo "    $line"; done
  } > "$file"
}

# No server at the url: the run fails at once, saying so.
case_server_down_at_start() {
  local unused begin took
  unused=$(free_port)
  influx_yaml pipeline.yaml "http://127.0.0.1:$unused" down
  begin=$SECONDS
  if run_sluice pipeline.yaml; then
    fail_case "server down: the run succeeded"
    return
  fi
  took=$((SECONDS - begin))
  if grep -q "cannot reach InfluxDB http://127.0.0.1:$unused (database 'down')" stderr.txt &&
    [ "$took" -le 5 ]; then
    pass "server down at start: failed after ${took}s: $(grep -o 'cannot reach.*' stderr.txt | head -c 150)"
  else
    fail_case "server down: ${took}s"
  fi
}

# Wrong password: a clear error that names neither password; `sluice validate` shows none.
case_wrong_credentials() {
  local wrong="Wr0ng-$RANDOM-passw0rd"
  create_database guarded
  influx_yaml pipeline.yaml "http://127.0.0.1:$port" guarded "username: $user" \
    "password: $wrong"
  if run_sluice pipeline.yaml; then
    fail_case "wrong credentials: the run succeeded"
    return
  fi
  "$sluice" validate pipeline.yaml > validate.txt 2>&1 || true
  if grep -q "refused the credentials (HTTP 401)" stderr.txt &&
    ! grep -q -e "$wrong" -e "$password" stderr.txt validate.txt; then
    pass "wrong credentials: $(grep -o 'InfluxDB.*refused the credentials.*' stderr.txt | head -c 160)"
  else
    fail_case "wrong credentials: $(tail -n 1 stderr.txt)"
  fi
}

# influxd killed (SIGKILL) mid-run and restarted 2 s later: the sink retries, the run succeeds,
# and every point is there.
case_restart_mid_run() {
  create_database restarted
  COUNT=12000 RATE=3000 influx_yaml pipeline.yaml "http://127.0.0.1:$port" restarted \
    "username: $user" "password: \${INFLUX_PASSWORD}" "retry_backoff: 200ms" "batch_rows: 200"
  INFLUX_PASSWORD="$password" run_sluice pipeline.yaml &
  local run=$! status=0 points
  sleep 1.5
  server_stop kill
  sleep 2
  server_start || {
    fail_case "restart: influxd did not start again"
    wait "$run" || true
    return
  }
  wait "$run" || status=$?
  points=$(check count restarted) || points=-1
  if [ "$status" -eq 0 ] && [ "$points" -eq 12000 ] && grep -q "attempt 2 of" stderr.txt; then
    pass "server killed and restarted mid-run: 12000 of 12000 points, $(grep -c 'attempt' stderr.txt) retry log line(s)"
  else
    fail_case "restart: exit $status, $points points of 12000"
  fi
}

# The 2.x API against fake_v2.py: path, org and bucket, the token header, gzip, precision;
# 429 with Retry-After: 1 (twice), then a 503, are retried; the token appears in no message.
case_v2_api() {
  local v2_port token="tok-$RANDOM-secret" fake begin took
  v2_port=$(free_port)
  "$python" "$here/fake_v2.py" --port "$v2_port" --org acme --bucket "metrics/raw" \
    --token "$token" --out received.txt --problems problems.txt --throttle 2 --expect-gzip \
    > fake.log 2>&1 &
  fake=$!
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$v2_port/ping" && break
    sleep 0.05
  done
  cat > pipeline.yaml <<YAML
name: v2
sources:
  quotes: {connector: generator, count: 1500, batch_size: 1500}
sinks:
  influx:
    connector: influxdb
    url: http://127.0.0.1:$v2_port/
    org: acme
    bucket: metrics/raw
    token: \${INFLUX_TOKEN}
    measurement: quotes
    tags: [symbol]
    fields: [bid, volume]
    time: ts
    precision: us
    gzip: true
    batch_rows: 1000
    retry_backoff: 100ms
YAML
  begin=$(date +%s%N)
  local status=0
  INFLUX_TOKEN="$token" run_sluice pipeline.yaml || status=$?
  took=$((($(date +%s%N) - begin) / 1000000))
  kill "$fake" 2> /dev/null || true
  wait "$fake" 2> /dev/null || true
  local received first
  received=$(grep -vc '^#' received.txt || true)
  first=$(grep -v '^#' received.txt 2> /dev/null | head -n 1) || true
  if [ "$status" -eq 0 ] && [ "$received" -eq 1500 ] && [ ! -s problems.txt ] &&
    grep -q '^#precision=us$' received.txt &&
    [[ "$first" =~ ^quotes,symbol=[A-Z]+\ bid=[0-9.e+-]+,volume=[0-9]+i\ 1704067200000000$ ]] &&
    [ "$(grep -c 'HTTP 429' stderr.txt)" -eq 2 ] && grep -q 'HTTP 503' stderr.txt &&
    [ "$took" -ge 2000 ] && ! grep -q "$token" stderr.txt; then
    pass "v2 API (stand-in server): 1500 lines, gzip, token, org/bucket checked; 2x429 honoured Retry-After, 503 retried (${took} ms)"
  else
    fail_case "v2: exit $status, $received lines, first '$first', ${took} ms, problems: $(cat problems.txt 2> /dev/null)"
  fi
}

# With checkpoints, points wait for a request to fill (linger 1h here, so only checkpoints send
# them): every checkpoint sends what waits, so the run ends with every point written, in about
# one request per checkpoint rather than one per batch.
case_checkpoints_send_what_waits() {
  create_database checkpointed
  COUNT=3000 RATE=3000 influx_yaml pipeline.yaml "http://127.0.0.1:$port" checkpointed \
    "username: $user" "password: \${INFLUX_PASSWORD}" "batch_rows: 100000" "linger: 1h"
  sed -i 's/batch_size: 500/batch_size: 50/' pipeline.yaml
  printf 'checkpoint: {dir: state, interval: 300ms}\n' >> pipeline.yaml
  local status=0 points requests
  INFLUX_PASSWORD="$password" run_sluice pipeline.yaml || status=$?
  points=$(check count checkpointed) || points=-1
  requests=$(grep -o 'in [0-9]* request(s)' stderr.txt | grep -o '[0-9]*') || requests=0
  if [ "$status" -eq 0 ] && [ "$points" -eq 3000 ] && [ "$requests" -ge 2 ] &&
    [ "$requests" -le 15 ]; then
    pass "checkpoints: 3000 of 3000 points in $requests requests (60 batches of 50)"
  else
    fail_case "checkpoints: exit $status, $points points, $requests requests"
  fi
}

# A database that does not exist: the run fails with the server's message.
case_missing_database() {
  influx_yaml pipeline.yaml "http://127.0.0.1:$port" nowhere "username: $user" \
    "password: \${INFLUX_PASSWORD}"
  if INFLUX_PASSWORD="$password" run_sluice pipeline.yaml; then
    fail_case "missing database: the run succeeded"
  elif grep -q "(database 'nowhere') has no such database (HTTP 404): database not found" stderr.txt; then
    pass "missing database: $(grep -o 'InfluxDB.*has no such database.*' stderr.txt | head -c 150)"
  else
    fail_case "missing database: $(tail -n 1 stderr.txt)"
  fi
}

# With checkpoints, points refused when a checkpoint sends what waited are dead letters of that
# checkpoint: the last checkpoint's too (they were counted but never written before).
case_checkpoint_dead_letters() {
  create_database refused_late
  "$python" -c '
import json
with open("rows.jsonl", "w") as out:
    for i in range(100):
        out.write(json.dumps({"v": i, "t": 9223372036854775807 if i % 10 == 0 else i + 1}) + "\n")'
  cat > pipeline.yaml <<YAML
name: refused-late
sources:
  rows: {connector: file, path: rows.jsonl, schema: {v: int64, t: int64}, batch_size: 10}
sinks:
  influx:
    connector: influxdb
    url: http://127.0.0.1:$port
    database: refused_late
    username: $user
    password: \${INFLUX_PASSWORD}
    measurement: m
    time: t
    linger: 1h
dead_letters: {connector: file, path: "dead/part-{part}.jsonl", roll: {interval: 1h}}
checkpoint: {dir: state, interval: 1h}
YAML
  local status=0 points dead
  INFLUX_PASSWORD="$password" run_sluice pipeline.yaml || status=$?
  points=$(check count refused_late) || points=-1
  dead=$(cat dead/*.jsonl 2> /dev/null | grep -c 'time outside range') || dead=0
  if [ "$status" -eq 0 ] && [ "$points" -eq 90 ] && [ "$dead" -eq 10 ]; then
    pass "checkpoint dead letters: 90 points + 10 dead letters written by the last checkpoint"
  else
    fail_case "checkpoint dead letters: exit $status, $points points, $dead dead letters"
  fi
}
