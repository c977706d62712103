# Shared helpers of the fault-injection cases (tests/faults/*.sh). A case is a bash script run as
#   bash tests/faults/<case>.sh SLUICE_BINARY WORK_DIR
# It sources this file, provokes one fault per check and asserts what the user sees: the exit
# status, the message, which outputs exist, and conservation (rows in = rows out + rows filtered
# + dead letters + rows reported skipped). It prints "N passed, 0 failed" and exits 0, or names
# the first check that failed and exits 1.
set -euo pipefail
FAULTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SLUICE="$(realpath "$1")"
WORK="$2"
rm -rf "$WORK" && mkdir -p "$WORK"
cd "$WORK"
checks_passed=0

fail() {
  echo "FAILED: $*" >&2
  [ -f stderr.txt ] && { echo "--- stderr of the last run:" >&2; cat stderr.txt >&2; }
  exit 1
}
pass() { checks_passed=$((checks_passed + 1)); }
finish() { echo "$checks_passed passed, 0 failed"; }

# run_sluice ARGS...: runs `sluice ARGS`, stderr to stderr.txt; sets $status (never fails itself).
run_sluice() {
  set +e
  "$SLUICE" "$@" 2> stderr.txt
  status=$?
  set -e
}

expect_status() {  # expect_status CODE WHAT
  [ "$status" -eq "$1" ] || fail "$2: expected exit status $1, got $status"
}
expect_stderr() {  # expect_stderr TEXT WHAT: stderr contains TEXT (a fixed string)
  grep -qF -- "$1" stderr.txt || fail "$2: stderr lacks '$1'"
}
expect_no_stderr() {  # expect_no_stderr TEXT WHAT
  ! grep -qF -- "$1" stderr.txt || fail "$2: stderr has '$1'"
}

# lines FILE: the number of lines of a text file (0 when it does not exist).
lines() { if [ -f "$1" ]; then wc -l < "$1" | tr -d ' '; else echo 0; fi; }

# summary_count PATTERN: the number before PATTERN (an extended regex) in the run's summary
# line, e.g. `summary_count 'rows? in'`, `summary_count 'dead letters?'`,
# `summary_count 'rows? skipped'`; 0 when the summary does not mention it.
summary_count() {
  local line number
  line="$(grep -E "^sluice: pipeline '.*' " stderr.txt | tail -n 1 || true)"
  number="$(printf '%s\n' "$line" | grep -oE "[0-9]+ $1\b" | head -n 1 | grep -oE '^[0-9]+' || true)"
  echo "${number:-0}"
}

# expect_conservation IN OUT FILTERED DEAD SKIPPED WHAT
expect_conservation() {
  local in="$1" out="$2" filtered="$3" dead="$4" skipped="$5"
  [ "$in" -eq $((out + filtered + dead + skipped)) ] ||
    fail "$6: $in rows in != $out out + $filtered filtered + $dead dead letters + $skipped skipped"
}

# file_digest FILE: a content digest, to show that a previous output survived unchanged.
file_digest() { sha256sum "$1" | cut -d' ' -f1; }

# with_small_disk MEGABYTES DIR COMMAND...: runs COMMAND with a tmpfs of that size mounted on DIR
# in a private mount namespace (as root, or as a user where user namespaces are allowed).
with_small_disk() {
  local size="$1" dir="$2"
  shift 2
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    unshare -m sh -c 'mount -t tmpfs -o size="$1"m tmpfs "$2" && shift 2 && exec "$@"' sh "$size" "$dir" "$@"
  else
    unshare -rm sh -c 'mount -t tmpfs -o size="$1"m tmpfs "$2" && shift 2 && exec "$@"' sh "$size" "$dir" "$@"
  fi
}

# make_quotes FILE ROWS: a CSV of ROWS quotes (id, symbol, price), row i with price i % 997 + .25.
make_quotes() {
  python3 - "$1" "$2" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("id,symbol,price\n")
    for i in range(int(sys.argv[2])):
        f.write(f"{i},S{i % 10},{i % 997}.25\n")
PY
}

# signal_run SIGNAL PID: sends SIGNAL to a run started in the background and waits for it; sets
# $status and $elapsed_ms (from the signal to the end).
signal_run() {
  local started
  started=$(date +%s%N)
  kill "-$1" "$2" 2>/dev/null || true
  set +e
  wait "$2"
  status=$?
  set -e
  elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
}

# file_pipeline FILE INPUT [OPTION...]: writes pipeline FILE, which reads INPUT with the file
# source (each OPTION a line of its options, e.g. "on_unreadable: skip") to out.jsonl, with dead
# letters in dead.jsonl.
file_pipeline() {
  local file="$1" input="$2"
  shift 2
  {
    echo "name: p"
    echo "sources:"
    echo "  in:"
    echo "    connector: file"
    echo "    path: $input"
    for option in "$@"; do echo "    $option"; done
    echo "sinks:"
    echo "  out: {connector: file, path: out.jsonl}"
    echo "dead_letters: {connector: file, path: dead.jsonl}"
  } > "$file"
}

# run_fresh PIPELINE: runs a file_pipeline with its outputs removed first.
run_fresh() {
  rm -f out.jsonl dead.jsonl
  run_sluice run --no-progress "$1"
}
