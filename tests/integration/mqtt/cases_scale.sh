# Scale-out with shared subscriptions, and MQTT against a file as the oracle for a windowed
# pipeline (sourced by run_tests.sh).

# Two `sluice run` processes in one share group: every message reaches exactly one of them.
case_shared_subscription() {
  local process
  for process in 1 2; do
    cat > "shared-$process.yaml" <<YAML
name: shared-$process
sources:
  in:
    connector: mqtt
    url: "mqtt://127.0.0.1:$port"
    topics: ["\$share/workers/jobs/#"]
    client_id: worker-$process
    clean_start: true
    schema: {id: int64}
    until: {idle: 3s, duration: 30s}
sinks:
  out: {connector: file, path: out-$process.jsonl}
YAML
    "$sluice" run --no-progress "shared-$process.yaml" 2> "stderr-$process.txt" &
    eval "pid_$process=\$!"
  done
  if ! wait_connected stderr-1.txt || ! wait_connected stderr-2.txt; then
    kill "$pid_1" "$pid_2" 2> /dev/null || true
    fail_case "shared subscription: no connection"
    return
  fi
  seq 1 1000 | sed 's/.*/{"id": &}/' > messages.txt
  head -n 500 messages.txt > first.txt
  tail -n 500 messages.txt > second.txt
  publish jobs/a first.txt
  publish jobs/b/c second.txt
  local status=0
  wait "$pid_1" || status=1
  wait "$pid_2" || status=1
  [ "$status" -eq 0 ] || { cp stderr-1.txt stderr.txt; fail_case "shared subscription: a run failed"; return; }
  local one two
  one=$(wc -l < out-1.jsonl)
  two=$(wc -l < out-2.jsonl)
  cat out-1.jsonl out-2.jsonl > both.jsonl
  if [ "$(ids both.jsonl id)" = "$(seq 1 1000)" ] && [ "$one" -gt 0 ] && [ "$two" -gt 0 ]; then
    pass "shared subscription: 1000 messages, each exactly once over two processes ($one + $two)"
  else
    fail_case "shared subscription: $one + $two rows, ids $(ids both.jsonl id | uniq -d | wc -l) repeated"
  fi
}

# The same tumbling-window pipeline over MQTT and over a file gives identical results.
case_window_equals_file() {
  "$python" - <<'PY'
import json, random
random.seed(7)
with open("events.jsonl", "w") as out:
    for i in range(3000):
        ms = i * 7 + random.randint(0, 400)  # out of order by up to 400 ms
        ts = "2026-01-01T00:%02d:%02d.%03dZ" % (ms // 60000, ms // 1000 % 60, ms % 1000)
        out.write(json.dumps({"id": i, "symbol": "ABCDE"[random.randint(0, 4)],
                              "price": round(random.uniform(1, 100), 2), "ts": ts}) + "\n")
PY
  session window-equivalence 5 "eq/events"
  publish eq/events events.jsonl
  local source
  for source in file mqtt; do
    if [ "$source" = file ]; then
      source="{connector: file, path: events.jsonl, schema: {id: int64, symbol: string, price: double, ts: timestamp}, event_time: {field: ts, watermark_delay: 1s}}"
      out=file
    else
      source="{connector: mqtt, url: \"mqtt://127.0.0.1:$port\", topics: [eq/events], client_id: window-equivalence, batch_size: 100, linger: 20ms, schema: {id: int64, symbol: string, price: double, ts: timestamp}, event_time: {field: ts, watermark_delay: 1s}, until: {count: 3000, duration: 30s}}"
      out=mqtt
    fi
    cat > "$out.yaml" <<YAML
name: window-$out
sources:
  events: $source
pipeline:
  - window: {tumbling: 2s, group_by: [symbol], aggregate: {price: [sum, max], id: [count]}}
sinks:
  out: {connector: file, path: $out.jsonl}
YAML
    run_sluice "$out.yaml" || { fail_case "window over $out failed"; return; }
  done
  if [ "$(wc -l < file.jsonl)" -gt 20 ] &&
    "$python" "$root/tests/compare_jsonl.py" --unordered file.jsonl mqtt.jsonl > /dev/null; then
    pass "a windowed pipeline over MQTT equals it over a file ($(wc -l < file.jsonl) windows)"
  else
    fail_case "window over MQTT differs from the file: $(wc -l < file.jsonl) vs $(wc -l < mqtt.jsonl) rows"
  fi
}

# A backlog of 50,000 queued QoS 1 messages read with a small receive window and large batches:
# acknowledgements and new messages cross while the pipeline is busy, and nothing stalls
# (acknowledging once waited on the client's full event queue, which waited on the source).
case_backlog_flow_control() {
  local count=50000
  session backlog 5 backlog/in
  seq 1 "$count" | sed 's/.*/{"id": &}/' | split -l 10000 - chunk.
  for chunk in chunk.*; do publish backlog/in "$chunk"; done
  cat > backlog.yaml <<YAML
name: backlog
sources:
  in:
    connector: mqtt
    url: "mqtt://127.0.0.1:$port"
    topics: [backlog/in]
    client_id: backlog
    receive_maximum: 2000
    batch_size: 5000
    linger: 20ms
    schema: {id: int64}
    until: {count: $count, duration: 60s}
pipeline:
  - filter: "id % 2 = 0"
sinks:
  out: {connector: file, path: out.jsonl}
YAML
  local begin=$SECONDS
  run_sluice backlog.yaml || { fail_case "backlog: the run failed"; return; }
  if [ "$(wc -l < out.jsonl)" -eq $((count / 2)) ] && grep -q "after $count messages" stderr.txt; then
    pass "backlog: $count queued messages through a receive window of 2000 in $((SECONDS - begin))s"
  else
    fail_case "backlog: $(wc -l < out.jsonl) rows; $(tail -n 1 stderr.txt)"
  fi
}
