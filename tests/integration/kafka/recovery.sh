#!/usr/bin/env bash
# Kafka -> window -> join -> Kafka with exactly_once and checkpoints, killed with SIGKILL at 20
# random moments and restarted each time: a read_committed consumer then sees exactly the
# records of an uninterrupted run, none missing and none twice. Runs against the broker that
# run_tests.sh started ($SLUICE_KAFKA_BOOTSTRAP).
#   recovery.sh SLUICE_BINARY
set -euo pipefail
export LC_ALL=C
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
sluice="$(realpath "$1")"
bootstrap="$SLUICE_KAFKA_BOOTSTRAP"
python="$root/.deps/venv/bin/python"
source "$root/tests/kill_repeatedly.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-kafka-recovery.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() {
  echo "FAILED: $*" >&2
  [ -f stderr.txt ] && { echo "--- stderr of the last run:" >&2; tail -n 20 stderr.txt >&2; }
  exit 1
}
run() { "$sluice" run --no-progress "$@" 2> stderr.txt || fail "sluice run $* exited $?"; }

# Topics of their own, so that the broker may have served other tests.
run_id="$$-$RANDOM"
input="recovery-quotes-$run_id"
java -cp "$root/.deps/kafka/libs/*" "$here/CreateTopic.java" "$bootstrap" "$input" 3 ||
  fail "cannot create topic $input"

# The input: quotes of 20 symbols, 1 ms apart in event time, keyed by symbol over 3 partitions.
cat > produce.yaml <<YAML
name: produce
sources:
  quotes: {connector: generator, count: 1500000, seed: 3, symbols: 20}
sinks:
  out: {connector: kafka, brokers: [$bootstrap], topic: $input, key: [symbol]}
YAML
run produce.yaml

# pipeline FILE STATE TOPIC GROUP: the pipeline under test, writing to TOPIC.
pipeline() {
  cat > "$1" <<YAML
name: kafka-recovery
sources:
  quotes:
    connector: kafka
    brokers: [$bootstrap]
    topics: [$input]
    group: $4
    start: earliest
    until: end
    batch_size: 2000
    schema: {symbol: string, bid: double, ask: double, volume: int64, ts: timestamp}
    event_time: {field: ts, watermark_delay: 2s}
    # A restarted run takes the killed one's place in the group at once (static membership),
    # instead of waiting for its session to time out.
    properties: {group.instance.id: "$4-member", session.timeout.ms: "6000"}
pipeline:
  - {name: q, input: quotes, select: [symbol, bid, volume, ts]}
  - {name: stats, input: q, window: {tumbling: 5s, group_by: [symbol], aggregate: {bid: [max], volume: [sum]}}}
  - join: {left: q, right: stats, on: {symbol: symbol, bid: bid_max}, interval: {lower: 0s, upper: 5s}}
checkpoint: {dir: $2, interval: 200ms}
sinks:
  out: {connector: kafka, brokers: [$bootstrap], topic: $3, exactly_once: true}
YAML
}

# committed TOPIC FILE: every record a read_committed consumer sees in TOPIC, sorted.
committed() {
  cat > read.yaml <<YAML
name: read-$1
sources:
  out: {connector: kafka, brokers: [$bootstrap], topics: [$1], group: read-$1-$RANDOM, start: earliest, until: end, format: raw, isolation: read_committed}
sinks:
  file: {connector: file, path: $2.jsonl}
YAML
  run read.yaml
  "$python" -c 'import json, sys; print("\n".join(sorted(json.loads(l)["value"] for l in open(sys.argv[1]))))' "$2.jsonl" > "$2"
}

pipeline reference.yaml ref-state "out-reference-$run_id" "reference-$run_id"
run reference.yaml
grep -h "finished" stderr.txt >&2
committed "out-reference-$run_id" expected.txt
expected=$(wc -l < expected.txt)
[ "$expected" -gt 500 ] || fail "the uninterrupted run wrote only $expected records"

pipeline killed.yaml state "out-killed-$run_id" "killed-$run_id"
kill_repeatedly 20 800 2400 "$sluice" run --no-progress killed.yaml
run killed.yaml
committed "out-killed-$run_id" actual.txt
if ! diff -q expected.txt actual.txt > /dev/null; then
  missing=$(comm -23 expected.txt actual.txt | wc -l)
  extra=$(comm -13 expected.txt actual.txt | wc -l)
  fail "after $kills kills: $missing records missing and $extra extra (or repeated) of $expected"
fi
[ "$kills" -ge 15 ] || fail "only $kills of 20 kills came before the run ended"
last=$(ls state | grep '^chk-' | sort | tail -n 1)
echo "killed $kills times with SIGKILL over $((10#${last#chk-})) checkpoints; a read_committed consumer sees exactly the $expected records of the uninterrupted run"
echo "1 passed, 0 failed"
