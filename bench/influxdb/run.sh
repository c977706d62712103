#!/usr/bin/env bash
# InfluxDB benchmark: rows/s into InfluxDB 1.x through the `influxdb` sink, side by side with
# curl posting the same points as pre-rendered line protocol, in requests of the same size, as
# the limit (the server's own ingest rate over HTTP).
#
# One influxd (authentication off, WAL fsync as configured by default, data in a temporary
# folder) on free loopback ports. The input is N generator quotes (symbol, bid, ask, volume, ts)
# written once to a Parquet file; each point is measurement quotes, tag symbol, fields bid, ask,
# volume, time in ms.
#   - sluice: `sluice run` of a file source (the Parquet file) -> influxdb sink, batch_rows B.
#     The time includes reading the Parquet file and rendering line protocol.
#   - curl: the same points rendered beforehand (by Python) into files of B lines, posted in
#     sequence by one curl process over one kept-alive connection (--next). The time is only the
#     posting.
# Each round writes into a fresh database (DROP / CREATE), so both write new series and points.
# Rounds alternate sluice and curl; the median of --repeat rounds is reported.
#
# Usage: bench/influxdb/run.sh [--rows N] [--batch B] [--repeat R] [--gzip]
#   Defaults: 500,000 rows, batch 5000, 3 repeats. Builds nothing: use a release build.
#   Environment: SLUICE_BIN (default build/release/sluice).
# Prints one JSON line per writer:
#   {"benchmark":"influxdb_write","writer":"sluice"|"curl","rows":N,"batch":B,"seconds":…,
#    "rows_per_s":…}
# and then {"benchmark":"influxdb_write","ratio":sluice rows/s ÷ curl rows/s}.
set -euo pipefail
export LC_ALL=C
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rows=500000
batch=5000
repeat=3
gzip=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) rows="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --gzip) gzip=true; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
sluice="$(realpath "${SLUICE_BIN:-$root/build/release/sluice}")"
[ -x "$sluice" ] || { echo "no sluice binary at $sluice (set SLUICE_BIN)" >&2; exit 2; }
command -v influxd > /dev/null || { echo "influxd is not installed" >&2; exit 2; }
python="$root/.deps/venv/bin/python"
[ -x "$python" ] || python=python3
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-influxdb.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2> /dev/null || true
    wait "$server_pid" 2> /dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)
cat > influxdb.conf <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$(free_port)"
[meta]
  dir = "$work/meta"
[data]
  dir = "$work/data"
  wal-dir = "$work/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$port"
  log-enabled = false
[logging]
  level = "warn"
  suppress-logo = true
[continuous_queries]
  enabled = false
CONF
influxd -config influxdb.conf > influxd.log 2>&1 &
server_pid=$!
for _ in $(seq 1 200); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/ping" && break
  sleep 0.05
done
query() {
  curl -sf -XPOST "http://127.0.0.1:$port/query" --data-urlencode "q=$1" > /dev/null
}

# The input, once.
cat > make_input.yaml <<YAML
name: make-input
sources:
  quotes: {connector: generator, count: $rows, symbols: 100}
sinks:
  out: {connector: file, path: quotes.parquet}
YAML
"$sluice" run --no-progress make_input.yaml 2> /dev/null
# The same points as line protocol, in files of $batch lines.
"$python" - "$batch" <<'PY'
import sys
import pyarrow as pa
import pyarrow.parquet as pq
batch = int(sys.argv[1])
table = pq.read_table("quotes.parquet")
symbols = table.column("symbol").to_pylist()
bids = table.column("bid").to_pylist()
asks = table.column("ask").to_pylist()
volumes = table.column("volume").to_pylist()
times = table.column("ts").cast(pa.timestamp("ms", "UTC")).cast(pa.int64()).to_pylist()
lines = [f"quotes,symbol={s} ask={repr(float(a))},bid={repr(float(b))},volume={v}i {t}\n"
         for s, b, a, v, t in zip(symbols, bids, asks, volumes, times)]
with open("curl.cfg", "w") as config:
    for part in range(0, len(lines), batch):
        name = f"part-{part // batch:06d}.lp"
        with open(name, "w") as out:
            out.writelines(lines[part:part + batch])
        if part:
            config.write("next\n")
        config.write(f'url = "WRITE_URL"\ndata-binary = "@{name}"\n'
                     'header = "Content-Type: text/plain"\nsilent\nfail\n'
                     'output = "/dev/null"\n')
PY
if [ "$gzip" = true ]; then
  for part in part-*.lp; do gzip -1 -k "$part"; done
  sed -i 's/\.lp"$/.lp.gz"/; s#^header = "Content-Type: text/plain"#header = "Content-Encoding: gzip"#' curl.cfg
fi
sed -i "s#WRITE_URL#http://127.0.0.1:$port/write?db=bench\&precision=ms#" curl.cfg

cat > sluice.yaml <<YAML
name: influx-bench
sources:
  quotes: {connector: file, path: quotes.parquet}
sinks:
  influx:
    connector: influxdb
    url: http://127.0.0.1:$port
    database: bench
    measurement: quotes
    tags: [symbol]
    fields: [ask, bid, volume]
    time: ts
    precision: ms
    batch_rows: $batch
    batch_bytes: 64MB
    gzip: $gzip
YAML

now() { date +%s%N; }
count_points() {
  curl -sf -G "http://127.0.0.1:$port/query" --data-urlencode "db=bench" \
    --data-urlencode "q=SELECT count(bid) FROM quotes" |
    "$python" -c 'import json, sys; print(json.load(sys.stdin)["results"][0]["series"][0]["values"][0][1])'
}
sluice_times=()
curl_times=()
for round in $(seq 1 "$repeat"); do
  for writer in sluice curl; do
    query "DROP DATABASE bench"
    query "CREATE DATABASE bench"
    begin=$(now)
    if [ "$writer" = sluice ]; then
      "$sluice" run --no-progress sluice.yaml 2> sluice.log
    else
      curl --config curl.cfg
    fi
    seconds=$("$python" -c "print(($(now) - $begin) / 1e9)")
    points=$(count_points)
    if [ "$points" -ne "$rows" ]; then
      echo "round $round: $writer wrote $points points, not $rows" >&2
      exit 1
    fi
    if [ "$writer" = sluice ]; then sluice_times+=("$seconds"); else curl_times+=("$seconds"); fi
  done
done
"$python" - "$rows" "$batch" "${sluice_times[*]}" "${curl_times[*]}" <<'PY'
import json, statistics, sys
rows, batch = int(sys.argv[1]), int(sys.argv[2])
rates = {}
for writer, times in (("sluice", sys.argv[3]), ("curl", sys.argv[4])):
    seconds = statistics.median(float(t) for t in times.split())
    rates[writer] = rows / seconds
    print(json.dumps({"benchmark": "influxdb_write", "writer": writer, "rows": rows,
                      "batch": batch, "seconds": round(seconds, 3),
                      "rows_per_s": round(rows / seconds)}))
print(json.dumps({"benchmark": "influxdb_write", "ratio": round(rates["sluice"] / rates["curl"], 3)}))
PY
