#!/usr/bin/env bash
# Window benchmark: keyed tumbling (5 s) and sliding (10 s every 2 s) windows over a Parquet file
# of events, Sluice beside DuckDB computing the same result on the same machine in the same run.
#
# Usage: bench/window/run.sh [--events N] [--keys K] [--repeat N]
#   Defaults: 10,000,000 events, 10,000 keys (int64), 3 repeats. Writes
#   bench/data/window-<N>-<K>.parquet once. Builds nothing: run `cmake --preset release &&
#   cmake --build build/release --target sluice` first. Without the release binary only the
#   DuckDB half runs, and the Sluice fields are null.
#   Environment: SLUICE_BIN (default build/release/sluice), PYTHON (default .deps/venv/bin/python).
#
# Prints one JSON line per workload:
#   {"benchmark":"window_tumbling"|"window_sliding","events":N,"keys":K,
#    "sluice_seconds":…,"duckdb_seconds":…,"sluice_events_per_s":…,"duckdb_events_per_s":…,
#    "ratio":…,"output_rows_sluice":…,"output_rows_duckdb":…}
# Both engines run on one CPU: `taskset -c 0`, and DuckDB with threads = 1. Each time is the
# best of --repeat runs; events/s counts input events; ratio is Sluice's events/s over
# DuckDB's (above 1: Sluice faster). Sluice's time is the whole `sluice run` process (blackhole
# sink); DuckDB's is the query inside a session, materialised with CREATE TEMP TABLE AS. The
# output row counts must agree: the script exits 1 when they do not.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

events=10000000
keys=10000
repeat=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --events) events="$2"; shift 2 ;;
    --keys) keys="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

python="${PYTHON:-$root/.deps/venv/bin/python}"
sluice="${SLUICE_BIN:-$root/build/release/sluice}"
data="$root/bench/data/window-$events-$keys.parquet"

if [[ ! -f "$data" ]]; then
  mkdir -p "$(dirname "$data")"
  echo "writing $data ($events events, $keys keys)..." >&2
  "$python" "$root/bench/window/make_data.py" "$data" --events "$events" --keys "$keys"
fi

# Best wall-clock seconds of $repeat runs of `sluice run`, and the output rows of its summary
# line, as JSON.
sluice_best_of() {
  "$python" - "$repeat" "$@" <<'PY'
import json, re, subprocess, sys, time
repeat, command = int(sys.argv[1]), sys.argv[2:]
best, rows_out = None, None
for _ in range(repeat):
    started = time.perf_counter()
    done = subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    best = elapsed if best is None else min(best, elapsed)
    match = re.search(r"(\d+) rows out", done.stderr)
    rows_out = int(match.group(1)) if match else None
print(json.dumps({"seconds": best, "output_rows": rows_out}))
PY
}

status=0
for window in tumbling sliding; do
  sluice_json=null
  if [[ -x "$sluice" ]]; then
    sluice_json=$(SLUICE_BENCH_DATA="$data" sluice_best_of taskset -c 0 "$sluice" run --no-progress \
                  "$root/bench/window/$window.yaml")
  else
    echo "no Sluice binary at $sluice: measuring DuckDB only" >&2
  fi
  duckdb_json=$(taskset -c 0 "$python" "$root/bench/window/duckdb_window.py" "$data" --window "$window" \
                --threads 1 --repeat "$repeat")
  "$python" - "$window" "$keys" "$sluice_json" "$duckdb_json" <<'PY' || status=1
import json, sys
window, keys, sluice, duckdb = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
events = duckdb["events"]
sluice_rate = events / sluice["seconds"] if sluice else None
duckdb_rate = events / duckdb["seconds"]
print(json.dumps({
    "benchmark": f"window_{window}", "events": events, "keys": keys,
    "sluice_seconds": round(sluice["seconds"], 4) if sluice else None,
    "duckdb_seconds": round(duckdb["seconds"], 4),
    "sluice_events_per_s": round(sluice_rate) if sluice else None,
    "duckdb_events_per_s": round(duckdb_rate),
    "ratio": round(sluice_rate / duckdb_rate, 3) if sluice else None,
    "output_rows_sluice": sluice["output_rows"] if sluice else None,
    "output_rows_duckdb": duckdb["output_rows"],
}))
if sluice and sluice["output_rows"] != duckdb["output_rows"]:
    sys.exit(f"window_{window}: Sluice wrote {sluice['output_rows']} rows, DuckDB {duckdb['output_rows']}")
PY
done
exit "$status"
