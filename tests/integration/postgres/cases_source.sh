# The postgres source (sourced by run_tests.sh): every mapped type against psql's reading of the
# same table, a large result in bounded memory, incremental polling exactly once (also across
# SIGKILLs with checkpoints and a restart of the server), and clear errors.

# source_yaml FILE QUERY EXTRA...: a pipeline reading QUERY with the source options EXTRA (one
# per line, indented by the caller) into the sink lines of $sinks (default: out.jsonl).
source_yaml() {
  local file="$1" query="$2"
  shift 2
  {
    printf 'name: pg-source\nsources:\n  in:\n    connector: postgres\n'
    printf '    url: "%s"\n    query: "%s"\n' "${url:-$(pg_url)}" "$query"
    for line in "$@"; do printf '    %s\n' "$line"; done
    printf '%s\n' "${top:-}"
    printf 'sinks:\n%s\n' "${sinks:-  out: {connector: file, path: out.jsonl\}}"
  } > "$file"
}

# The password never shows in what Sluice printed.
no_password_in() {
  ! grep -q -F "$pg_password" "$@"
}

# Every mapped type, edge values, nulls, unicode, large values and 3000 random rows: the Parquet
# file Sluice writes holds what psql reads (compare_types.py), and the JSON lines file as many
# rows with the same large text.
case_source_types() {
  pg_psql -q -f "$here/types.sql"
  pg_psql -q -f "$here/types_expected.sql" > expected.csv
  sinks="  parquet: {connector: file, path: out.parquet}
  jsonl: {connector: file, path: out.jsonl}" \
    source_yaml types.yaml "SELECT * FROM source_types ORDER BY id" "batch_size: 700"
  if ! run_sluice types.yaml; then
    fail_case "types: the run failed"
  elif ! "$python" "$here/compare_types.py" out.parquet expected.csv > compare.txt; then
    fail_case "types: sluice and psql differ: $(head -n 5 compare.txt)"
  else
    local large
    large=$("$python" -c 'import json, sys
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
print(len(rows), len(rows[3]["t"]), rows[0]["t"])' out.jsonl)
    if [ "$large" = "3000 1200000 héllo \"wörld\", ☃ 𝄞 \\ tab	end" ] &&
      grep -q "columns read as text (no native mapping): iv (interval), arr (integer\[\])" \
        stderr.txt; then
      pass "types: $(cat compare.txt) to psql's (Parquet), JSON lines with a 1.2M-character text"
    else
      fail_case "types: JSON lines: $large"
    fi
  fi
  pg_psql -q -c "DROP TABLE source_types" -c "DROP FUNCTION maybe"
}

# 3 million rows (about 190 MB as Arrow columns) stream through the cursor in batches: peak RSS
# stays within 64 MB of a 10-row query's (allocator quarantine of the sanitizer off).
case_source_large_result_bounded_memory() {
  pg_psql -q -c "CREATE TABLE source_big AS SELECT g AS id, md5(g::text) AS name,
    g * 1.5::float8 AS x, timestamptz '2024-01-01' + g * interval '1 second' AS at
    FROM generate_series(1, 1000000) AS g"
  sinks="  out: {connector: blackhole}" source_yaml big.yaml \
    "SELECT big.* FROM source_big AS big, generate_series(1, 3) AS copy" "batch_size: 10000"
  sinks="  out: {connector: blackhole}" source_yaml small.yaml \
    "SELECT * FROM source_big LIMIT 10"
  local options="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1"
  ASAN_OPTIONS="$options" /usr/bin/time -v "$sluice" run --no-progress small.yaml 2> small.txt
  local begin=$SECONDS
  if ! ASAN_OPTIONS="$options" /usr/bin/time -v "$sluice" run --no-progress big.yaml \
      2> stderr.txt; then
    fail_case "large result: the run failed"
  else
    local took=$((SECONDS - begin)) small big
    small=$(awk '/Maximum resident/ {print int($6 / 1024)}' small.txt)
    big=$(awk '/Maximum resident/ {print int($6 / 1024)}' stderr.txt)
    if grep -q "3000000 rows in, 3000000 rows out" stderr.txt && [ "$big" -le $((small + 64)) ]; then
      pass "large result: 3M rows in ${took}s, peak RSS ${big} MB (10 rows: ${small} MB)"
    else
      fail_case "large result: peak RSS ${big} MB, 10 rows ${small} MB; $(grep finished stderr.txt)"
    fi
  fi
  pg_psql -q -c "DROP TABLE source_big"
}

# Polling by a timestamptz column: rows inserted while the source runs arrive once each, in
# order, also rows that share a timestamp across fetches (batch_size 7, three or four rows to a
# timestamp). A row committed later with a value not greater than one read is not read: the
# column must grow with each commit.
case_source_poll_picks_up_new_rows() {
  pg_psql -q -c "CREATE TABLE source_poll (id int, at timestamptz)" \
    -c "INSERT INTO source_poll SELECT g, timestamptz '2024-01-01 00:00:00.000001+00'
        + (g / 3) * interval '1 microsecond' FROM generate_series(1, 100) AS g"
  source_yaml poll.yaml "SELECT id, at FROM source_poll" "batch_size: 7" \
    "poll: {interval: 200ms, column: at}" "until: {idle: 3s, duration: 60s}"
  run_sluice poll.yaml &
  local pid=$!
  wait_logged stderr.txt "polling postgresql://sluice@" || { kill "$pid" 2> /dev/null || true; fail_case "poll: no start"; return; }
  sleep 0.5
  for step in 1 2 3; do
    # Each step's rows come after every earlier row, four to a timestamp.
    pg_psql -q -c "INSERT INTO source_poll SELECT g, timestamptz '2024-01-02 00:00:00+00'
      + $step * interval '1 hour' + (g % 100 / 4) * interval '1 second'
      FROM generate_series($((step * 100 + 1)), $((step * 100 + 100))) AS g"
    sleep 0.4
  done
  if ! wait "$pid"; then
    fail_case "poll: the run failed"
  elif [ "$(ids out.jsonl id | tr '\n' ' ')" = "$(seq 1 400 | tr '\n' ' ')" ] &&
    "$python" -c 'import datetime, sys
times = [datetime.datetime.fromisoformat(line.strip()) for line in sys.stdin]
sys.exit(times != sorted(times))' < <(ids_in_file_order out.jsonl at); then
    pass "poll: 100 rows, then 3 x 100 inserted while polling: each once, in order"
  else
    fail_case "poll: $(wc -l < out.jsonl) rows, $(ids out.jsonl id | uniq -d | wc -l) repeated"
  fi
  pg_psql -q -c "DROP TABLE source_poll"
}

# Rows arrive in groups of 37 sharing the poll value while the pipeline (checkpoints every
# 100 ms, exactly-once rolled files) is SIGKILLed again and again: every row exactly once.
case_source_poll_sigkill_resumes() {
  local count=2220
  pg_psql -q -c "CREATE TABLE source_kill (id int, grp int)"
  sinks='  out: {connector: file, path: "parts/part-{part}.jsonl", roll: {rows: 300}}' \
    top='checkpoint: {dir: state, interval: 100ms}' \
    source_yaml kill.yaml "SELECT id, grp FROM source_kill" "batch_size: 50" \
    "poll: {interval: 100ms, column: grp}" "until: {idle: 3s, duration: 120s}"
  (
    for group in $(seq 1 60); do
      pg_psql -q -c "INSERT INTO source_kill SELECT g, $group
        FROM generate_series($(((group - 1) * 37 + 1)), $((group * 37))) AS g"
      sleep 0.1
    done
  ) &
  local inserter=$!
  kill_repeatedly 10 300 900 "$sluice" run --no-progress kill.yaml
  wait "$inserter"
  if ! run_sluice kill.yaml; then
    fail_case "poll sigkill: the last run failed"
  else
    cat parts/part-*.jsonl > all.jsonl 2> /dev/null || true
    if [ "$(ids all.jsonl id | tr '\n' ' ')" = "$(seq 1 "$count" | tr '\n' ' ')" ]; then
      pass "poll sigkill ($kills kills): each of $count rows exactly once"
    else
      fail_case "poll sigkill ($kills kills): $(wc -l < all.jsonl) rows, $(ids all.jsonl id | uniq -d | wc -l) repeated, $(comm -23 <(seq 1 "$count" | sort) <(ids all.jsonl id | sort -u) | wc -l) missing"
    fi
  fi
  pg_psql -q -c "DROP TABLE source_kill"
}

# The server restarts while the source polls: it reconnects and reads on from the last row. The
# server stays down longer than `until: {idle}`: time spent reconnecting is not idle time.
case_source_poll_survives_server_restart() {
  pg_psql -q -c "CREATE TABLE source_restart (id int)" \
    -c "INSERT INTO source_restart SELECT generate_series(1, 500)"
  source_yaml restart.yaml "SELECT id FROM source_restart" "batch_size: 100" \
    "poll: {interval: 100ms, column: id}" "until: {idle: 2s, duration: 60s}"
  run_sluice restart.yaml &
  local pid=$!
  wait_logged stderr.txt "polling postgresql://sluice@" || { kill "$pid" 2> /dev/null || true; fail_case "restart: no start"; return; }
  sleep 0.5
  pg_stop
  sleep 3
  pg_start
  pg_psql -q -c "INSERT INTO source_restart SELECT generate_series(501, 1000)"
  if ! wait "$pid"; then
    fail_case "restart: the run failed"
  elif [ "$(ids out.jsonl id | tr '\n' ' ')" = "$(seq 1 1000 | tr '\n' ' ')" ] &&
    grep -q "reconnected to postgresql://sluice@" stderr.txt && no_password_in stderr.txt; then
    pass "server restart mid-poll: reconnected ($(grep -c 'trying again' stderr.txt) retries), 1000 rows once each"
  else
    fail_case "restart: $(wc -l < out.jsonl) rows, $(ids out.jsonl id | uniq -d | wc -l) repeated"
  fi
  pg_psql -q -c "DROP TABLE source_restart"
}

# A bounded read whose server dies halfway fails with the reason and a non-zero exit: it never
# ends as if the result were complete.
case_source_bounded_server_killed() {
  source_yaml slow.yaml \
    "SELECT g FROM (SELECT g, pg_sleep(0.001) FROM generate_series(1, 100000) AS g) AS slow" \
    "batch_size: 100"
  run_sluice slow.yaml &
  local pid=$!
  wait_logged stderr.txt "reading the query's rows" || { kill "$pid" 2> /dev/null || true; fail_case "killed: no start"; return; }
  sleep 1
  pg_kill
  local status=0
  wait "$pid" || status=$?
  pg_start
  if [ "$status" -ne 0 ] && grep -q "the query's result is incomplete" stderr.txt &&
    no_password_in stderr.txt; then
    pass "server killed mid-read: exit $status, $(grep -o 'after [0-9]* rows' stderr.txt): the result is incomplete"
  else
    fail_case "killed mid-read: exit $status, $(tail -n 1 stderr.txt)"
  fi
}

# Wrong password, bad SQL, a missing table, a poll column the query lacks: clear errors at
# validation with PostgreSQL's message, never the password.
case_source_errors() {
  local ok=0 checks=0
  expect_error() {
    local file="$1" pattern="$2"
    checks=$((checks + 1))
    if "$sluice" validate "$file" 2> "$file.txt"; then
      echo "  $file: validated"
    elif grep -q -F "$pattern" "$file.txt" && no_password_in "$file.txt" &&
      ! grep -q -F "Wr0ngSecret42" "$file.txt"; then
      ok=$((ok + 1))
    else
      echo "  $file: $(cat "$file.txt")"
    fi
  }
  url="postgresql://sluice:Wr0ngSecret42@127.0.0.1:$pg_port/sluice" \
    source_yaml password.yaml "SELECT 1 AS one"
  expect_error password.yaml 'password authentication failed for user "sluice"'
  url="host=127.0.0.1 port=$pg_port user=sluice password=Wr0ngSecret42 dbname=sluice" \
    source_yaml keywords.yaml "SELECT 1 AS one"
  expect_error keywords.yaml 'password authentication failed for user "sluice"'
  source_yaml syntax.yaml "SELEC 1"
  expect_error syntax.yaml 'syntax.yaml:6:12: error: PostgreSQL rejects the query: [42601] syntax error at or near "SELEC"'
  source_yaml missing.yaml "SELECT * FROM no_such_table"
  expect_error missing.yaml '[42P01] relation "no_such_table" does not exist'
  source_yaml column.yaml "SELECT 1 AS one" "poll: {column: updated_at}"
  expect_error column.yaml "the query returns no column 'updated_at' to poll by"
  source_yaml twice.yaml "SELECT 1 AS a, 2 AS a"
  expect_error twice.yaml "the query returns two columns named 'a'"
  url="postgresql://sluice:$pg_password@127.0.0.1:$(free_port)/sluice" \
    source_yaml down.yaml "SELECT 1 AS one" "connect_timeout: 2s"
  expect_error down.yaml "Connection refused"
  source_yaml good.yaml "SELECT 1 AS one"
  checks=$((checks + 1))
  if "$sluice" validate good.yaml 2> good.txt; then ok=$((ok + 1)); else cat good.txt; fi
  if [ "$ok" -eq "$checks" ]; then
    pass "errors: $checks validations (wrong password twice, syntax, missing table, poll column, duplicate name, server down, valid)"
  else
    fail_case "errors: $ok of $checks as expected"
  fi
}
