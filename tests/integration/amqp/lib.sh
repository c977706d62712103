# Shared by the AMQP scripts that run `sluice` (equivalence.sh, recovery.sh, restart.sh), sourced
# after `sluice` and `work` are set: fail, run, queue inspection through broker.sh, input.
export LC_ALL=C
url="$SLUICE_AMQP_URL"
broker="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/broker.sh"
fail() {
  echo "FAILED: $*" >&2
  [ -f "$work/stderr.txt" ] && { echo "--- stderr of the last run:" >&2; tail -n 20 "$work/stderr.txt" >&2; }
  exit 1
}
run() { "$sluice" run --no-progress "$@" 2> "$work/stderr.txt" || fail "sluice run $* exited $?"; }
# ready QUEUE: the number of ready messages in QUEUE.
ready() { bash "$broker" ctl list_queues -q name messages 2>/dev/null | awk -v q="$1" '$1 == q { print $2 }'; }
# produce_quotes QUEUE COUNT SEED: COUNT generated quotes with a unique `id` into QUEUE (declared
# durable), each also carrying its id as the message_id property.
produce_quotes() {
  cat > "$work/produce.yaml" <<YAML
name: produce
sources:
  quotes: {connector: generator, count: $2, seed: $3, symbols: 10}
pipeline:
  - derive: {id: "concat(symbol, '-', CAST(volume AS VARCHAR), '-', CAST(bid AS VARCHAR), '-', CAST(ts AS VARCHAR))"}
sinks:
  queue: {connector: amqp, url: '$url', routing_key: $1, message_id_field: id, declare: {queue: {name: $1}}}
YAML
  run "$work/produce.yaml"
}
