# The test server itself (sourced by run_tests.sh): what the other cases rely on.

# Password authentication works, a restart keeps the data and the port, and a SIGKILLed server
# recovers on the next start.
case_server_restart_and_kill() {
  pg_psql -q -c "CREATE TABLE harness_check (id int)" -c "INSERT INTO harness_check VALUES (1)"
  pg_restart
  pg_psql -q -c "INSERT INTO harness_check VALUES (2)"
  pg_kill
  if pg_psql -c "SELECT 1" > /dev/null 2>&1; then
    fail_case "the server answers after pg_kill"
    pg_start
    return
  fi
  pg_start
  local rows
  rows=$(pg_psql -At -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM harness_check")
  pg_psql -q -c "DROP TABLE harness_check"
  if [ "$rows" = "1,2" ] && ! PGPASSWORD=wrong psql -X -h 127.0.0.1 -p "$pg_port" -U sluice \
      -d sluice -c "SELECT 1" > /dev/null 2>&1; then
    pass "server: restart and SIGKILL keep committed rows; a wrong password is refused"
  else
    fail_case "server: rows after restart and kill: '$rows'"
  fi
}
