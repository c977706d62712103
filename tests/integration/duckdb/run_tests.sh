#!/usr/bin/env bash
# The duckdb sink, source and `sluice query` end to end, with the `sluice` binary: a file into a
# store, upserts from an aggregate equal to a batch GROUP BY whatever the batch size, SIGKILLs
# of a checkpointed run that leave exactly the uninterrupted run's rows, refused rows as dead
# letters (conservation), and clear errors (locked file, missing table, bad query). DuckDB is
# embedded: no server to start, nothing to skip.
#   run_tests.sh SLUICE_BINARY [CASE...]   (cases by function name; all when none given)
set -euo pipefail
export LC_ALL=C
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
sluice="$(realpath "$1")"
shift
python="$root/.deps/venv/bin/python"
[ -x "$python" ] || python=python3
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-duckdb.XXXXXX")"
source "$root/tests/kill_repeatedly.sh"
background=""
cleanup() {
  [ -n "$background" ] && kill -KILL "$background" 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
# expect NAME EXPECTED ACTUAL
expect() {
  if [ "$2" == "$3" ]; then pass "$1"; else fail "$1" "expected [$2], got [$3]"; fi
}
query() { "$sluice" query "$@"; }

# 1,000 trades over 20 symbols, with times one second apart.
make_trades() {
  "$python" - "$1" <<'PY'
import random, sys
random.seed(5)
with open(sys.argv[1], "w") as out:
    out.write("symbol,price,qty,ts\n")
    for i in range(1000):
        out.write(f"S{random.randrange(20):02d},{random.randrange(1, 100000) / 100},"
                  f"{random.randrange(1, 500)},2024-01-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z\n")
PY
}

case_file_into_store_and_query() {
  make_trades trades.csv
  cat > p.yaml <<YAML
name: store-trades
sources:
  trades:
    connector: file
    path: trades.csv
    batch_size: 100
    schema: {symbol: string, price: double, qty: int64, ts: timestamp}
sinks:
  store: {connector: duckdb, path: store.duckdb, table: trades, create_table: true}
YAML
  "$sluice" run --no-progress p.yaml 2> stderr.txt || { fail file_into_store "run failed: $(cat stderr.txt)"; return; }
  expect "file into store: rows" "count_star(),sum(qty)
1000,$(awk -F, 'NR > 1 {s += $3} END {print s}' trades.csv)" \
    "$(query store.duckdb "SELECT count(*), sum(qty) FROM trades" --format csv)"
  expect "file into store: same rows as the file" "" \
    "$(query store.duckdb "SELECT symbol, price, qty FROM trades EXCEPT ALL SELECT symbol, price, qty FROM read_csv('trades.csv')" --format csv | tail -n +2)"
  expect "file into store: column types" \
    "symbol VARCHAR;price DOUBLE;qty BIGINT;ts TIMESTAMP WITH TIME ZONE" \
    "$(query store.duckdb "SELECT string_agg(column_name || ' ' || data_type, ';' ORDER BY column_index) FROM duckdb_columns() WHERE table_name = 'trades'" --format csv | tail -n 1)"
  # The table format: aligned columns, a row count.
  expect "query: table format" " n | s
---+----
 1 | a
10 | ünï
(2 rows)" "$(query store.duckdb "SELECT * FROM (VALUES (1, 'a'), (10, 'ünï')) v(n, s) ORDER BY n")"
  # Reading the store back with the duckdb source, into a file.
  cat > back.yaml <<YAML
name: read-store
sources:
  history:
    connector: duckdb
    path: store.duckdb
    query: SELECT symbol, qty FROM trades ORDER BY ts
    batch_size: 64
sinks:
  out: {connector: file, path: back.csv}
YAML
  "$sluice" run --no-progress back.yaml 2> stderr.txt || { fail read_store "run failed: $(cat stderr.txt)"; return; }
  expect "duckdb source: the store read back" "$(awk -F, 'NR > 1 {print $1 "," $3}' trades.csv)" \
    "$(tail -n +2 back.csv)"
}

case_upserts_equal_a_batch_group_by() {
  make_trades trades.csv
  local oracle
  oracle="$(query :memory: "SELECT symbol, sum(qty) AS qty_sum, max(price) AS price_max, count(*) AS n FROM read_csv('trades.csv') GROUP BY symbol ORDER BY symbol" --format csv)"
  for batch_size in 1 7 1000; do
    rm -f totals.duckdb*
    cat > p.yaml <<YAML
name: totals
sources:
  trades:
    connector: file
    path: trades.csv
    batch_size: $batch_size
    schema: {symbol: string, price: double, qty: int64, ts: timestamp}
    event_time: {field: ts, watermark_delay: 0s}
pipeline:
  - aggregate:
      group_by: [symbol]
      aggregate: {qty: [sum], price: [max]}
sinks:
  store: {connector: duckdb, path: totals.duckdb, table: totals, create_table: true}
YAML
    "$sluice" run --no-progress p.yaml 2> stderr.txt || { fail "upserts, batch_size $batch_size" "run failed: $(cat stderr.txt)"; continue; }
    expect "upserts from aggregate equal GROUP BY, batch_size $batch_size" "$oracle" \
      "$(query totals.duckdb "SELECT symbol, qty_sum, price_max, count AS n FROM totals ORDER BY symbol" --format csv)"
  done
  expect "created table has the key as primary key" "PRIMARY KEY(symbol)" \
    "$(query totals.duckdb "SELECT constraint_text FROM duckdb_constraints() WHERE table_name = 'totals' AND constraint_type = 'PRIMARY KEY'" --format csv | tail -n 1)"
}

case_sigkill_with_checkpoints_is_exactly_once() {
  local rows=300000
  cat > reference.yaml <<YAML
name: quotes-store
sources:
  quotes: {connector: generator, count: $rows, batch_size: 1000, symbols: 50, seed: 3}
sinks:
  store: {connector: duckdb, path: reference.duckdb, table: quotes, create_table: true}
YAML
  "$sluice" run --no-progress reference.yaml 2> stderr.txt || { fail sigkill "reference run failed: $(cat stderr.txt)"; return; }
  cat > killed.yaml <<YAML
name: quotes-store
checkpoint: {dir: state, interval: 200ms}
sources:
  quotes: {connector: generator, count: $rows, batch_size: 1000, symbols: 50, seed: 3, rate: 60000}
sinks:
  store: {connector: duckdb, path: killed.duckdb, table: quotes, create_table: true}
YAML
  kill_repeatedly 12 300 1200 "$sluice" run --no-progress killed.yaml
  "$sluice" run --no-progress killed.yaml 2> stderr.txt || { fail sigkill "the last run failed: $(cat stderr.txt)"; return; }
  local checksum="SELECT count(*) AS n, count(DISTINCT ts) AS times, sum(hash(symbol, bid, ask, volume, ts)) AS checksum FROM quotes"
  expect "SIGKILL $kills times with checkpoints: exactly the uninterrupted run's rows" \
    "$(query reference.duckdb "$checksum" --format csv)" "$(query killed.duckdb "$checksum" --format csv)"
  [ "$kills" -ge 6 ] || fail sigkill "only $kills of 12 kills came before the run ended"
  expect "sluice_commits holds the last checkpoint" "1" \
    "$(query killed.duckdb "SELECT count(*) FROM sluice_commits WHERE pipeline = 'quotes-store' AND sink = 'store' AND checkpoint > 0" --format csv | tail -n 1)"
}

case_refused_rows_are_dead_letters() {
  "$python" - <<'PY'
with open("rows.jsonl", "w") as out:
    for i in range(500):
        # 10 null keys (i = 7, 57, ...), and keys 0-19 again from i = 480 on: 19 repeats, as
        # key 7's first row had a null key.
        k = "null" if i % 50 == 7 else str(i % 480)
        out.write(f'{{"k": {k}, "v": "row {i}"}}\n')
PY
  "$python" -c "import duckdb; c = duckdb.connect('keyed.duckdb'); c.execute('CREATE TABLE kv (k BIGINT PRIMARY KEY, v VARCHAR)')"
  cat > p.yaml <<YAML
name: keyed
sources:
  rows: {connector: file, path: rows.jsonl, format: json, batch_size: 64, schema: {k: int64, v: string}}
sinks:
  store: {connector: duckdb, path: keyed.duckdb, table: kv}
dead_letters: {connector: file, path: dead.jsonl}
YAML
  "$sluice" run --no-progress p.yaml 2> stderr.txt || { fail dead_letters "run failed: $(cat stderr.txt)"; return; }
  local stored dead
  stored="$(query keyed.duckdb "SELECT count(*) FROM kv" --format csv | tail -n 1)"
  dead="$(wc -l < dead.jsonl)"
  expect "conservation: 500 rows in = rows in the table + dead letters" "500" "$((stored + dead))"
  expect "refused rows: 10 null keys and 19 repeated keys" "29" "$dead"
  expect "dead letters carry DuckDB's message" "29" \
    "$(grep -c -E 'NOT NULL constraint failed|uplicate key' dead.jsonl)"
}

case_clear_errors() {
  # A missing table without create_table: exit 1, the table named.
  "$python" -c "import duckdb; duckdb.connect('empty.duckdb').close()"
  cat > missing.yaml <<YAML
name: missing-table
sources:
  quotes: {connector: generator, count: 10}
sinks:
  store: {connector: duckdb, path: empty.duckdb, table: nowhere}
YAML
  set +e
  "$sluice" run --no-progress missing.yaml 2> stderr.txt
  local code=$?
  set -e
  expect "missing table: exit 1" 1 "$code"
  grep -q "table 'nowhere' does not exist" stderr.txt && pass "missing table: named" ||
    fail "missing table" "$(cat stderr.txt)"
  # A bad query: `sluice validate` exits 2 with file:line:col and DuckDB's message.
  cat > bad.yaml <<YAML
name: bad-query
sources:
  q: {connector: duckdb, path: empty.duckdb, query: SELECT nothing FROM nowhere}
sinks:
  out: {connector: console}
YAML
  set +e
  "$sluice" validate bad.yaml 2> stderr.txt
  code=$?
  set -e
  expect "bad query: validate exits 2" 2 "$code"
  grep -q "bad.yaml:3:.*nowhere" stderr.txt && pass "bad query: located, DuckDB's message" ||
    fail "bad query" "$(cat stderr.txt)"
  set +e
  query empty.duckdb "SELEC 1" > /dev/null 2> stderr.txt
  code=$?
  set -e
  expect "query: bad SQL exits 2" 2 "$code"
  grep -q "syntax error" stderr.txt && pass "query: bad SQL message" || fail "query: bad SQL" "$(cat stderr.txt)"
  set +e
  query none.duckdb "SELECT 1" > /dev/null 2> stderr.txt
  code=$?
  set -e
  expect "query: a missing file exits 2" 2 "$code"
  [ ! -e none.duckdb ] && pass "query: a missing file is not created" || fail "query" "none.duckdb created"
  # A file held open for writing by a running pipeline: a second writer and a reader are
  # refused with the reason.
  cat > long.yaml <<YAML
name: long
sources:
  quotes: {connector: generator, count: 1000000, rate: 2000}
sinks:
  store: {connector: duckdb, path: busy.duckdb, table: quotes, create_table: true}
YAML
  "$sluice" run --no-progress long.yaml 2> long.txt &
  background=$!
  for _ in $(seq 1 50); do [ -e busy.duckdb ] && break; sleep 0.1; done
  sleep 0.5
  sed 's/busy.duckdb/busy.duckdb/; s/name: long/name: second/' long.yaml > second.yaml
  set +e
  "$sluice" run --no-progress second.yaml 2> stderr.txt
  code=$?
  set -e
  expect "locked file: the second writer exits 1" 1 "$code"
  grep -q "is locked by another process" stderr.txt && pass "locked file: said so" ||
    fail "locked file" "$(cat stderr.txt)"
  set +e
  query busy.duckdb "SELECT count(*) FROM quotes" > /dev/null 2> stderr.txt
  code=$?
  set -e
  expect "locked file: sluice query exits 1" 1 "$code"
  grep -q "is locked by another process" stderr.txt && pass "locked file: query said so" ||
    fail "locked file: query" "$(cat stderr.txt)"
  kill -TERM "$background"
  wait "$background" 2> /dev/null || true
  background=""
  query busy.duckdb "SELECT count(*) > 0 FROM quotes" --format csv | tail -n 1 | grep -q true &&
    pass "a stopped run's rows are committed" || fail "stopped run" "no rows committed"
}

cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
  mapfile -t cases < <(declare -F | awk '{print $3}' | grep '^case_')
fi
started=$SECONDS
for name in "${cases[@]}"; do
  mkdir -p "$work/$name"
  cd "$work/$name"
  begin=$SECONDS
  "$name"
  echo "   ($name: $((SECONDS - begin)) s)"
done
echo "DuckDB cases took $((SECONDS - started)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
