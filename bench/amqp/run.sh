#!/usr/bin/env bash
# AMQP benchmark: AMQP -> JSON decode -> filter -> AMQP on one core, beside the fastest relay the
# RabbitMQ Java client makes (Relay.java) as the limit. A RabbitMQ node of its own
# (tests/integration/amqp/broker.sh) on 127.0.0.1; an input queue is filled with generated
# ~100-byte JSON quotes (generator -> amqp sink), then `sluice run` reads them all (until:
# count), decodes each with the declared schema, keeps the rows with volume > 2500 (three
# quarters) and publishes them as JSON with publisher confirms to an output queue. The peer
# reads the same queue (refilled) and publishes every message with confirms, without decoding.
#
# Usage: bench/amqp/run.sh [--messages N] [--repeat N]
#   Defaults: 500,000 messages, 3 repeats. Builds nothing: run `cmake --preset release &&
#   cmake --build build/release --target sluice` first. Environment: SLUICE_BIN (default
#   build/release/sluice). The peer needs Java 17 and Maven (the client is fetched into
#   .deps/amqp-bench on first use). RabbitMQ's PerfTest is not used: it is not obtainable here.
#
# Prints one JSON line per contender and the ratio:
#   {"benchmark":"amqp_filter","contender":"sluice"|"java_relay","messages":N,"bytes":B,
#    "seconds":…,"messages_per_s":…}
# Both are pinned to CPU 0 with taskset; the broker runs unpinned beside them. seconds is the
# best of --repeat runs: for Sluice of the whole process (start-up, connecting, consuming,
# decoding, filtering, publishing and waiting for every confirm), for the relay from its
# consumer's start to the last confirm (no JVM start-up).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/bench/amqp"
messages=500000
repeat=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --messages) messages="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
sluice="$(realpath "${SLUICE_BIN:-$root/build/release/sluice}")"
[[ -x "$sluice" ]] || { echo "no Sluice binary at $sluice; build the release preset first" >&2; exit 1; }

libs="$root/.deps/amqp-bench/libs"
if [[ ! -f "$libs/.complete" ]]; then
  mkdir -p "$libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >&2
  touch "$libs/.complete"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-amqp-bench.XXXXXX")"
export SLUICE_AMQP_INSTANCE="$work/instance"
cleanup() { bash "$root/tests/integration/amqp/broker.sh" stop || true; rm -rf "$work"; }
trap cleanup EXIT
url="$(bash "$root/tests/integration/amqp/broker.sh" start | tail -n 1)"
cd "$work"

# fill QUEUE: MESSAGES quotes (about 100 bytes of JSON each) into QUEUE.
fill() {
  cat > produce.yaml <<YAML
name: produce
sources:
  quotes: {connector: generator, count: $messages, seed: 1, symbols: 50}
pipeline:
  - derive: {venue: "'XNAS'"}
sinks:
  queue: {connector: amqp, url: '$url', routing_key: $1, declare: {queue: {name: $1}}}
YAML
  "$sluice" run --no-progress produce.yaml 2> produce.log
}

best() { sort -g | head -n 1; }
bytes=0
sluice_times=()
java_times=()
for run in $(seq 1 "$repeat"); do
  fill "in-$run"
  if [[ "$bytes" = 0 ]]; then
    bytes=$(bash "$root/tests/integration/amqp/broker.sh" ctl list_queues -q name message_bytes | awk -v q="in-$run" '$1 == q { print $2 }')
  fi
  cat > pipeline.yaml <<YAML
name: amqp-filter
sources:
  quotes:
    connector: amqp
    url: '$url'
    queue: in-$run
    prefetch: 20000
    batch_size: 5000
    until: {count: $messages}
    schema: {symbol: string, bid: double, ask: double, volume: int64, ts: timestamp, venue: string}
pipeline:
  - filter: "volume > 2500"
sinks:
  out: {connector: amqp, url: '$url', routing_key: out-$run, declare: {queue: {name: out-$run}}}
YAML
  start=$(date +%s.%N)
  taskset -c 0 "$sluice" run --no-progress pipeline.yaml 2> pipeline.log
  sluice_times+=("$(echo "$(date +%s.%N) - $start" | bc)")
  fill "peer-in-$run"
  # The relay's own time, from its consumer's start to the last confirm: without the JVM's
  # start-up and the compilation of Relay.java, which would flatter Sluice.
  java_times+=("$(taskset -c 0 java -XX:+UseSerialGC -cp "$libs/*" "$here/Relay.java" "${url%/}" "peer-in-$run" "peer-out-$run" "$messages" 20000 2> java.log | tail -n 1)")
done
sluice_best=$(printf '%s\n' "${sluice_times[@]}" | best)
java_best=$(printf '%s\n' "${java_times[@]}" | best)
for contender in sluice java_relay; do
  seconds=$sluice_best
  [[ $contender = java_relay ]] && seconds=$java_best
  printf '{"benchmark":"amqp_filter","contender":"%s","messages":%d,"bytes":%d,"seconds":%.3f,"messages_per_s":%.0f}\n' \
    "$contender" "$messages" "$bytes" "$seconds" "$(echo "$messages / $seconds" | bc -l)"
done
printf '{"benchmark":"amqp_filter","ratio_sluice_to_java_relay":%.3f}\n' "$(echo "$java_best / $sluice_best" | bc -l)"
