#!/usr/bin/env bash
# Kafka benchmark: Kafka -> JSON decode -> filter -> Kafka on one core. A real single-node Kafka
# 4.1 broker (tests/integration/kafka/broker.sh) on 127.0.0.1; the input topic is filled with
# generated ~100-byte JSON quotes (produce.yaml), then `sluice run pipeline.yaml` reads it all
# (until: end), decodes each message with the declared schema, keeps the rows with volume > 2500 (three quarters)
# and writes them as JSON to an output topic. Goal: at least 1 M messages/s.
#
# Usage: bench/kafka/run.sh [--messages N] [--repeat N] [--perf FILE]
#   Defaults: 5,000,000 messages, 3 repeats. Builds nothing: run `cmake --preset release &&
#   cmake --build build/release --target sluice` first. --perf FILE also records the last
#   repeat of each configuration with `perf record -e cpu-clock -g` into FILE.<configuration>.
#   Environment: SLUICE_BIN (default build/release/sluice).
#
# Prints one JSON line per configuration (default: pipeline.yaml as a user would write it;
# large_queue: pipeline_large_queue.yaml, the same with a larger librdkafka fetch queue):
#   {"benchmark":"kafka_filter","configuration":…,"messages":N,"bytes":B,"output_messages":M,
#    "seconds":…,"messages_per_s":…,"mb_per_s":…,"produce_messages_per_s":…}
# The measured process is pinned to CPU 0 with taskset (librdkafka's threads too); the broker
# runs unpinned beside it. seconds is the best of --repeat runs of the whole `sluice run`
# process (start-up, group join, reading, decoding, filtering, producing and waiting for every
# delivery); each repeat uses a fresh consumer group and output topic. messages/s and MB/s
# (10^6 bytes/s) count input messages and their value bytes. produce_messages_per_s is the
# unpinned generator -> Kafka run that filled the topic, for reference.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

messages=5000000
repeat=3
perf_file=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --messages) messages="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --perf) perf_file="$2"; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

sluice="${SLUICE_BIN:-$root/build/release/sluice}"
[[ -x "$sluice" ]] || { echo "no Sluice binary at $sluice; build the release preset first" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-kafka-bench.XXXXXX")"
export SLUICE_KAFKA_INSTANCE="$work/instance"
mkdir -p "$SLUICE_KAFKA_INSTANCE"
cleanup() {
  bash "$root/tests/integration/kafka/broker.sh" stop || true
  rm -rf "$work"
}
trap cleanup EXIT

SLUICE_BENCH_BROKERS="$(bash "$root/tests/integration/kafka/broker.sh" start | tail -n 1)"
export SLUICE_BENCH_BROKERS SLUICE_BENCH_MESSAGES="$messages"
export SLUICE_BENCH_INPUT="bench-input" SLUICE_BENCH_SIZES="$work/messages.jsonl"

# Seconds of wall-clock time and the summary line (stderr) of one command.
timed() {
  local started ended
  started=$(date +%s.%N)
  "$@" 2>"$work/stderr" >/dev/null || { cat "$work/stderr" >&2; return 1; }
  ended=$(date +%s.%N)
  echo "$started $ended" | awk '{printf "%.4f\n", $2 - $1}'
}

echo "producing $messages messages..." >&2
produce_seconds=$(timed "$sluice" run --no-progress "$root/bench/kafka/produce.yaml")
# The JSON lines file holds the same rows as the messages, each plus a newline.
bytes=$(( $(stat -c %s "$SLUICE_BENCH_SIZES") - messages ))
rm -f "$SLUICE_BENCH_SIZES"

measure() {
  local configuration="$1" pipeline="$2"
  local best="" output_messages="" seconds summary rows_in
  for run in $(seq 1 "$repeat"); do
    export SLUICE_BENCH_GROUP="bench-$configuration-$run" SLUICE_BENCH_OUTPUT="bench-output-$configuration-$run"
    local wrap=(taskset -c 0)
    if [[ -n "$perf_file" && "$run" == "$repeat" ]]; then
      wrap=(perf record -q -e cpu-clock -F 999 -g -o "$perf_file.$configuration" -- taskset -c 0)
    fi
    seconds=$(timed "${wrap[@]}" "$sluice" run --no-progress "$pipeline")
    summary="$(grep 'rows in' "$work/stderr" | tail -n 1)"
    rows_in=$(sed -E 's/.*: ([0-9]+) rows in.*/\1/' <<<"$summary")
    output_messages=$(sed -E 's/.* ([0-9]+) rows out.*/\1/' <<<"$summary")
    if [[ "$rows_in" != "$messages" ]]; then
      echo "$configuration run $run read $rows_in messages, not $messages: $summary" >&2
      exit 1
    fi
    echo "$configuration run $run: $seconds s ($summary)" >&2
    if [[ -z "$best" ]] || awk -v a="$seconds" -v b="$best" 'BEGIN { exit !(a < b) }'; then best="$seconds"; fi
  done
  awk -v c="$configuration" -v n="$messages" -v bytes="$bytes" -v out="$output_messages" -v s="$best" -v ps="$produce_seconds" 'BEGIN {
    printf "{\"benchmark\":\"kafka_filter\",\"configuration\":\"%s\",\"messages\":%d,\"bytes\":%d,\"output_messages\":%d,\"seconds\":%.3f,\"messages_per_s\":%d,\"mb_per_s\":%.1f,\"produce_messages_per_s\":%d}\n",
      c, n, bytes, out, s, n / s, bytes / s / 1e6, n / ps
  }'
}

measure default "$root/bench/kafka/pipeline.yaml"
measure large_queue "$root/bench/kafka/pipeline_large_queue.yaml"
