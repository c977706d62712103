#!/usr/bin/env bash
# Runs one declarative pipeline case (tests/pipelines/<area>/<case>/):
#   pipeline.yaml           the pipeline; it reads inputs relative to the case folder and writes
#                           to ${OUT}/... (OUT is a fresh work folder)
#   expected.jsonl          the exact rows expected in ${OUT}/output.jsonl
#   expected_dead_letters.jsonl  (optional) the dead letters expected in ${OUT}/dead_letters.jsonl,
#                           compared without their `rejected_at` column
#   expected_error.txt      (instead) `sluice validate` must exit 2 and print exactly this first line
#   args                    (optional) extra arguments for `sluice run`, e.g. --set ...
#   unordered               (optional, empty) compare rows in any order: for cases with several
#                           sources, whose threads deliver in no fixed order
# usage: run_pipeline_case.sh SLUICE_BINARY CASE_DIR WORK_DIR
set -euo pipefail
sluice="$1" case_dir="$2" work="$3"
rm -rf "$work" && mkdir -p "$work"
export OUT="$work"
cd "$case_dir"
compare="$(dirname "${BASH_SOURCE[0]}")/compare_jsonl.py"
python=python3
[ -x "$(dirname "${BASH_SOURCE[0]}")/../.deps/venv/bin/python" ] && python="$(dirname "${BASH_SOURCE[0]}")/../.deps/venv/bin/python"

if [ -f expected_error.txt ]; then
  set +e
  "$sluice" validate pipeline.yaml 2> "$work/stderr.txt"
  code=$?
  set -e
  if [ "$code" -ne 2 ]; then
    echo "expected exit status 2 from validate, got $code"; cat "$work/stderr.txt"; exit 1
  fi
  if ! diff <(head -n "$(wc -l < expected_error.txt)" "$work/stderr.txt") expected_error.txt; then
    echo "validate printed a different error (above: < actual, > expected)"; exit 1
  fi
  echo "1 passed, 0 failed"
  exit 0
fi

extra=()
[ -f args ] && read -r -a extra < args
"$sluice" run --no-progress pipeline.yaml "${extra[@]}" 2> "$work/stderr.txt" || {
  echo "sluice run failed:"; cat "$work/stderr.txt"; exit 1; }
order=()
[ -f unordered ] && order=(--unordered)
"$python" "$compare" "${order[@]}" expected.jsonl "$work/output.jsonl"
if [ -f expected_dead_letters.jsonl ]; then
  "$python" "$compare" --ignore rejected_at expected_dead_letters.jsonl "$work/dead_letters.jsonl"
fi
echo "1 passed, 0 failed"
