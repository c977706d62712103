#!/usr/bin/env bash
# The http sink's integration tests as one ctest case: starts one HTTP receiver (receiver.py,
# which records every request and answers as its path says: 500s, 429 with Retry-After, 400,
# a slow answer), runs every case of cases_*.sh against it with the `sluice` binary, and stops
# the receiver by its PID.
#   run_tests.sh SLUICE_BINARY [CASE...]   (cases by function name; all when none given)
set -euo pipefail
export LC_ALL=C.UTF-8
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
sluice="$(realpath "$1")"
shift
python="$root/.deps/venv/bin/python"
[ -x "$python" ] || python=python3
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-http-sink.XXXXXX")"
source "$root/tests/integration/cases.sh"

received="$work/received"
port=$(free_port)
"$python" "$here/receiver.py" "$port" "$received" 2> "$work/receiver.log" &
receiver_pid=$!
cleanup() {
  kill "$receiver_pid" 2> /dev/null || true
  wait "$receiver_pid" 2> /dev/null || true
  if [ -n "${KEEP_WORK:-}" ]; then echo "work folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  "$python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" \
    2> /dev/null && break
  sleep 0.1
done

run_sluice() {
  "$sluice" run --no-progress "$@" 2> stderr.txt
}

# Runs pipeline.yaml; when the run fails, counts a failed check "LABEL: the run failed" and
# returns non-zero.
run_or_fail() {
  run_sluice pipeline.yaml && return 0
  fail_case "$1: the run failed"
  return 1
}

# Writes rows.jsonl: N rows {id, name, amount, at}.
make_rows() {
  "$python" - "$1" <<'PY'
import json, sys
with open("rows.jsonl", "w") as out:
    for i in range(int(sys.argv[1])):
        out.write(json.dumps({"id": i, "name": f"row \"{i}\", é", "amount": i / 4,
                              "at": f"2026-01-01T00:00:{i % 60:02d}Z"}) + "\n")
PY
}

# A pipeline.yaml from rows.jsonl to the http sink with the sink options given (YAML lines,
# indented by four spaces), dead letters to dead.jsonl.
write_pipeline() {
  {
    cat <<YAML
name: hooks
sources:
  rows:
    connector: file
    path: rows.jsonl
    batch_size: 10000
    schema: {id: int64, name: string, amount: double, at: timestamp}
sinks:
  out:
    connector: http
YAML
    printf '%s\n' "$@" | sed 's/^/    /'
    cat <<YAML
dead_letters:
  connector: file
  path: dead.jsonl
YAML
  } > pipeline.yaml
}

# Field KEY (e.g. time, or headers.Authorization) of request N of receiver case CASE.
recorded() {
  "$python" -c '
import json, sys
value = json.load(open("%s/%06d.json" % (sys.argv[1], int(sys.argv[2]))))
for key in sys.argv[3].split("."):
    value = value.get(key)
print(value)' "$received/$1" "$2" "$3"
}

# check.py on the requests of receiver case $1.
check() {
  local case="$1"
  shift
  "$python" "$here/check.py" "$received/$case" "$@"
}

run_cases "http sink" "$@"
