#!/usr/bin/env bash
# Runs every Nexmark query pipeline in bench/nexmark/ over 100,000 events (seed 0) and checks
# its result against Apache Flink's result for the same events: the row count and checksum of
# the sorted, canonical rows (bench/nexmark/canonical.py), recorded in flink_results_100k.txt
# from bench/nexmark/compare.sh. A query whose pipeline changes meaning fails here.
#
# usage: queries.sh SLUICE_BINARY
set -euo pipefail
sluice="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="$root/.deps/venv/bin/python"
[[ -x "$python" ]] || python=python3
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
while read -r query rows digest; do
  [[ -z "$query" || "$query" == \#* ]] && continue
  "$sluice" run --no-progress "$root/bench/nexmark/$query.yaml" \
    --set sources.nexmark.events=100000 --set sources.nexmark.seed=0 \
    --set sinks.out.connector=file --set "sinks.out.path=$work/$query.csv" \
    --set sinks.out.format=csv --set sinks.out.header=false 2>"$work/$query.log" \
    || { echo "$query: sluice run failed"; cat "$work/$query.log"; failed=$((failed + 1)); continue; }
  actual="$("$python" "$root/bench/nexmark/canonical.py" "$work/$query.csv")"
  if [[ "$actual" == "$rows $digest" ]]; then
    passed=$((passed + 1))
  else
    echo "$query: Flink has $rows rows ($digest), Sluice $actual"
    failed=$((failed + 1))
  fi
done < "$here/flink_results_100k.txt"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
