# The postgres sink (sourced by run_tests.sh): every type round trip, upserts equal to a batch
# GROUP BY whatever the batch size, rejected rows as dead letters, exactly-once across SIGKILLs,
# a server restart mid-run, and clear errors.

# pg_rows TABLE COLUMNS: the table's rows as sorted CSV lines.
pg_rows() {
  pg_psql -At -F, -c "SELECT $2 FROM $1" | sort
}

# dead_letters FILE: the number of dead letters in a JSON-lines dead-letter file.
dead_letter_count() {
  [ -f "$1" ] && wc -l < "$1" || echo 0
}

case_sink_every_type_round_trips() {
  "$python" "$here/sink_types.py" write types.parquet
  cat > types.yaml <<YAML
name: pg_types
sources:
  rows: {connector: file, path: types.parquet}
sinks:
  pg: {connector: postgres, url: "$(pg_url)", table: all_types, create_table: true, key: [id]}
YAML
  run_sluice types.yaml || { fail_case "types: the run failed"; return; }
  PGTZ=UTC pg_psql --csv -P null='<null>' -c "SELECT * FROM all_types ORDER BY id" > types.csv
  if "$python" "$here/sink_types.py" check types.csv > diff.txt; then
    pass "types: 19 Arrow types (ints to uint64, float, decimal, unicode, 100 kB text, binary, dates, timestamps, lists, structs) and nulls round trip"
  else
    fail_case "types: $(head -n 5 diff.txt)"
  fi
}

# The generator's quotes summed per symbol by `aggregate`, upserted into a table: the table
# equals DuckDB's GROUP BY over the same rows, whatever the batch size.
case_sink_upserts_equal_a_group_by() {
  cat > quotes.yaml <<YAML
name: quotes
sources:
  quotes: {connector: generator, count: 5000, symbols: 40}
sinks:
  out: {connector: file, path: quotes.parquet}
YAML
  run_sluice quotes.yaml || { fail_case "upsert: generating quotes failed"; return; }
  local expected
  expected=$("$python" - <<'PY'
import duckdb
for row in duckdb.sql("SELECT symbol, sum(volume), count(*), max(bid) FROM 'quotes.parquet' GROUP BY symbol ORDER BY symbol").fetchall():
    print(",".join(str(v) for v in row))
PY
)
  local size ok=yes
  for size in 1 7 1000; do
    cat > totals.yaml <<YAML
name: totals_$size
sources:
  quotes: {connector: file, path: quotes.parquet, batch_size: $size}
pipeline:
  - aggregate: {group_by: [symbol], aggregate: {volume: [sum], bid: [max]}}
sinks:
  pg: {connector: postgres, url: "$(pg_url)", table: totals_$size, create_table: true}
YAML
    run_sluice totals.yaml || { fail_case "upsert: the run with batch_size $size failed"; return; }
    local got
    got=$(pg_psql -At -F, -c "SELECT symbol, volume_sum, count, bid_max FROM totals_$size ORDER BY symbol")
    if [ "$got" != "$expected" ]; then
      ok=no
      echo "batch_size $size: $(diff <(echo "$expected") <(echo "$got") | head -n 4)"
    fi
  done
  if [ "$ok" = yes ]; then
    pass "upsert: aggregate's upsert stream in PostgreSQL equals GROUP BY for batch sizes 1, 7 and 1000 ($(echo "$expected" | wc -l) keys)"
  else
    fail_case "upsert: the table differs from GROUP BY"
  fi
}

# Rows PostgreSQL refuses become dead letters with its message; the rest of each batch is
# written: rows in = rows in the table + dead letters.
case_sink_rejected_rows_are_dead_letters() {
  pg_psql -q -c "CREATE TABLE orders (id bigint PRIMARY KEY, code varchar(5) NOT NULL, qty integer CHECK (qty > 0))"
  "$python" - <<'PY'
import json
with open("orders.jsonl", "w") as f:
    for i in range(1, 1001):
        code = "abcdef" if i % 97 == 0 else ("c%d" % (i % 1000))[:5]
        qty = -1 if i % 101 == 0 else i
        f.write(json.dumps({"id": 1 if i % 250 == 0 else i, "code": None if i % 333 == 0 else code, "qty": qty}) + "\n")
PY
  cat > orders.yaml <<YAML
name: orders
sources:
  orders: {connector: file, path: orders.jsonl, batch_size: 300, schema: {id: int64, code: string, qty: int64}}
dead_letters: {connector: file, path: rejected.jsonl}
sinks:
  pg: {connector: postgres, url: "$(pg_url)", table: orders}
YAML
  run_sluice orders.yaml || { fail_case "rejects: the run failed"; return; }
  local rows letters expected_bad
  rows=$(pg_psql -At -c "SELECT count(*) FROM orders")
  letters=$(dead_letter_count rejected.jsonl)
  # Bad: 10 too long (97k), 9 negative qty (101k), 3 null code (333k), 4 duplicates of id 1
  # (250k; id 1 itself is written first), with overlaps counted once.
  expected_bad=$("$python" -c '
bad = 0
for i in range(1, 1001):
    if i % 97 == 0 or i % 101 == 0 or i % 333 == 0 or i % 250 == 0: bad += 1
print(bad)')
  if [ "$((rows + letters))" -eq 1000 ] && [ "$letters" -eq "$expected_bad" ] &&
     grep -q 'rejected by PostgreSQL: \[22001\] value too long for type character varying(5)' rejected.jsonl &&
     grep -q '\[23514\] new row for relation \\"orders\\" violates check constraint' rejected.jsonl &&
     grep -q '\[23505\] duplicate key value violates unique constraint' rejected.jsonl &&
     grep -q '\[23502\]' rejected.jsonl; then
    pass "rejects: 1000 rows = $rows in the table + $letters dead letters with PostgreSQL's reasons"
  else
    fail_case "rejects: $rows rows + $letters dead letters (expected $expected_bad): $(head -c 300 rejected.jsonl 2> /dev/null)"
  fi
}

# SIGKILL 20 times during a checkpointed run: afterwards the table holds exactly the rows of an
# uninterrupted run, none lost and none twice.
case_sink_exactly_once_across_sigkills() {
  local count=60000
  # The same rows, paced for the killed runs and flat out for the uninterrupted one.
  pipeline_yaml() {
    cat > "$1.yaml" <<YAML
name: $1
sources:
  quotes: {connector: generator, count: $count, symbols: 50, rate: $2, batch_size: 500}
checkpoint: {dir: state-$1, interval: 200ms}
sinks:
  pg: {connector: postgres, url: "$(pg_url)", table: $1, create_table: true}
YAML
  }
  pipeline_yaml killed_quotes 5000
  pipeline_yaml whole_quotes 0
  kill_repeatedly 20 250 700 "$sluice" run --no-progress killed_quotes.yaml
  local kills_done=$kills
  run_sluice killed_quotes.yaml || { fail_case "sigkill: the last run failed"; return; }
  run_sluice whole_quotes.yaml || { fail_case "sigkill: the uninterrupted run failed"; return; }
  local columns="symbol, bid, ask, volume, ts"
  pg_rows killed_quotes "$columns" > killed.txt
  pg_rows whole_quotes "$columns" > whole.txt
  if [ "$kills_done" -ge 15 ] && [ "$(wc -l < whole.txt)" -eq "$count" ] && cmp -s killed.txt whole.txt; then
    pass "exactly-once: $kills_done SIGKILLs, then the table equals the uninterrupted run's $count rows"
  else
    fail_case "exactly-once: $kills_done kills; $(wc -l < killed.txt) rows vs $(wc -l < whole.txt); $(diff killed.txt whole.txt | head -n 3)"
  fi
}

# The server restarts while a live pipeline writes: the sink reconnects and writes again what
# was not committed; with checkpoints nothing is lost or repeated, without them upserts absorb
# the repeats.
case_sink_survives_a_server_restart() {
  local count=12000
  cat > restart.yaml <<YAML
name: restart
sources:
  quotes: {connector: generator, count: $count, symbols: 50, rate: 4000, batch_size: 200}
checkpoint: {dir: state-restart, interval: 300ms}
sinks:
  pg: {connector: postgres, url: "$(pg_url)", table: restarted, create_table: true}
YAML
  "$sluice" run --no-progress restart.yaml 2> stderr.txt &
  local pid=$!
  sleep 1.2
  pg_restart
  sleep 0.5
  pg_restart
  local status=0
  wait "$pid" || status=$?
  local rows distinct
  rows=$(pg_psql -At -c "SELECT count(*) FROM restarted")
  distinct=$(pg_psql -At -c "SELECT count(*) FROM (SELECT DISTINCT symbol, bid, ask, volume, ts FROM restarted) d")
  if [ "$status" -eq 0 ] && [ "$rows" -eq "$count" ] && [ "$distinct" -eq "$count" ] &&
     grep -q "reconnected to PostgreSQL" stderr.txt; then
    pass "restart: two server restarts mid-run, $rows of $count rows, none repeated"
  else
    fail_case "restart: exit $status, $rows rows ($distinct distinct) of $count"
  fi
}

case_sink_clear_errors() {
  local url wrong
  url=$(pg_url)
  wrong="postgresql://sluice:not-the-password-xyz@127.0.0.1:$pg_port/sluice"
  printf '{"id": 1}\n' > one.jsonl
  sink_yaml() {
    cat > errors.yaml <<YAML
name: errors
sources:
  one: {connector: file, path: one.jsonl, schema: {id: int64}}
sinks:
  pg: {connector: postgres, url: "$1", table: $2}
YAML
  }
  local ok=yes
  sink_yaml "$wrong" some_table
  if run_sluice errors.yaml || ! grep -q "password authentication failed" stderr.txt ||
     grep -q "not-the-password-xyz" stderr.txt; then
    ok=no; echo "wrong password: $(tail -n 2 stderr.txt)"
  fi
  sink_yaml "$url" missing_table
  if run_sluice errors.yaml || ! grep -q "table 'missing_table' does not exist" stderr.txt; then
    ok=no; echo "missing table: $(tail -n 2 stderr.txt)"
  fi
  pg_psql -q -c "CREATE TABLE narrow (other int)"
  sink_yaml "$url" narrow
  if run_sluice errors.yaml || ! grep -q "table 'narrow' has no column 'id'" stderr.txt; then
    ok=no; echo "missing column: $(tail -n 2 stderr.txt)"
  fi
  sink_yaml "postgresql://sluice:x@127.0.0.1:1/sluice" t
  if run_sluice errors.yaml || ! grep -q "cannot connect to PostgreSQL at postgresql://sluice@127.0.0.1:1/sluice" stderr.txt; then
    ok=no; echo "no server: $(tail -n 2 stderr.txt)"
  fi
  if [ "$ok" = yes ]; then
    pass "errors: wrong password (not echoed), missing table, missing column, no server"
  else
    fail_case "errors"
  fi
}
