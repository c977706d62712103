# SIGKILL during a QoS 1 stream and a broker restart mid-stream (sourced by run_tests.sh).

# publish_slowly TOPIC COUNT: publishes {"id": 1..COUNT} in chunks of 100, a chunk every 50 ms,
# each chunk again until the broker took it (it may be restarting); in the background, its PID
# in $publisher.
publish_slowly() {
  local topic="$1" count="$2"
  (
    for start in $(seq 1 100 "$count"); do
      seq "$start" $((start + 99)) | sed 's/.*/{"id": &}/' > "chunk-$start.txt"
      until mosquitto_pub -p "$port" -q 1 -t "$topic" -l < "chunk-$start.txt" 2> /dev/null; do
        sleep 0.1
      done
      sleep 0.05
    done
  ) &
  publisher=$!
}

# MQTT -> MQTT at-least-once, and MQTT -> dedup -> rolling files with checkpoints exactly-once,
# each killed with SIGKILL at random moments while 3000 QoS 1 messages stream in.
case_sigkill_persistent_session() {
  local count=3000
  session kill-in 5 kill/in
  session kill-in-exact 5 kill/in
  session kill-out 5 kill/out
  cat > forward.yaml <<YAML
name: kill-forward
sources:
  in:
    connector: mqtt
    url: "mqtt://127.0.0.1:$port"
    topics: [kill/in]
    client_id: kill-in
    batch_size: 50
    linger: 20ms
    schema: {id: int64}
    until: {idle: 2s, duration: 60s}
sinks:
  out: {connector: mqtt, url: "mqtt://127.0.0.1:$port", topic: kill/out}
YAML
  cat > exact.yaml <<YAML
name: kill-exact
sources:
  in:
    connector: mqtt
    url: "mqtt://127.0.0.1:$port"
    topics: [kill/in]
    client_id: kill-in-exact
    batch_size: 50
    linger: 20ms
    schema: {id: int64}
    until: {idle: 2s, duration: 60s}
pipeline:
  - dedup: {key: [id], within: 1h}
checkpoint: {dir: state, interval: 100ms}
sinks:
  out: {connector: file, path: "parts/part-{part}.jsonl", roll: {rows: 500}}
YAML
  publish_slowly kill/in "$count"
  # Both pipelines are killed in turns while the messages arrive.
  local round kills_total=0
  for round in 1 2 3 4; do
    kill_repeatedly 1 200 700 "$sluice" run --no-progress forward.yaml
    kills_total=$((kills_total + kills))
    [ "$kills" -eq 1 ] || { echo "forward run $round ended by itself:"; tail -n 5 stderr.txt; }
    kill_repeatedly 1 200 700 "$sluice" run --no-progress exact.yaml
    kills_total=$((kills_total + kills))
    [ "$kills" -eq 1 ] || { echo "exact run $round ended by itself:"; tail -n 5 stderr.txt; }
  done
  wait "$publisher"
  run_sluice forward.yaml || { fail_case "sigkill: the last forward run failed"; return; }
  run_sluice exact.yaml || { fail_case "sigkill: the last exactly-once run failed"; return; }
  collected kill-out kill/out forwarded.jsonl
  local missing repeated
  missing=$(comm -23 <(seq 1 "$count" | sort) <(ids forwarded.jsonl id | sort -u) | wc -l)
  repeated=$(($(wc -l < forwarded.jsonl) - $(ids forwarded.jsonl id | sort -u | wc -l)))
  if [ "$missing" -eq 0 ]; then
    pass "sigkill ($kills_total kills): every one of $count QoS 1 messages forwarded at least once ($repeated repeated)"
  else
    fail_case "sigkill: $missing of $count messages missing after $kills_total kills"
  fi
  cat parts/part-*.jsonl > exact.jsonl 2> /dev/null || true
  if [ "$(ids exact.jsonl id)" = "$(seq 1 "$count")" ]; then
    pass "sigkill: with dedup and checkpoints every message exactly once"
  else
    fail_case "sigkill exactly-once: $(wc -l < exact.jsonl) rows, $(ids exact.jsonl id | uniq -d | wc -l) repeated, $(comm -23 <(seq 1 "$count" | sort) <(ids exact.jsonl id | sort -u) | wc -l) missing"
  fi
}

# The broker is stopped and started again (persistence on) while messages stream in: the source
# reconnects to its session and loses nothing, and the sink publishes again what the lost
# connection left unconfirmed.
case_broker_restart() {
  local count=2000
  session restart-in 5 restart/in
  session restart-out 5 restart/out
  cat > restart.yaml <<YAML
name: broker-restart
sources:
  in:
    connector: mqtt
    url: "mqtt://127.0.0.1:$port"
    topics: [restart/in]
    client_id: restart-in
    batch_size: 50
    linger: 20ms
    schema: {id: int64}
    until: {idle: 4s, duration: 60s}
sinks:
  out: {connector: file, path: out.jsonl}
  forward: {connector: mqtt, url: "mqtt://127.0.0.1:$port", topic: restart/out, delivery_timeout: 2s}
YAML
  run_sluice restart.yaml &
  local pid=$!
  wait_connected stderr.txt || { kill "$pid"; fail_case "restart: no connection"; return; }
  publish_slowly restart/in "$count"
  sleep 0.6
  broker_stop
  sleep 0.5
  broker_start
  wait "$publisher"
  wait "$pid" || { fail_case "restart: the run failed"; return; }
  local missing forwarded_missing
  missing=$(comm -23 <(seq 1 "$count" | sort) <(ids out.jsonl id | sort -u) | wc -l)
  collected restart-out restart/out forwarded.jsonl
  forwarded_missing=$(comm -23 <(seq 1 "$count" | sort) <(ids forwarded.jsonl id | sort -u) | wc -l)
  if [ "$missing" -eq 0 ] && [ "$forwarded_missing" -eq 0 ] && grep -q "reconnected" stderr.txt; then
    pass "broker restart: source and sink reconnected, all $count messages read and forwarded ($(wc -l < out.jsonl) rows, $(wc -l < forwarded.jsonl) forwarded)"
  else
    fail_case "broker restart: $missing of $count missing in, $forwarded_missing missing forwarded"
  fi
}
