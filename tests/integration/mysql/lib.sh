# What the MySQL integration cases share (sourced by run_tests.sh): one MariaDB server on
# 127.0.0.1 with a fresh data folder and grants (user `sluice` with a password, owning the
# database `sluice`), started, stopped, restarted and killed by the server's PID. What a case
# checks is read back with the `mariadb` client, so that it never depends on Sluice having read it.
#
#   my_setup            makes the data folder (mariadb-install-db), chooses a free port; once
#   my_start            starts the server (first time: creates the user and the database)
#   my_stop             stops it (SIGTERM, a clean shutdown), waits until it is gone
#   my_restart          my_stop + my_start on the same port and data
#   my_kill             SIGKILL to the server; my_start then recovers
#   my_url              prints mysql://sluice:PASSWORD@127.0.0.1:PORT/sluice
#   my_sql ARGS...      the mariadb client as `sluice` on the database `sluice` over TCP, tab-
#                       separated output without column names
#   my_admin ARGS...    the mariadb client as root over the server's Unix socket
#
# Needs $work (the suite's scratch folder) and $python; sets $my_port, $my_password, $my_dir.

# Runs a server program as the user `mysql` when we are root (mariadbd refuses root).
my_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u mysql -- "$@"
  else
    "$@"
  fi
}

my_setup() {
  my_dir="$work/mariadb"
  my_port=$(free_port)
  my_password="pw-$(od -An -tx1 -N9 /dev/urandom | tr -d ' \n')"
  my_pid=""
  mkdir -p "$my_dir"
  if [ "$(id -u)" -eq 0 ]; then
    # The server user must reach its folder inside the private scratch folder.
    chmod o+x "$work"
    chown mysql: "$my_dir"
  fi
  if ! my_as_owner mariadb-install-db --no-defaults --datadir="$my_dir/data" \
      --auth-root-authentication-method=normal --skip-test-db > "$my_dir/install.txt" 2>&1; then
    echo "mariadb-install-db failed:" >&2
    cat "$my_dir/install.txt" >&2
    return 1
  fi
  my_created=""
}

my_start() {
  rm -f "$my_dir/pid"
  my_as_owner "$(my_server)" --no-defaults --datadir="$my_dir/data" --port="$my_port" \
    --bind-address=127.0.0.1 --socket="$my_dir/sock" --pid-file="$my_dir/pid" \
    --log-error="$my_dir/error.log" --skip-name-resolve --skip-log-bin \
    --innodb-flush-log-at-trx-commit=2 --innodb-buffer-pool-size=64M \
    --innodb-log-file-size=64M > /dev/null 2>&1 &
  for _ in $(seq 1 600); do
    if [ -s "$my_dir/pid" ] && my_admin -e "SELECT 1" > /dev/null 2>&1; then
      my_pid=$(cat "$my_dir/pid")
      if [ -z "$my_created" ]; then
        my_admin -e "CREATE DATABASE sluice CHARACTER SET utf8mb4;
          CREATE USER 'sluice'@'%' IDENTIFIED BY '$my_password';
          GRANT ALL ON sluice.* TO 'sluice'@'%';" || return 1
        my_created=yes
      fi
      return 0
    fi
    sleep 0.05
  done
  echo "MariaDB did not start:" >&2
  tail -n 20 "$my_dir/error.log" >&2 || true
  return 1
}

my_server() {
  if command -v mariadbd > /dev/null; then command -v mariadbd; else echo /usr/sbin/mariadbd; fi
}

my_stop() {
  [ -n "${my_pid:-}" ] || return 0
  kill -TERM "$my_pid" 2> /dev/null || true
  wait_gone "$my_pid"
  my_pid=""
}

my_restart() {
  my_stop && my_start
}

my_kill() {
  [ -n "${my_pid:-}" ] || return 0
  kill -KILL "$my_pid" 2> /dev/null || true
  wait_gone "$my_pid"
  my_pid=""
}

my_url() {
  printf 'mysql://sluice:%s@127.0.0.1:%s/sluice\n' "$my_password" "$my_port"
}

my_sql() {
  mariadb --no-defaults -h 127.0.0.1 -P "$my_port" -u sluice -p"$my_password" \
    --default-character-set=utf8mb4 --batch --skip-column-names sluice "$@"
}

my_admin() {
  mariadb --no-defaults -S "$my_dir/sock" -u root "$@"
}

run_sluice() {
  "$sluice" run --no-progress "$@" 2> stderr.txt
}
