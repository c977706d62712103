#!/usr/bin/env bash
# DuckDB sink benchmark: a Parquet file into a table of a fresh DuckDB database file, by
# `sluice run` (file source -> duckdb sink) and by DuckDB itself (`COPY t FROM 'file.parquet'`,
# the limit: the same engine reading the file with its own Parquet reader), in the same run.
#
# The input: N rows of quotes (symbol string, bid and ask double, volume int64, ts
# timestamp[us, UTC]), written once by DuckDB in row groups of 64 Ki rows. Each round, in
# turn (interleaved, so that drift of the machine hits both alike):
#   - sluice: `sluice run` of a file source (Parquet, batch_size 65536) -> duckdb sink
#     (create_table, mode insert): one INSERT ... SELECT per batch through DuckDB's Arrow scan,
#     one transaction per batch. The time is the whole process: start, read, write, close.
#   - duckdb: DuckDB (Python package, same 1.4 line as the embedded library) creating the table
#     and running COPY t FROM the file, then closing the database (which checkpoints it), in
#     a fresh process. Run twice: with threads=1 (as the sink's database) and with DuckDB's
#     default threads (every core).
# Each configuration's time is the median of --repeat rounds.
#
# Usage: bench/duckdb_sink/run.sh [--rows N] [--repeat N]
#   Defaults: 5,000,000 rows, 3 rounds. Builds nothing: use a release build
#   (`cmake --preset release && cmake --build build/release --target sluice`).
#   Environment: SLUICE_BIN (default build/release/sluice).
# Prints one JSON line per configuration:
#   {"benchmark":"duckdb_sink","writer":"sluice"|"duckdb_copy_1_thread"|"duckdb_copy",
#    "rows":N,"seconds":…,"rows_per_s":…}
# then {"benchmark":"duckdb_sink","ratio_to_copy_1_thread":…,"ratio_to_copy":…}.
set -euo pipefail
export LC_ALL=C
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rows=5000000
repeat=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
sluice="$(realpath "${SLUICE_BIN:-$root/build/release/sluice}")"
[ -x "$sluice" ] || { echo "no sluice binary at $sluice (set SLUICE_BIN)" >&2; exit 2; }
python="$root/.deps/venv/bin/python"
[ -x "$python" ] || python=python3
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-duckdb.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"

"$python" - "$rows" <<'PY'
import sys, duckdb
rows = int(sys.argv[1])
duckdb.connect().execute(f"""
COPY (
  SELECT 'SYM' || lpad(CAST(hash(i) % 200 AS VARCHAR), 3, '0') AS symbol,
         round(10 + (hash(i + 1) % 49000) / 100.0, 2) - 0.01 AS bid,
         round(10 + (hash(i + 1) % 49000) / 100.0, 2) + 0.01 AS ask,
         CAST(1 + hash(i + 2) % 9999 AS BIGINT) AS volume,
         TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_microseconds(i * 1000) AS ts
  FROM range({rows}) r(i)
) TO 'quotes.parquet' (FORMAT parquet, ROW_GROUP_SIZE 65536)""")
PY

cat > sink.yaml <<'YAML'
name: bench-duckdb-sink
sources:
  quotes: {connector: file, path: quotes.parquet, batch_size: 65536}
sinks:
  store: {connector: duckdb, path: sluice.duckdb, table: quotes, create_table: true}
YAML

run_sluice() {
  rm -f sluice.duckdb sluice.duckdb.wal
  "$sluice" run --no-progress sink.yaml 2> sluice.log || { cat sluice.log >&2; exit 1; }
}

# run_copy THREADS: 0 for DuckDB's default.
run_copy() {
  rm -f copy.duckdb copy.duckdb.wal
  "$python" - "$1" <<'PY'
import sys, duckdb
threads = int(sys.argv[1])
db = duckdb.connect("copy.duckdb")
if threads:
    db.execute(f"SET threads = {threads}")
db.execute("CREATE TABLE quotes (symbol VARCHAR, bid DOUBLE, ask DOUBLE, volume BIGINT, "
           "ts TIMESTAMPTZ)")
db.execute("COPY quotes FROM 'quotes.parquet' (FORMAT parquet)")
db.close()
PY
}

count() {
  "$sluice" query "$1" "SELECT count(*) FROM quotes" --format csv | tail -n 1
}

timed() {
  local start end
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

declare -A times
for round in $(seq 1 "$repeat"); do
  times[sluice]+="$(timed run_sluice) "
  times[duckdb_copy_1_thread]+="$(timed run_copy 1) "
  times[duckdb_copy]+="$(timed run_copy 0) "
done
[ "$(count sluice.duckdb)" == "$rows" ] || { echo "sluice wrote $(count sluice.duckdb) rows, not $rows" >&2; exit 1; }
[ "$(count copy.duckdb)" == "$rows" ] || { echo "COPY wrote $(count copy.duckdb) rows" >&2; exit 1; }

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
declare -A rate
for writer in sluice duckdb_copy_1_thread duckdb_copy; do
  seconds="$(echo "${times[$writer]}" | median)"
  rate[$writer]="$(echo "$rows / $seconds" | bc -l)"
  printf '{"benchmark":"duckdb_sink","writer":"%s","rows":%d,"seconds":%.3f,"rows_per_s":%.0f}\n' \
    "$writer" "$rows" "$seconds" "${rate[$writer]}"
done
printf '{"benchmark":"duckdb_sink","ratio_to_copy_1_thread":%.3f,"ratio_to_copy":%.3f}\n' \
  "$(echo "${rate[sluice]} / ${rate[duckdb_copy_1_thread]}" | bc -l)" \
  "$(echo "${rate[sluice]} / ${rate[duckdb_copy]}" | bc -l)"
