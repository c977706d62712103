# Shared by the AMQP scripts that run `sluice` (equivalence.sh, recovery.sh, restart.sh), sourced
# after `sluice` and `work` are set: fail, run, and queue inspection through broker.sh.
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
