# What the PostgreSQL integration cases share (sourced by run_tests.sh): one PostgreSQL server
# on 127.0.0.1 with a fresh data folder, a user `sluice` (password authentication, scram)
# owning the database `sluice`, started, stopped, restarted and killed by the postmaster's PID.
# What a case checks is read back with psql, so that it never depends on Sluice having read it.
#
#   pg_setup            makes the data folder (initdb) and chooses a free port; once per suite
#   pg_start            starts the server (first time: creates the user and the database)
#   pg_stop             stops it (fast shutdown: open sessions are ended), waits until it is gone
#   pg_restart          pg_stop + pg_start on the same port and data
#   pg_kill             SIGKILL to the postmaster (and its backends); pg_start then recovers
#   pg_url              prints postgresql://sluice:PASSWORD@127.0.0.1:PORT/sluice
#   pg_psql ARGS...     psql as `sluice` against the database `sluice` (stops at the first error)
#   pg_admin_psql ARGS  psql as the superuser `postgres` over the server's Unix socket
#
# Needs $work (the suite's scratch folder) and $python; sets $pg_port, $pg_password, $pg_dir.

pg_bin=/usr/lib/postgresql/15/bin

# Runs a server program as the user `postgres` when we are root (PostgreSQL refuses root).
pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_setup() {
  pg_dir="$work/postgres"
  pg_port=$(free_port)
  pg_password=$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
  pg_pid=""
  mkdir -p "$pg_dir"
  if [ "$(id -u)" -eq 0 ]; then
    # The server user must reach its folder inside the private scratch folder.
    chmod o+x "$work"
    chown postgres: "$pg_dir"
  fi
  chmod 0700 "$pg_dir"
  if ! pg_as_owner "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync > "$pg_dir/initdb.txt" 2>&1; then
    echo "initdb failed:" >&2
    cat "$pg_dir/initdb.txt" >&2
    return 1
  fi
  pg_created=""
}

pg_start() {
  if ! pg_as_owner "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $pg_port -c fsync=off -c full_page_writes=off -k $pg_dir" \
      start > "$pg_dir/pg_ctl.txt" 2>&1; then
    echo "PostgreSQL did not start:" >&2
    cat "$pg_dir/pg_ctl.txt" >&2
    tail -n 20 "$pg_dir/server.log" >&2 || true
    return 1
  fi
  pg_pid=$(head -n 1 "$pg_dir/data/postmaster.pid")
  if [ -z "$pg_created" ]; then
    pg_admin_psql -q -c "CREATE ROLE sluice LOGIN PASSWORD '$pg_password'" \
      -c "CREATE DATABASE sluice OWNER sluice" > /dev/null || return 1
    pg_created=yes
  fi
}

pg_stop() {
  [ -n "${pg_pid:-}" ] || return 0
  kill -INT "$pg_pid" 2> /dev/null || true
  wait_gone "$pg_pid"
  pg_pid=""
}

pg_restart() {
  pg_stop && pg_start
}

pg_kill() {
  [ -n "${pg_pid:-}" ] || return 0
  local children
  children=$(pgrep -P "$pg_pid" || true)
  kill -KILL "$pg_pid" 2> /dev/null || true
  wait_gone "$pg_pid"
  # Backends end by themselves when the postmaster dies; a new postmaster cannot start while one
  # still holds the shared memory, so do not wait for them to notice.
  for child in $children; do kill -KILL "$child" 2> /dev/null || true; done
  for child in $children; do wait_gone "$child"; done
  pg_pid=""
}

pg_url() {
  printf 'postgresql://sluice:%s@127.0.0.1:%s/sluice\n' "$pg_password" "$pg_port"
}

pg_psql() {
  PGCONNECT_TIMEOUT=5 psql "$(pg_url)" -X -v ON_ERROR_STOP=1 "$@"
}

pg_admin_psql() {
  pg_as_owner psql -h "$pg_dir" -p "$pg_port" -U postgres -d postgres -X -v ON_ERROR_STOP=1 "$@"
}

# wait_logged FILE TEXT: until FILE (a run's stderr) holds TEXT, for up to 20 s.
wait_logged() {
  for _ in $(seq 1 400); do
    grep -q -F "$2" "$1" 2> /dev/null && return 0
    sleep 0.05
  done
  echo "'$2' never logged in $1:" >&2
  cat "$1" >&2 || true
  return 1
}

# ids FILE FIELD: the values of FIELD in the JSON lines of FILE, sorted numerically.
ids() {
  ids_in_file_order "$@" | sort -n
}

# ids_in_file_order FILE FIELD: the values of FIELD in the JSON lines of FILE as they come.
ids_in_file_order() {
  "$python" -c 'import json, sys
for line in open(sys.argv[1]):
    if line.strip(): print(json.loads(line)[sys.argv[2]])' "$1" "$2"
}

run_sluice() {
  "$sluice" run --no-progress "$@" 2> stderr.txt
}
