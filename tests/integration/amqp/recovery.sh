#!/usr/bin/env bash
# AMQP -> AMQP killed with SIGKILL at random moments while messages are unacknowledged, then
# run to the end: every input message is in the output queue (at-least-once: the broker
# redelivers what was not acknowledged; some come twice), and a dedup on the message id gives
# each exactly once. Runs against the node run_tests.sh started.
#   recovery.sh SLUICE_BINARY
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sluice="$(realpath "$1")"
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-amqp-recovery.XXXXXX")"
trap 'rm -rf "$work"' EXIT
source "$here/lib.sh"
source "$here/../../kill_repeatedly.sh"
cd "$work"
input="recovery-in-$$-$RANDOM"
output="recovery-out-$$-$RANDOM"
count=15000

# The input: quotes with an id, which the sink also sends as the message_id property.
produce_quotes "$input" "$count" 5

# The pipeline under test; the last run ends once the input queue stays empty.
cat > relay.yaml <<YAML
name: relay
sources:
  in:
    connector: amqp
    url: '$url'
    queue: $input
    prefetch: 2000
    batch_size: 500
    schema: {id: string, symbol: string, bid: double, volume: int64}
    until: {idle: "\${IDLE:-1h}"}
pipeline:
  - derive: {value: "bid * volume"}
sinks:
  out: {connector: amqp, url: '$url', routing_key: $output, message_id_field: id, declare: {queue: {name: $output}}}
YAML
kill_repeatedly 6 300 900 "$sluice" run --no-progress relay.yaml
IDLE=2s run relay.yaml
[ "$(ready "$input")" = 0 ] || fail "the input queue still holds $(ready "$input") messages"

# Everything the output queue holds, then the same deduplicated on the message id.
cat > read.yaml <<YAML
name: read
sources:
  out: {connector: amqp, url: '$url', queue: $output, metadata: true, schema: {id: string, value: double}, until: {idle: 2s}}
sinks:
  file: {connector: file, path: all.jsonl}
YAML
run read.yaml
cat > dedup.yaml <<YAML
name: dedup
sources:
  all: {connector: file, path: all.jsonl, schema: {id: string, value: double, _message_id: string}}
pipeline:
  - dedup: {key: [_message_id], within: 1h}
sinks:
  file: {connector: file, path: once.jsonl}
YAML
run dedup.yaml
total=$(wc -l < all.jsonl)
unique=$(grep -o '"id":"[^"]*"' all.jsonl | sort -u | wc -l)
once=$(wc -l < once.jsonl)
once_unique=$(grep -o '"id":"[^"]*"' once.jsonl | sort -u | wc -l)
[ "$kills" -ge 5 ] || fail "only $kills of 6 kills came before the run ended"
[ "$unique" = "$count" ] || fail "after $kills kills the output holds $unique of $count distinct messages"
[ "$once" = "$count" ] && [ "$once_unique" = "$count" ] ||
  fail "deduplicated on the message id: $once rows, $once_unique distinct, of $count"
echo "killed $kills times with SIGKILL: all $count messages arrived ($((total - count)) twice, redelivered); deduplicated on the message id, each exactly once"
