#!/usr/bin/env bash
# PostgreSQL sink benchmark: rows/s of a Parquet file written into a PostgreSQL table by the
# `postgres` sink, side by side with `psql \copy` of the same rows as CSV (the bulk loader, the
# limit), in the same script against the same server.
#
# One PostgreSQL 15 server on a free loopback port (fsync off, as in the integration tests),
# started by tests/integration/postgres/lib.sh. The input is N generator quotes (symbol, bid,
# ask, volume, ts) written once to Parquet by sluice, and once to CSV from that Parquet by
# DuckDB; neither conversion is timed. Each run empties the target table (TRUNCATE), then:
#   - sluice: `sluice run` of a file source (the Parquet file) -> postgres sink (insert mode,
#     binary COPY), whole process wall time;
#   - psql:   `psql -c "\copy t FROM 'rows.csv' (FORMAT csv, HEADER)"`, whole process wall time.
# Both write into a table of the same definition, created beforehand. Rows are checked equal
# after the last runs (same count and the same sum of volume and of bid).
#
# Usage: bench/postgres/run.sh [--rows N] [--repeat N]
#   Defaults: 1,000,000 rows, 3 repeats. Builds nothing: use a release build
#   (`cmake --preset release && cmake --build build/release --target sluice`).
#   Environment: SLUICE_BIN (default build/release/sluice).
# Prints one JSON line per engine:
#   {"benchmark":"postgres_sink","engine":"sluice"|"psql_copy","rows":N,"seconds":…,"rows_per_s":…}
# and then {"benchmark":"postgres_sink","ratio":sluice rows/s ÷ psql rows/s}. seconds is the
# median of --repeat runs, which alternate between the engines.
set -euo pipefail
export LC_ALL=C
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rows=1000000
repeat=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
sluice="$(realpath "${SLUICE_BIN:-$root/build/release/sluice}")"
[ -x "$sluice" ] || { echo "no sluice binary at $sluice (set SLUICE_BIN)" >&2; exit 2; }
python="$root/.deps/venv/bin/python"
[ -x "$python" ] || python=python3
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-postgres.XXXXXX")"
source "$root/tests/integration/postgres/lib.sh"
source "$root/tests/integration/cases.sh"
cleanup() {
  pg_stop || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
pg_setup
pg_start

cat > make.yaml <<YAML
name: make_quotes
sources:
  quotes: {connector: generator, count: $rows, symbols: 1000}
sinks:
  out: {connector: file, path: quotes.parquet}
YAML
"$sluice" run --no-progress make.yaml
"$python" -c "import duckdb; duckdb.sql(\"COPY (SELECT * FROM 'quotes.parquet') TO 'quotes.csv' (HEADER, TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S.%f+00')\")"
for table in t_sluice t_psql; do
  pg_psql -q -c "CREATE TABLE $table (symbol text, bid double precision, ask double precision, volume bigint, ts timestamptz)"
done
cat > load.yaml <<YAML
name: load_quotes
sources:
  quotes: {connector: file, path: quotes.parquet}
sinks:
  pg: {connector: postgres, url: "$(pg_url)", table: t_sluice}
YAML

# seconds COMMAND...: the wall time of COMMAND.
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

sluice_times=()
psql_times=()
for _ in $(seq 1 "$repeat"); do
  pg_psql -q -c "TRUNCATE t_sluice; TRUNCATE t_psql; CHECKPOINT" > /dev/null 2>&1 ||
    pg_psql -q -c "TRUNCATE t_sluice; TRUNCATE t_psql"
  sluice_times+=("$(seconds "$sluice" run --no-progress load.yaml)")
  psql_times+=("$(seconds pg_psql -q -c "\\copy t_psql FROM 'quotes.csv' (FORMAT csv, HEADER)")")
done

check() {
  pg_psql -At -c "SELECT count(*), sum(volume), round(sum(bid)::numeric, 3) FROM $1"
}
if [ "$(check t_sluice)" != "$(check t_psql)" ]; then
  echo "the tables differ: sluice $(check t_sluice), psql $(check t_psql)" >&2
  exit 1
fi

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
sluice_s=$(median "${sluice_times[@]}")
psql_s=$(median "${psql_times[@]}")
printf '{"benchmark":"postgres_sink","engine":"sluice","rows":%d,"seconds":%.3f,"rows_per_s":%.0f}\n' \
  "$rows" "$sluice_s" "$(echo "$rows / $sluice_s" | bc -l)"
printf '{"benchmark":"postgres_sink","engine":"psql_copy","rows":%d,"seconds":%.3f,"rows_per_s":%.0f}\n' \
  "$rows" "$psql_s" "$(echo "$rows / $psql_s" | bc -l)"
printf '{"benchmark":"postgres_sink","ratio":%.2f}\n' "$(echo "$psql_s / $sluice_s" | bc -l)"
