#!/usr/bin/env bash
# Checkpoint benchmark (not a test):
#   1. checkpoint_bench: the pipeline thread's pause to snapshot, the background write and the
#      restore, for 10 MB, 100 MB and 1 GB of window and of join state;
#   2. Nexmark q5 and q7 on one core, without checkpoints and with a checkpoint every 10 s and
#      every 1 s: throughput (events/s from the run's own summary line), median of --repeat runs,
#      and the ratio to the run without checkpoints (goal: above 0.95).
#
#   bench/checkpoint/run.sh [--events N] [--repeat R] [--sizes 10MB,100MB,1GB | none]
# Builds the release preset's `sluice` and `checkpoint_bench` when missing. Prints JSON lines.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
events=10000000
repeat=3
sizes=10MB,100MB,1GB
while [[ $# -gt 0 ]]; do
  case "$1" in
    --events) events="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
sluice="$root/build/release/sluice"
bench="$root/build/release/bench/checkpoint_bench"
if [[ ! -x "$sluice" || ! -x "$bench" ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target sluice checkpoint_bench >/dev/null
fi
python="$root/.deps/venv/bin/python"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

[[ "$sizes" == none ]] || taskset -c 0 "$bench" --sizes "$sizes" --dir "$work/bench-state"

# seconds QUERY [ARGS...]: the run's seconds from its summary line.
seconds() {
  local query="$1"; shift
  taskset -c 0 "$sluice" run --no-progress "bench/nexmark/$query.yaml" \
    --set "sources.nexmark.events=$events" "$@" 2> "$work/log" > /dev/null || { cat "$work/log" >&2; exit 1; }
  sed -n "s/^sluice: pipeline .* \([0-9.]*\) s (.*/\1/p" "$work/log" | tail -n 1
}
for query in q5 q7; do
  declare -A median=()
  for mode in none 10s 1s; do
    runs=()
    for _ in $(seq 1 "$repeat"); do
      rm -rf "$work/state"
      if [[ "$mode" == none ]]; then
        runs+=("$(seconds "$query")")
      else
        runs+=("$(seconds "$query" --checkpoint-dir "$work/state" --set "checkpoint.interval=$mode")")
      fi
    done
    median[$mode]=$(printf '%s\n' "${runs[@]}" | sort -g | sed -n "$(( (repeat + 1) / 2 ))p")
  done
  "$python" - "$query" "$events" "${median[none]}" "${median[10s]}" "${median[1s]}" <<'PY'
import json, sys
query, events = sys.argv[1], int(sys.argv[2])
none, every10, every1 = (float(x) for x in sys.argv[3:6])
print(json.dumps({
    "benchmark": "checkpoint_nexmark", "query": query, "events": events,
    "events_per_s_without": round(events / none),
    "events_per_s_every_10s": round(events / every10),
    "events_per_s_every_1s": round(events / every1),
    "ratio_every_10s": round(none / every10, 3),
    "ratio_every_1s": round(none / every1, 3),
}))
PY
  unset median
done
