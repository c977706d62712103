#!/usr/bin/env bash
# MQTT benchmark: MQTT -> JSON decode -> filter -> MQTT on one core, side by side with
# mosquitto_sub | mosquitto_pub doing the same relay (without decoding), as the limit.
#
# A Mosquitto broker (persistence off, no queue limit) on a free loopback port. The input topic
# is filled beforehand with N ~100-byte JSON messages (QoS 1) queued for a persistent session,
# so both relays read a backlog and the publisher's speed does not count. Each relay then reads
# the backlog with that session, and publishes to an output topic (QoS 1) that a collector
# (mosquitto_sub, persistent session) drains; the time is from the relay's start until the
# collector has received every output message.
#   - sluice: `sluice run` of an mqtt source (qos 1, receive_maximum 65535) -> filter
#     "volume > 2500" (three quarters pass) -> mqtt sink (qos 1).
#   - peer: `mosquitto_sub -q 1 | mosquitto_pub -q 1 -l` (every message passes).
# Both relays are pinned to CPU 1 with taskset (the peer's two processes share it); the broker
# and the collector run unpinned.
#
# Usage: bench/mqtt/run.sh [--messages N] [--repeat N]
#   Defaults: 200,000 messages, 3 repeats. Builds nothing: use a release build
#   (`cmake --preset release && cmake --build build/release --target sluice`).
#   Environment: SLUICE_BIN (default build/release/sluice).
# Prints one JSON line per relay:
#   {"benchmark":"mqtt_filter","relay":"sluice"|"mosquitto","messages":N,"output_messages":M,
#    "seconds":…,"messages_per_s":…}
# and then {"benchmark":"mqtt_filter","ratio":sluice messages/s ÷ mosquitto messages/s}.
# seconds is the best of --repeat runs.
set -euo pipefail
export LC_ALL=C
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
messages=200000
repeat=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --messages) messages="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
sluice="$(realpath "${SLUICE_BIN:-$root/build/release/sluice}")"
[ -x "$sluice" ] || { echo "no sluice binary at $sluice (set SLUICE_BIN)" >&2; exit 2; }
python="$root/.deps/venv/bin/python"
[ -x "$python" ] || python=python3
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-mqtt.XXXXXX")"
broker_pid=""
cleanup() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2> /dev/null && wait "$broker_pid" 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user=""
[ "$(id -u)" -eq 0 ] && user="user root"
cat > mosquitto.conf <<CONF
$user
listener $port 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_inflight_messages 1000
CONF
mosquitto -c mosquitto.conf 2> broker.txt &
broker_pid=$!
for _ in $(seq 1 100); do
  mosquitto_sub -p "$port" -t ready -E -W 1 2> /dev/null && break
  sleep 0.05
done

# ~100-byte quotes; volume > 2500 for three quarters of them.
"$python" - "$messages" <<'PY'
import random, sys
random.seed(1)
with open("input.txt", "w") as out:
    for i in range(int(sys.argv[1])):
        out.write('{"id":%d,"symbol":"SYM%02d","bid":%.4f,"ask":%.4f,"volume":%d,"venue":"XNAS"}\n'
                  % (i, i % 50, 100 + random.random(), 101 + random.random(), random.randint(0, 10000)))
PY
bytes=$(wc -c < input.txt)
split -l 10000 input.txt chunk.
expected_sluice=$("$python" -c 'import json, sys
print(sum(1 for l in open("input.txt") if json.loads(l)["volume"] > 2500))')

cat > pipeline.yaml <<YAML
name: mqtt-bench
sources:
  quotes:
    connector: mqtt
    url: "mqtt://127.0.0.1:$port"
    topics: [bench/in]
    client_id: relay
    qos: 1
    receive_maximum: 65535
    batch_size: 10000
    linger: 20ms
    schema: {id: int64, symbol: string, bid: double, ask: double, volume: int64, venue: string}
    until: {count: $messages}
pipeline:
  - filter: "volume > 2500"
sinks:
  out: {connector: mqtt, url: "mqtt://127.0.0.1:$port", topic: bench/out, qos: 1}
YAML

# measure RELAY EXPECTED: fills the backlog, runs the relay, prints its seconds.
measure() {
  local relay="$1" expected="$2" start end collector pid
  mosquitto_sub -p "$port" -V 5 -i relay -c -x 3600 -q 1 -t bench/in -E
  # mosquitto_pub -l drops the tail of a long input at its end: 10,000 lines per call.
  for chunk in chunk.*; do mosquitto_pub -p "$port" -q 1 -t bench/in -l < "$chunk"; done
  mosquitto_sub -p "$port" -V 5 -i collector -c -x 3600 -q 1 -t bench/out -C "$expected" -W 600 > collected.txt &
  collector=$!
  sleep 0.2
  start=$(date +%s.%N)
  if [ "$relay" = sluice ]; then
    taskset -c 1 "$sluice" run --no-progress pipeline.yaml 2> sluice.txt &
  else
    # mosquitto_pub -l drops what it has not sent when its input ends: the input stays open
    # a while after the last message (the time counts only until the collector has them all).
    taskset -c 1 bash -c "{ mosquitto_sub -p $port -V 5 -i relay -c -x 3600 -q 1 -t bench/in \
      -C $messages; sleep 10; } | mosquitto_pub -p $port -q 1 -t bench/out -l" &
  fi
  pid=$!
  wait "$collector" || { echo "the $relay relay did not deliver in time" >&2; cat sluice.txt >&2 || true; exit 1; }
  end=$(date +%s.%N)
  wait "$pid" || { echo "the $relay relay failed" >&2; cat sluice.txt >&2 || true; exit 1; }
  # Drop the sessions, so the next repeat starts empty.
  mosquitto_sub -p "$port" -i relay -t bench/in -E 2> /dev/null || true
  mosquitto_sub -p "$port" -i collector -t bench/out -E 2> /dev/null || true
  "$python" -c "print(round($end - $start, 3))"
}

best() {
  local relay="$1" expected="$2" best="" seconds
  for _ in $(seq 1 "$repeat"); do
    seconds=$(measure "$relay" "$expected")
    if [ -z "$best" ] || "$python" -c "import sys; sys.exit(0 if $seconds < $best else 1)"; then
      best="$seconds"
    fi
  done
  echo "$best"
}

sluice_seconds=$(best sluice "$expected_sluice")
peer_seconds=$(best mosquitto "$messages")
"$python" - "$messages" "$bytes" "$expected_sluice" "$sluice_seconds" "$peer_seconds" <<'PY'
import json, sys
messages, size, output, sluice, peer = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
for relay, seconds, out in (("sluice", sluice, output), ("mosquitto", peer, messages)):
    print(json.dumps({"benchmark": "mqtt_filter", "relay": relay, "messages": messages,
                      "bytes": size, "output_messages": out, "seconds": seconds,
                      "messages_per_s": round(messages / seconds)}))
print(json.dumps({"benchmark": "mqtt_filter", "ratio": round(peer / sluice, 3)}))
PY
