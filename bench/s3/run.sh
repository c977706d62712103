#!/usr/bin/env bash
# S3 benchmark: reading a Parquet dataset from a local S3 server against reading the same files
# from local disk, and against pyarrow.dataset reading the same prefix; writing rolling Parquet
# part objects to S3 against pyarrow writing the same rows there. Same script, same server, same
# machine, interleaved rounds.
#
# The server: versitygw (the S3 gateway the integration tests use, built by
# scripts/bootstrap.sh) over a scratch folder on 127.0.0.1, started once by this script.
# The data: N rows (id int64, ts timestamp[us], device string of 1,000 values, value double,
# ok bool) in 20 Parquet files of row groups of 64 Ki rows, written by DuckDB (snappy), uploaded
# once under s3://bench/data/.
#
# Each round, in turn:
#   read:
#   - sluice_local: `sluice run`, file source over data/*.parquet -> blackhole sink
#   - sluice_s3:    the same over s3://bench/data/*.parquet
#   - pyarrow_s3_1_thread / pyarrow_s3: pyarrow.dataset over the same prefix, iterating every
#     batch (to_batches), with one CPU and one I/O thread, then with pyarrow's defaults
#   write:
#   - sluice_write_s3: `sluice run`, local files -> file sink writing rolling Parquet part
#     objects (s3://bench/out-sluice/part-{part}.parquet, roll size 64MB), one run
#   - pyarrow_write_s3: pyarrow reading the local files and writing one Parquet object per input
#     file (pq.ParquetWriter on an S3 output stream), one thread
# Times are whole processes (start, read, write, close), median of --repeat rounds. Every reader
# must see N rows, every writer must leave N rows under its prefix (checked with pyarrow).
#
# Usage: bench/s3/run.sh [--rows N] [--repeat N]
#   Defaults: 10,000,000 rows, 3 rounds. Builds nothing: use a release build
#   (`cmake --preset release && cmake --build build/release --target sluice`).
#   Environment: SLUICE_BIN (default build/release/sluice), VERSITYGW (default
#   .deps/go/bin/versitygw).
# Prints one JSON line per configuration:
#   {"benchmark":"s3","case":…,"rows":N,"seconds":…,"rows_per_s":…}
# then {"benchmark":"s3","s3_to_local":…,"s3_to_pyarrow_1_thread":…,"s3_to_pyarrow":…,
#       "write_to_pyarrow":…} (ratios of rows/s; above 1 is Sluice faster).
set -euo pipefail
export LC_ALL=C
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rows=10000000
repeat=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    -h|--help) sed -n '2,38p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
sluice="$(realpath "${SLUICE_BIN:-$root/build/release/sluice}")"
[ -x "$sluice" ] || { echo "no sluice binary at $sluice (set SLUICE_BIN)" >&2; exit 2; }
versitygw="${VERSITYGW:-$root/.deps/go/bin/versitygw}"
[ -x "$versitygw" ] || { echo "no versitygw at $versitygw (scripts/bootstrap.sh builds it)" >&2; exit 2; }
python="$root/.deps/venv/bin/python"
[ -x "$python" ] || python=python3
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-s3.XXXXXX")"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2> /dev/null && wait "$server_pid" 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p store
"$versitygw" --access benchaccess --secret bench-secret-1 --port "127.0.0.1:$port" \
  posix "$work/store" > versitygw.log 2>&1 &
server_pid=$!
export AWS_ACCESS_KEY_ID=benchaccess AWS_SECRET_ACCESS_KEY=bench-secret-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
for _ in $(seq 1 100); do
  "$python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2> /dev/null && break
  sleep 0.1
done

# The dataset, written locally by DuckDB and uploaded once.
"$python" - "$rows" <<'PY'
import os, sys, duckdb
rows, files = int(sys.argv[1]), 20
os.makedirs("data")
con = duckdb.connect()
per = rows // files
for f in range(files):
    first, count = f * per, per if f < files - 1 else rows - f * per
    con.execute(f"""
    COPY (
      SELECT CAST(i AS BIGINT) AS id,
             TIMESTAMP '2026-01-01 00:00:00' + to_microseconds(i * 1000) AS ts,
             'dev-' || CAST(hash(i) % 1000 AS VARCHAR) AS device,
             (hash(i + 1) % 100000) / 100.0 AS value,
             i % 3 = 0 AS ok
      FROM range({first}, {first + count}) r(i)
    ) TO 'data/part-{f:02d}.parquet' (FORMAT parquet, ROW_GROUP_SIZE 65536)""")
PY
"$python" - "$port" <<'PY'
import os, sys
import pyarrow.fs as pfs
fs = pfs.S3FileSystem(access_key="benchaccess", secret_key="bench-secret-1", scheme="http",
                      endpoint_override=f"127.0.0.1:{sys.argv[1]}", region="us-east-1",
                      allow_bucket_creation=True)
fs.create_dir("bench")
for name in sorted(os.listdir("data")):
    with open(f"data/{name}", "rb") as src, fs.open_output_stream(f"bench/data/{name}") as dst:
        dst.write(src.read())
PY
bytes_total=$(du -cb data/*.parquet | tail -n 1 | cut -f1)

pipeline() {  # pipeline FILE INPUT SINK
  cat > "$1" <<YAML
name: bench-s3
sources:
  rows: {connector: file, path: "$2", batch_size: 65536}
sinks:
  out: $3
YAML
}
pipeline read-local.yaml "data/*.parquet" "{connector: blackhole}"
pipeline read-s3.yaml "s3://bench/data/*.parquet" "{connector: blackhole}"
pipeline write-s3.yaml "data/*.parquet" \
  "{connector: file, path: \"s3://bench/out-sluice/part-{part}.parquet\", roll: {size: 64MB}}"

# run_sluice FILE: runs it and checks its summary counts every row.
run_sluice() {
  "$sluice" run --no-progress "$1" 2> sluice.log || { cat sluice.log >&2; exit 1; }
  grep -q "finished: $rows rows in" sluice.log ||
    { echo "sluice ($1) did not read $rows rows:" >&2; cat sluice.log >&2; exit 1; }
}

# run_pyarrow_read THREADS: 0 for pyarrow's defaults.
run_pyarrow_read() {
  "$python" - "$1" "$port" "$rows" <<'PY'
import sys
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pfs
threads, port, rows = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if threads:
    pa.set_cpu_count(threads)
    pa.set_io_thread_count(threads)
fs = pfs.S3FileSystem(access_key="benchaccess", secret_key="bench-secret-1", scheme="http",
                      endpoint_override=f"127.0.0.1:{port}", region="us-east-1")
seen = sum(b.num_rows for b in ds.dataset("bench/data", filesystem=fs, format="parquet")
           .to_batches(batch_size=65536, use_threads=threads != 1))
assert seen == rows, f"pyarrow read {seen} rows"
PY
}

run_pyarrow_write() {
  "$python" - "$port" <<'PY'
import os, sys
import pyarrow as pa
import pyarrow.fs as pfs
import pyarrow.parquet as pq
pa.set_cpu_count(1)
pa.set_io_thread_count(1)
fs = pfs.S3FileSystem(access_key="benchaccess", secret_key="bench-secret-1", scheme="http",
                      endpoint_override=f"127.0.0.1:{sys.argv[1]}", region="us-east-1")
for name in sorted(os.listdir("data")):
    source = pq.ParquetFile(f"data/{name}")
    with fs.open_output_stream(f"bench/out-pyarrow/{name}") as out:
        with pq.ParquetWriter(out, source.schema_arrow) as writer:
            for batch in source.iter_batches(batch_size=65536, use_threads=False):
                writer.write_batch(batch)
PY
}

# count_under PREFIX: the rows of every Parquet object under PREFIX.
count_under() {
  "$python" - "$port" "$1" <<'PY'
import sys
import pyarrow.dataset as ds
import pyarrow.fs as pfs
fs = pfs.S3FileSystem(access_key="benchaccess", secret_key="bench-secret-1", scheme="http",
                      endpoint_override=f"127.0.0.1:{sys.argv[1]}", region="us-east-1")
print(ds.dataset(sys.argv[2], filesystem=fs, format="parquet").count_rows())
PY
}

clear_prefix() {
  rm -rf "store/bench/$1"
}

timed() {
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

declare -A times
for round in $(seq 1 "$repeat"); do
  times[sluice_local]+="$(timed run_sluice read-local.yaml) "
  times[sluice_s3]+="$(timed run_sluice read-s3.yaml) "
  times[pyarrow_s3_1_thread]+="$(timed run_pyarrow_read 1) "
  times[pyarrow_s3]+="$(timed run_pyarrow_read 0) "
  clear_prefix out-sluice
  times[sluice_write_s3]+="$(timed run_sluice write-s3.yaml) "
  clear_prefix out-pyarrow
  times[pyarrow_write_s3]+="$(timed run_pyarrow_write) "
done
[ "$(count_under bench/out-sluice)" == "$rows" ] || { echo "sluice wrote $(count_under bench/out-sluice) rows" >&2; exit 1; }
[ "$(count_under bench/out-pyarrow)" == "$rows" ] || { echo "pyarrow wrote $(count_under bench/out-pyarrow) rows" >&2; exit 1; }

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
declare -A rate
for case in sluice_local sluice_s3 pyarrow_s3_1_thread pyarrow_s3 sluice_write_s3 pyarrow_write_s3; do
  seconds="$(echo "${times[$case]}" | median)"
  rate[$case]="$(echo "$rows / $seconds" | bc -l)"
  printf '{"benchmark":"s3","case":"%s","rows":%d,"bytes":%d,"seconds":%.3f,"rows_per_s":%.0f}\n' \
    "$case" "$rows" "$bytes_total" "$seconds" "${rate[$case]}"
done
printf '{"benchmark":"s3","s3_to_local":%.3f,"s3_to_pyarrow_1_thread":%.3f,"s3_to_pyarrow":%.3f,"write_to_pyarrow":%.3f}\n' \
  "$(echo "${rate[sluice_s3]} / ${rate[sluice_local]}" | bc -l)" \
  "$(echo "${rate[sluice_s3]} / ${rate[pyarrow_s3_1_thread]}" | bc -l)" \
  "$(echo "${rate[sluice_s3]} / ${rate[pyarrow_s3]}" | bc -l)" \
  "$(echo "${rate[sluice_write_s3]} / ${rate[pyarrow_write_s3]}" | bc -l)"
