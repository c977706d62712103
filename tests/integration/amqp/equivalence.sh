#!/usr/bin/env bash
# The same windowed pipeline over an AMQP queue and over a file gives the same rows: 20,000
# quotes are written to a JSON Lines file and, through the amqp sink, to a queue; a tumbling
# window per symbol then runs over each. Runs against the node run_tests.sh started.
#   equivalence.sh SLUICE_BINARY
set -euo pipefail
sluice="$(realpath "$1")"
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-amqp-equivalence.XXXXXX")"
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$work"
queue="equivalence-$$-$RANDOM"
count=20000
schema='{symbol: string, bid: double, ask: double, volume: int64, ts: timestamp}'

cat > produce.yaml <<YAML
name: produce
sources:
  quotes: {connector: generator, count: $count, seed: 11, symbols: 8}
sinks:
  file: {connector: file, path: quotes.jsonl}
  queue: {connector: amqp, url: '$url', routing_key: $queue, declare: {queue: {name: $queue}}}
YAML
run produce.yaml

# window SOURCE OUTPUT: the pipeline under test, reading from SOURCE (a YAML flow map).
window() {
  cat > window.yaml <<YAML
name: window
sources:
  quotes: $1
pipeline:
  - filter: "volume > 100"
  - window: {tumbling: 250ms, group_by: [symbol], aggregate: {bid: [min, max, avg], volume: [sum]}}
sinks:
  out: {connector: file, path: $2}
YAML
  run window.yaml
}
window "{connector: file, path: quotes.jsonl, schema: $schema, event_time: {field: ts, watermark_delay: 1s}}" file.jsonl
window "{connector: amqp, url: '$url', queue: $queue, schema: $schema, batch_size: 1500, until: {count: $count}, event_time: {field: ts, watermark_delay: 1s}}" amqp.jsonl
sort file.jsonl > expected.txt
sort amqp.jsonl > actual.txt
rows=$(wc -l < expected.txt)
[ "$rows" -gt 100 ] || fail "the file run gave only $rows rows"
diff -q expected.txt actual.txt > /dev/null ||
  fail "the AMQP run differs from the file run: $(diff expected.txt actual.txt | head -n 5)"
[ "$(ready "$queue")" = 0 ] || fail "queue $queue still holds $(ready "$queue") messages"
echo "a tumbling window over $count quotes gives the same $rows rows over AMQP as over a file"
