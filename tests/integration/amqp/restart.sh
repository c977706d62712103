#!/usr/bin/env bash
# AMQP -> AMQP while the broker restarts: the source and the sink reconnect with backoff, the
# broker redelivers what was not acknowledged and the sink sends its unconfirmed messages again;
# every input message reaches the output queue (durable queues, persistent messages). Then a
# wrong password and an unreachable port end a bounded run with a clear error within its
# connect_timeout. Runs against the node run_tests.sh started (restarting it).
#   restart.sh SLUICE_BINARY
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sluice="$(realpath "$1")"
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-amqp-restart.XXXXXX")"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
source "$here/lib.sh"
cd "$work"
input="restart-in-$$-$RANDOM"
output="restart-out-$$-$RANDOM"
count=15000

produce_quotes "$input" "$count" 9

cat > relay.yaml <<YAML
name: relay
sources:
  in: {connector: amqp, url: '$url', queue: $input, prefetch: 200, batch_size: 100, linger: 10ms, heartbeat: 5s, schema: {id: string, bid: double}}
pipeline:
  # Slow enough that the restart comes mid-stream.
  - derive: {twice: "bid * 2"}
sinks:
  out: {connector: amqp, url: '$url', routing_key: $output, declare: {queue: {name: $output}}}
YAML
"$sluice" run --no-progress relay.yaml 2> stderr.txt &
pid=$!
sleep 0.5
before=$(ready "$output")
bash "$broker" restart
started=$SECONDS
# Until every input message is acknowledged: the output may reach the count earlier, since
# messages sent again after the restart count twice there.
while written=$(ready "$output"); left=$(ready "$input");
  [ "${written:-0}" -lt "$count" ] || [ "${left:-1}" != 0 ]; do
  kill -0 "$pid" 2>/dev/null || fail "the pipeline exited during the restart"
  [ $((SECONDS - started)) -lt 60 ] || fail "after 60s the output queue holds $written of $count messages and the input $left"
  sleep 0.3
done
kill -TERM "$pid"
wait "$pid" || fail "the relay exited $? after SIGTERM"
pid=""
grep -q "reconnected" stderr.txt || fail "the relay never reconnected (was the restart mid-stream?)"
[ "$(ready "$input")" = 0 ] || fail "the input queue still holds $(ready "$input") messages"
cat > read.yaml <<YAML
name: read
sources:
  out: {connector: amqp, url: '$url', queue: $output, schema: {id: string}, until: {idle: 2s}}
sinks:
  file: {connector: file, path: all.jsonl}
YAML
run read.yaml
unique=$(sort -u all.jsonl | wc -l)
[ "$unique" = "$count" ] || fail "after the restart the output holds $unique of $count distinct messages"
echo "broker restarted mid-stream ($before of $count written before): all $count messages arrived ($(($(wc -l < all.jsonl) - count)) twice)"

# Clear errors in bounded time: a wrong password, then a port nobody listens on.
wrong="${url/guest:guest@/guest:wrong@}"
closed_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
for target in "$wrong" "amqp://guest:guest@127.0.0.1:$closed_port/"; do
  cat > bad.yaml <<YAML
name: bad
sources:
  in: {connector: amqp, url: '$target', queue: $input, format: raw, connect_timeout: 2s, until: {idle: 1m}}
sinks:
  out: {connector: file, path: bad.jsonl}
YAML
  started=$SECONDS
  status=0
  timeout 30 "$sluice" run --no-progress bad.yaml 2> stderr.txt || status=$?
  [ "$status" = 1 ] || fail "sluice run with $target exited $status, not 1"
  [ $((SECONDS - started)) -le 8 ] || fail "the run with $target took $((SECONDS - started))s"
  grep -Eq "ACCESS_REFUSED|cannot connect" stderr.txt || fail "no clear error for $target"
  echo "$target: exit 1 after $((SECONDS - started))s: $(grep -Eo '(ACCESS_REFUSED|cannot connect)[^;]*' stderr.txt | head -n 1)"
done
