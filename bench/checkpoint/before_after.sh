#!/usr/bin/env bash
# Before/after: the same workloads on two release binaries, alternated in one session, one core
# each, user CPU seconds (from /usr/bin/time) of the whole `sluice run`. For a change that must
# not cost an existing benchmark more than 5 %.
#   bench/checkpoint/before_after.sh OLD_SLUICE NEW_SLUICE [ROUNDS]
# Needs bench/data/quotes-10000000.parquet and bench/data/window-10000000-10000.parquet (made by
# bench/scan/run.sh and bench/window/run.sh). Prints one JSON line per workload with the median
# of ROUNDS (default 3) runs of each binary.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
old="$1"
new="$2"
rounds="${3:-3}"
workloads=(
  "scan|bench/scan/scan.yaml|"
  "tumbling|bench/window/tumbling.yaml|"
  "sliding|bench/window/sliding.yaml|"
  "nexmark_q5|bench/nexmark/q5.yaml|--set sources.nexmark.events=5000000"
  "nexmark_q7|bench/nexmark/q7.yaml|--set sources.nexmark.events=5000000"
  "nexmark_q8|bench/nexmark/q8.yaml|--set sources.nexmark.events=5000000"
)
cpu() {  # cpu BINARY PIPELINE ARGS...: user CPU seconds of one run
  local binary="$1" pipeline="$2"
  shift 2
  /usr/bin/time -f '%U' -o /tmp/sluice-before-after.time taskset -c 0 "$binary" run --no-progress \
    "$pipeline" "$@" > /dev/null 2>&1
  cat /tmp/sluice-before-after.time
}
median() { sort -g | sed -n "$(( (rounds + 1) / 2 ))p"; }
for entry in "${workloads[@]}"; do
  IFS='|' read -r name pipeline args <<< "$entry"
  old_times=()
  new_times=()
  for _ in $(seq 1 "$rounds"); do
    # shellcheck disable=SC2086
    old_times+=("$(cpu "$old" "$pipeline" $args)")
    # shellcheck disable=SC2086
    new_times+=("$(cpu "$new" "$pipeline" $args)")
  done
  before=$(printf '%s\n' "${old_times[@]}" | median)
  after=$(printf '%s\n' "${new_times[@]}" | median)
  printf '{"benchmark":"%s","before_user_seconds":%s,"after_user_seconds":%s,"before_runs":"%s","after_runs":"%s"}\n' \
    "$name" "$before" "$after" "${old_times[*]}" "${new_times[*]}"
done
