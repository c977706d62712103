# Rows the server refuses become dead letters with its message while the rest is written; wrong
# credentials, a missing table and an unreachable server fail clearly (sourced by run_tests.sh,
# which provides lib.sh).

# A duplicate key (in the batch and with a row already there), a value too long, NULL into NOT
# NULL, a failed CHECK, and a NaN: each a dead letter; rows in = rows in the table + dead letters.
case_rejected_rows_are_dead_letters() {
  my_sql -e "CREATE TABLE people (id BIGINT PRIMARY KEY, name VARCHAR(10) NOT NULL,
      age INT CHECK (age >= 0), score DOUBLE); INSERT INTO people VALUES (1000, 'there', 1, 0)"
  "$python" - > people.jsonl <<'PY'
import json
for i in range(1, 501):
    row = {"id": i, "name": f"p{i}", "age": i % 90, "score": i / 4}
    if i == 17: row["id"] = 5            # duplicate of row 5 in the input
    if i == 100: row["id"] = 1000        # duplicate of a row in the table
    if i == 200: row["name"] = "much too long for ten"
    if i == 300: row["name"] = None
    if i == 400: row["age"] = -1
    if i == 450: row["score"] = "NaN"
    print(json.dumps(row))
PY
  for size in 1000 7; do
    my_sql -e "DELETE FROM people WHERE id <> 1000"
    cat > people.yaml <<YAML
name: rejects
sources:
  rows: {connector: file, path: people.jsonl, batch_size: $size,
         schema: {id: int64, name: string, age: int32, score: double}}
sinks:
  out: {connector: mysql, url: "$(my_url)", table: people}
dead_letters: {connector: file, path: dead-$size.jsonl}
YAML
    run_sluice people.yaml || { fail_case "rejects: the run failed (batch_size $size)"; return; }
    local rows dead reasons
    rows=$(my_sql -e "SELECT COUNT(*) FROM people WHERE id <> 1000")
    dead=$(wc -l < dead-$size.jsonl)
    reasons=$("$python" -c 'import json, sys
for line in open(sys.argv[1]):
    print(json.loads(line)["reason"])' dead-$size.jsonl | sort)
    if [ "$rows" -ne 494 ] || [ "$dead" -ne 6 ] || [ $((rows + dead)) -ne 500 ]; then
      fail_case "rejects (batch_size $size): $rows rows in the table, $dead dead letters"
      echo "$reasons"
      return
    fi
    for want in "Duplicate entry '5' for key 'PRIMARY'" "Duplicate entry '1000'" \
        "Data too long for column 'name'" "Column 'name' cannot be null" \
        "CONSTRAINT \`people.age\` failed" "field 'score': nan cannot be stored"; do
      if ! grep -qF "$want" <<< "$reasons"; then
        fail_case "rejects (batch_size $size): no dead letter says \"$want\""
        echo "$reasons"
        return
      fi
    done
  done
  pass "rejects: 6 refused rows of 500 are dead letters with MariaDB's message, 494 written (batch_size 1000 and 7)"
}

case_wrong_password() {
  cat > wrong.yaml <<YAML
name: wrong-password
sources:
  rows: {connector: generator, count: 3}
sinks:
  out: {connector: mysql, url: "mysql://sluice:NotTheSecret42@127.0.0.1:$my_port/sluice",
        table: nowhere, create_table: true}
YAML
  if run_sluice wrong.yaml; then
    fail_case "wrong password: the run succeeded"
  elif grep -q "NotTheSecret42" stderr.txt; then
    fail_case "wrong password: the password appears in the error"
  elif ! grep -q "Access denied for user 'sluice'" stderr.txt; then
    fail_case "wrong password: no clear error"
  elif "$sluice" validate wrong.yaml 2>&1 | grep -q "NotTheSecret42"; then
    fail_case "wrong password: sluice validate shows the password"
  else
    pass "wrong password: '$(grep -o "Access denied[^(]*" stderr.txt | head -n 1)', without the password"
  fi
}

case_missing_table() {
  cat > missing.yaml <<YAML
name: missing-table
sources:
  rows: {connector: generator, count: 3}
sinks:
  out: {connector: mysql, url: "$(my_url)", table: no_such_table}
YAML
  if run_sluice missing.yaml; then
    fail_case "missing table: the run succeeded"
  elif ! grep -q "table 'no_such_table' does not exist" stderr.txt; then
    fail_case "missing table: no error naming the table"
  else
    pass "missing table: the error names it and suggests create_table"
  fi
}

case_unreachable_server() {
  local port
  port=$(free_port)
  cat > down.yaml <<YAML
name: server-down
sources:
  rows: {connector: generator, count: 3}
sinks:
  out: {connector: mysql, url: "mysql://sluice:secret@127.0.0.1:$port/sluice", table: t,
        create_table: true, connect_timeout: 2s}
YAML
  local begin=$SECONDS
  if run_sluice down.yaml; then
    fail_case "unreachable: the run succeeded"
  elif grep -q "secret" stderr.txt; then
    fail_case "unreachable: the password appears in the error"
  elif ! grep -q "cannot connect to mysql://sluice@127.0.0.1:$port/sluice" stderr.txt; then
    fail_case "unreachable: no clear error"
  else
    pass "unreachable server: a clear error after $((SECONDS - begin)) s"
  fi
}
