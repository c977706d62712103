#!/usr/bin/env bash
# Scan benchmark: filter + derive + select over a 10-million-row Parquet file, Sluice beside
# DuckDB running the same query on the same machine in the same run.
#
# Usage: bench/scan/run.sh [--rows N] [--repeat N]
#   Builds nothing: run `cmake --preset release && cmake --build build/release` first. Without
#   the release binary only the DuckDB half runs, and the Sluice fields are null.
#   Environment: SLUICE_BIN (default build/release/sluice), PYTHON (default .deps/venv/bin/python).
#
# Prints one JSON line per configuration:
#   {"benchmark":"scan","threads":"1"|"default","rows":N,"output_rows":M,
#    "sluice_seconds":…,"duckdb_seconds":…,"sluice_rows_per_s":…,"duckdb_rows_per_s":…,"ratio":…}
# where rows/s counts input rows, each time is the best of --repeat runs, and ratio is Sluice's
# rows/s over DuckDB's (above 1: Sluice faster). "1" pins both engines to CPU 0 with taskset
# and sets DuckDB to one thread; "default" leaves both engines their default threads.
# Sluice's time is the whole `sluice run` process; DuckDB's is the query inside a session.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

rows=10000000
repeat=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

python="${PYTHON:-$root/.deps/venv/bin/python}"
sluice="${SLUICE_BIN:-$root/build/release/sluice}"
data="$root/bench/data/quotes-$rows.parquet"

if [[ ! -f "$data" ]]; then
  mkdir -p "$(dirname "$data")"
  echo "writing $data ($rows rows)..." >&2
  "$python" "$root/bench/scan/make_data.py" "$data" --rows "$rows"
fi

# Best wall-clock seconds of $repeat runs of a command.
best_of() {
  "$python" - "$repeat" "$@" <<'PY'
import subprocess, sys, time
repeat, command = int(sys.argv[1]), sys.argv[2:]
best = None
for _ in range(repeat):
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    best = elapsed if best is None else min(best, elapsed)
print(best)
PY
}

run_configuration() {
  local label="$1" duckdb_threads="$2"
  shift 2
  local pin=("$@")  # taskset prefix, or nothing
  local sluice_seconds=null
  if [[ -x "$sluice" ]]; then
    sluice_seconds=$(SLUICE_BENCH_DATA="$data" best_of "${pin[@]}" "$sluice" run "$root/bench/scan/scan.yaml")
  else
    echo "no Sluice binary at $sluice: measuring DuckDB only" >&2
  fi
  local duckdb_json
  duckdb_json=$("${pin[@]}" "$python" "$root/bench/scan/duckdb_scan.py" "$data" \
                --threads "$duckdb_threads" --repeat "$repeat")
  "$python" - "$label" "$sluice_seconds" "$duckdb_json" <<'PY'
import json, sys
label, sluice_seconds, duckdb = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
rows = duckdb["rows"]
sluice_seconds = None if sluice_seconds == "null" else float(sluice_seconds)
sluice_rate = rows / sluice_seconds if sluice_seconds else None
duckdb_rate = rows / duckdb["seconds"]
print(json.dumps({
    "benchmark": "scan", "threads": label, "duckdb_threads": duckdb["threads"], "rows": rows,
    "output_rows": duckdb["output_rows"],
    "sluice_seconds": sluice_seconds, "duckdb_seconds": round(duckdb["seconds"], 4),
    "sluice_rows_per_s": round(sluice_rate) if sluice_rate else None,
    "duckdb_rows_per_s": round(duckdb_rate),
    "ratio": round(sluice_rate / duckdb_rate, 3) if sluice_rate else None,
}))
PY
}

run_configuration 1 1 taskset -c 0
run_configuration default 0
