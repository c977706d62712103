# Credentials, TLS, unreachable brokers and messages the sink cannot send (sourced by
# run_tests.sh).

# source_yaml FILE URL EXTRA: a bounded source of one message on topic err/in.
source_yaml() {
  cat > "$1" <<YAML
name: errors
sources:
  in:
    connector: mqtt
    url: "$2"
    topics: [err/in]
    clean_start: true
    schema: {id: int64}
    connect_timeout: 2s
    until: {count: 1, duration: 20s}
    ${3:-}
sinks:
  out: {connector: file, path: out.jsonl}
YAML
}

# Wrong credentials and an unreachable broker fail a bounded run after connect_timeout, with
# a clear message; the right credentials work.
case_refused_and_unreachable() {
  local begin took unreachable
  source_yaml wrong.yaml "mqtt://127.0.0.1:$auth_port" "username: sluice
    password: wrong"
  begin=$SECONDS
  if run_sluice wrong.yaml; then
    fail_case "wrong credentials: the run succeeded"
  else
    took=$((SECONDS - begin))
    if grep -q "cannot connect to MQTT broker mqtt://127.0.0.1:$auth_port within 2s: the broker refused the connection" stderr.txt &&
      [ "$took" -le 6 ]; then
      pass "wrong credentials: refused, failed after ${took}s with the broker's reason"
    else
      fail_case "wrong credentials: ${took}s, $(tail -n 1 stderr.txt)"
    fi
  fi
  unreachable=$(free_port)
  source_yaml unreachable.yaml "mqtt://127.0.0.1:$unreachable"
  begin=$SECONDS
  if run_sluice unreachable.yaml; then
    fail_case "unreachable: the run succeeded"
  else
    took=$((SECONDS - begin))
    local attempts
    attempts=$(grep -c "cannot reach" stderr.txt || true)
    if grep -q "cannot connect to MQTT broker mqtt://127.0.0.1:$unreachable within 2s" stderr.txt &&
      [ "$took" -le 6 ] && [ "$attempts" -le 3 ]; then
      pass "unreachable broker: failed after ${took}s, $attempts log line(s) (no spin)"
    else
      fail_case "unreachable: ${took}s, $attempts log lines, $(tail -n 1 stderr.txt)"
    fi
  fi
  source_yaml right.yaml "mqtt://127.0.0.1:$auth_port" "username: sluice
    password: \${MQTT_PASSWORD}"
  MQTT_PASSWORD=secret run_sluice right.yaml &
  local pid=$!
  wait_connected stderr.txt || { kill "$pid"; fail_case "credentials: no connection"; return; }
  mosquitto_pub -p "$auth_port" -u sluice -P secret -q 1 -t err/in -m '{"id": 5}'
  if wait "$pid" && grep -q '"id":5' out.jsonl; then
    pass "the right credentials (password from the environment) connect"
  else
    fail_case "right credentials: the run failed"
  fi
}

# mqtts:// with the broker's certificate authority, both ways: sink publishes, source reads.
case_tls() {
  source_yaml tls.yaml "mqtts://127.0.0.1:$tls_port" "tls: {ca: $work/tls/ca.pem}"
  run_sluice tls.yaml &
  local pid=$!
  wait_connected stderr.txt || { kill "$pid"; fail_case "tls: no connection"; return; }
  printf '{"id": 9}\n' > in.jsonl
  cat > tls-sink.yaml <<YAML
name: tls-sink
sources:
  in: {connector: file, path: in.jsonl, schema: {id: int64}}
sinks:
  out: {connector: mqtt, url: "mqtts://127.0.0.1:$tls_port", topic: err/in, tls: {ca: $work/tls/ca.pem}}
YAML
  "$sluice" run --no-progress tls-sink.yaml 2> sink-stderr.txt || {
    kill "$pid"
    fail_case "tls: the sink failed: $(tail -n 1 sink-stderr.txt)"
    return
  }
  if wait "$pid" && grep -q '"id":9' out.jsonl; then
    pass "TLS: a sink and a source over mqtts:// with the broker's CA"
  else
    fail_case "tls: the source failed"
  fi
  # Without the CA the broker's certificate is not trusted: a clear error, no hang.
  source_yaml untrusted.yaml "mqtts://127.0.0.1:$tls_port"
  if run_sluice untrusted.yaml; then
    fail_case "tls: an untrusted certificate was accepted"
  elif grep -qi "certificate" stderr.txt; then
    pass "TLS: an untrusted broker certificate fails the run with the reason"
  else
    fail_case "tls untrusted: $(tail -n 1 stderr.txt)"
  fi
}

# Sink: a topic from a field, rows the sink cannot send become dead letters, a topic without
# subscribers is no error, QoS 2 and message expiry (MQTT 5).
case_sink_errors() {
  session sink-errors 5 "alerts/#"
  "$python" - <<'PY'
import json
with open("in.jsonl", "w") as out:
    for symbol in ["A", "B", None, "C+D", "E"]:
        out.write(json.dumps({"symbol": symbol, "note": "x" * (3000 if symbol == "E" else 3)}) + "\n")
PY
  cat > sink.yaml <<YAML
name: sink-errors
sources:
  in: {connector: file, path: in.jsonl, schema: {symbol: string, note: string}}
sinks:
  out: {connector: mqtt, url: "mqtt://127.0.0.1:$port", topic: "alerts/{symbol}", qos: 2, message_expiry: 1h, max_message_size: 2048}
  nobody: {connector: mqtt, url: "mqtt://127.0.0.1:$port", topic: "nobody/listens", qos: 1}
dead_letters: {connector: file, path: dead.jsonl}
YAML
  run_sluice sink.yaml || { fail_case "sink errors: the run failed"; return; }
  collected sink-errors "alerts/#" got.txt
  local reasons
  reasons=$("$python" -c 'import json
print(" | ".join(sorted(json.loads(l)["reason"] for l in open("dead.jsonl"))))')
  if [ "$(wc -l < got.txt)" -eq 2 ] && grep -q '"symbol":"A"' got.txt && grep -q '"symbol":"B"' got.txt &&
    [ "$(wc -l < dead.jsonl)" -eq 3 ] && [[ "$reasons" == *"is null"* ]] &&
    [[ "$reasons" == *"wildcard"* ]] && [[ "$reasons" == *"larger than max_message_size"* ]]; then
    pass "sink: topics from fields; null topic, wildcard topic and oversized message are dead letters"
  else
    fail_case "sink errors: $(wc -l < got.txt) delivered; dead letters: $reasons"
  fi
}
