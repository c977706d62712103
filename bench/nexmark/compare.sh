#!/usr/bin/env bash
# Runs Nexmark queries on Sluice and then on Apache Flink, each pinned to the same single core,
# and prints one JSON line per query:
#   {"query": "q5", "events": N, "sluice_eps": …, "flink_eps": …, "ratio": …, "results_match": true}
#
# Each engine runs every query twice over the same N generated events (same generator, same
# seed): once timed, into a sink that discards the rows, and once writing its rows to a CSV
# file. results_match compares the two files: row count and a checksum of the sorted rows in a
# canonical notation (bench/nexmark/canonical.py). The time is each engine's own measure of its
# job (Sluice: the run in its summary line; Flink: the job's net run time), so that neither
# process start-up nor the JVM's counts.
#
#   bench/nexmark/compare.sh [--events N] [--seed S] [--core C] [--sluice-only] QUERY...
#   bench/nexmark/compare.sh --events 10000000 q0 q1 q2 q3 q4 q5 q7 q8
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
events=2000000
seed=0
core=0
sluice_only=false
queries=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --events) events="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --core) core="$2"; shift 2 ;;
    --sluice-only) sluice_only=true; shift ;;
    -h|--help) sed -n 2,15p "$0"; exit 0 ;;
    -*) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
    *) queries+=("$1"); shift ;;
  esac
done
if [[ ${#queries[@]} -eq 0 ]]; then
  echo "usage: compare.sh [--events N] [--seed S] [--core C] [--sluice-only] QUERY..." >&2
  exit 2
fi

sluice="$root/build/release/sluice"
if [[ ! -x "$sluice" ]]; then
  echo "compare.sh: building the release binary" >&2
  (cd "$root" && cmake --preset release >/dev/null && cmake --build --preset release --target sluice >/dev/null)
fi
python="$root/.deps/venv/bin/python"
[[ -x "$python" ]] || python=python3
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Prints the events/s of one Sluice run, from the seconds in its summary line.
sluice_run() {
  local query="$1"; shift
  local log="$work/$query.sluice.log"
  taskset -c "$core" "$sluice" run "$here/$query.yaml" \
    --set "sources.nexmark.events=$events" --set "sources.nexmark.seed=$seed" "$@" 2>"$log" >/dev/null \
    || { cat "$log" >&2; return 1; }
  local seconds
  seconds="$(sed -n 's/.* \([0-9.]*\) s (.*/\1/p' "$log" | tail -1)"
  [[ -n "$seconds" ]] || { cat "$log" >&2; return 1; }
  "$python" -c "print(round($events / max($seconds, 1e-9)))"
}

flink_run() {
  local query="$1"; shift
  taskset -c "$core" "$here/flink/run.sh" --query "$query" --events "$events" --seed "$seed" "$@" \
    2>"$work/$query.flink.log" | tail -1 \
    | "$python" -c 'import json, sys; print(round(json.load(sys.stdin)["eps"]))' \
    || { cat "$work/$query.flink.log" >&2; return 1; }
}

for query in "${queries[@]}"; do
  if [[ ! -f "$here/$query.yaml" ]]; then
    echo "compare.sh: no pipeline $here/$query.yaml" >&2
    exit 2
  fi
  echo "compare.sh: $query on Sluice" >&2
  sluice_eps="$(sluice_run "$query")"
  sluice_run "$query" --set sinks.out.connector=file --set "sinks.out.path=$work/$query.sluice.csv" \
    --set sinks.out.format=csv --set sinks.out.header=false >/dev/null
  sluice_digest="$("$python" "$here/canonical.py" "$work/$query.sluice.csv")"
  flink_eps=null
  ratio=null
  match=null
  if [[ "$sluice_only" == false ]]; then
    echo "compare.sh: $query on Flink" >&2
    flink_eps="$(flink_run "$query" --mode time)"
    flink_run "$query" --mode results --output "$work/$query.flink.csv" >/dev/null
    flink_digest="$("$python" "$here/canonical.py" "$work/$query.flink.csv")"
    ratio="$("$python" -c "print(round($sluice_eps / $flink_eps, 2))")"
    match=false
    [[ "$sluice_digest" == "$flink_digest" ]] && match=true
    echo "compare.sh: $query result rows and checksum: Sluice $sluice_digest, Flink $flink_digest" >&2
  else
    echo "compare.sh: $query result rows and checksum: Sluice $sluice_digest" >&2
  fi
  printf '{"query": "%s", "events": %s, "sluice_eps": %s, "flink_eps": %s, "ratio": %s, "results_match": %s}\n' \
    "$query" "$events" "$sluice_eps" "$flink_eps" "$ratio" "$match"
done
