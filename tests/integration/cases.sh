# What the integration suites' run_tests.sh share (sourced beside the suite's lib.sh): free
# ports, waiting for a server to end, counting results, and running the suite's cases — every
# `case_*` function of its cases_*.sh files, or those named on the command line — each in a
# folder of its own under $work.
#
#   free_port             prints a free TCP port on 127.0.0.1 (needs $python)
#   wait_gone PID         waits (up to 30 s) until process PID is gone; for a server that is
#                         not our child, which `wait` cannot wait for
#   pass MESSAGE          counts a passed check
#   fail_case MESSAGE     counts a failed one and shows the end of ./stderr.txt
#   run_cases NAME [CASE...]
#                         sources $here/cases_*.sh, runs the cases, prints how long they took
#                         and the counts; returns non-zero when any failed
passed=0
failed=0

free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_gone() {
  for _ in $(seq 1 600); do
    kill -0 "$1" 2> /dev/null || return 0
    sleep 0.05
  done
  echo "process $1 did not end" >&2
  return 1
}

pass() {
  passed=$((passed + 1))
  echo "ok: $*"
}

fail_case() {
  failed=$((failed + 1))
  echo "FAILED: $*"
  [ -f stderr.txt ] && { echo "--- stderr.txt:"; tail -n 15 stderr.txt; }
  return 0
}

run_cases() {
  local suite="$1" file name begin started
  shift
  for file in "$here"/cases_*.sh; do source "$file"; done
  local cases=("$@")
  if [ ${#cases[@]} -eq 0 ]; then
    mapfile -t cases < <(declare -F | awk '{print $3}' | grep '^case_')
  fi
  started=$SECONDS
  for name in "${cases[@]}"; do
    mkdir -p "$work/$name"
    cd "$work/$name"
    begin=$SECONDS
    "$name"
    echo "   ($name: $((SECONDS - begin)) s)"
  done
  cd "$work"
  echo "$suite cases took $((SECONDS - started)) s"
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
