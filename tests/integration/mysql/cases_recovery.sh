# A server restart and a SIGKILLed server mid-run, and SIGKILLed runs with checkpoints (sourced
# by run_tests.sh, which provides lib.sh and kill_repeatedly.sh).

# The server restarts, then is SIGKILLed and started again, while a live source writes: the
# sink reconnects and writes the lost transaction again. Upserts hold every row once; inserts
# into a table without a key hold every row at least once.
case_server_restart_mid_run() {
  cat > live.yaml <<YAML
name: restart
sources:
  quotes: {connector: generator, count: 30000, rate: 5000, batch_size: 500}
sinks:
  up: {connector: mysql, url: "$(my_url)", table: live_upsert, create_table: true, mode: upsert, key: [ts]}
  ins: {connector: mysql, url: "$(my_url)", table: live_insert, create_table: true}
YAML
  run_sluice live.yaml &
  local pid=$!
  sleep 1.5
  my_restart || { fail_case "restart: the server did not come back"; wait "$pid"; return; }
  sleep 1.5
  my_kill
  my_start || { fail_case "restart: the server did not recover"; wait "$pid"; return; }
  if ! wait "$pid"; then
    fail_case "restart: the run failed"
    return
  fi
  local upserted inserted distinct reconnects
  upserted=$(my_sql -e "SELECT COUNT(*) FROM live_upsert")
  inserted=$(my_sql -e "SELECT COUNT(*) FROM live_insert")
  distinct=$(my_sql -e "SELECT COUNT(DISTINCT ts) FROM live_insert")
  reconnects=$(grep -c "reconnected to MariaDB" stderr.txt || true)
  if [ "$upserted" -ne 30000 ] || [ "$distinct" -ne 30000 ]; then
    fail_case "restart: $upserted upserted and $distinct distinct inserted rows of 30000"
  elif [ "$reconnects" -lt 2 ]; then
    fail_case "restart: only $reconnects reconnects logged"
  else
    pass "restart + SIGKILL of the server mid-run: $reconnects reconnects, upsert 30000/30000 rows, insert $inserted rows ($((inserted - 30000)) repeated), none lost"
  fi
}

# With checkpoints the sink commits one transaction per checkpoint that also records it in
# sluice_commits: after 10 SIGKILLs of Sluice, a table without a key holds every row once.
case_checkpoint_kills_exactly_once() {
  "$python" -c 'import json
for i in range(100000): print(json.dumps({"id": i, "name": "n%d" % i}))' > rows.jsonl
  my_sql -e "CREATE TABLE exactly (id BIGINT, name TEXT)"
  cat > exactly.yaml <<YAML
name: exactly
sources:
  rows: {connector: file, path: rows.jsonl, batch_size: 100, schema: {id: int64, name: string}}
checkpoint: {dir: state, interval: 100ms}
sinks:
  out: {connector: mysql, url: "$(my_url)", table: exactly}
YAML
  kill_repeatedly 10 100 600 "$sluice" run --no-progress exactly.yaml
  local partial
  partial=$(my_sql -e "SELECT COUNT(*) FROM exactly")
  run_sluice exactly.yaml || { fail_case "exactly-once: the last run failed"; return; }
  local rows distinct commits
  rows=$(my_sql -e "SELECT COUNT(*) FROM exactly")
  distinct=$(my_sql -e "SELECT COUNT(DISTINCT id) FROM exactly")
  commits=$(my_sql -e "SELECT checkpoint FROM sluice_commits WHERE pipeline = 'exactly'")
  if [ "$rows" -ne 100000 ] || [ "$distinct" -ne 100000 ]; then
    fail_case "exactly-once: $rows rows ($distinct distinct) of 100000 after $kills kills"
  else
    pass "exactly-once: $kills SIGKILLs (at $partial rows before the last run), then 100000 rows once each; last checkpoint $commits"
  fi
}
