# What the InfluxDB integration cases share (sourced by run_tests.sh): one InfluxDB 1.x server
# with authentication on, all its ports on 127.0.0.1, its data in the work folder, started,
# killed and restarted by its PID. What a case checks is read back with HTTP /query
# (influx_check.py), never from Sluice's own account of what it wrote.
#
# The server has one admin user, $user with password $password.

server_setup() {
  server_dir="$work/influxd"
  mkdir -p "$server_dir"
  port=$(free_port)
  local rpc_port
  rpc_port=$(free_port)
  user=sluice
  password="pw-$RANDOM-secret"
  cat > "$server_dir/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc_port"
[meta]
  dir = "$server_dir/meta"
[data]
  dir = "$server_dir/data"
  wal-dir = "$server_dir/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$port"
  auth-enabled = true
  log-enabled = false
[logging]
  level = "warn"
  suppress-logo = true
[continuous_queries]
  enabled = false
CONF
}

server_start() {
  influxd -config "$server_dir/influxdb.conf" >> "$server_dir/influxd.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 200); do
    if curl -sf -o /dev/null "http://127.0.0.1:$port/ping"; then return 0; fi
    if ! kill -0 "$server_pid" 2> /dev/null; then break; fi
    sleep 0.05
  done
  echo "influxd did not start:" >&2
  tail -n 20 "$server_dir/influxd.log" >&2 || true
  return 1
}

# Stops the server by PID: gracefully, or with SIGKILL when $1 is "kill".
server_stop() {
  [ -n "${server_pid:-}" ] || return 0
  if [ "${1:-}" = kill ]; then
    kill -KILL "$server_pid" 2> /dev/null || true
  else
    kill -TERM "$server_pid" 2> /dev/null || true
  fi
  wait "$server_pid" 2> /dev/null || true
  server_pid=""
}

# The first user of a server with authentication on may be created without credentials.
server_create_admin() {
  curl -sf -XPOST "http://127.0.0.1:$port/query" \
    --data-urlencode "q=CREATE USER $user WITH PASSWORD '$password' WITH ALL PRIVILEGES" > /dev/null
}

# influxql QUERY [DATABASE]: runs a statement as the admin user; prints the JSON answer.
influxql() {
  curl -sf -G "http://127.0.0.1:$port/query" -u "$user:$password" --data-urlencode "q=$1" \
    --data-urlencode "db=${2:-}" --data-urlencode "epoch=ns"
}

create_database() {
  influxql "CREATE DATABASE \"$1\"" > /dev/null
}

check() {
  "$python" "$here/influx_check.py" --port "$port" --user "$user" --password "$password" "$@"
}

# Reports a case's result and counts it.

run_sluice() {
  "$sluice" run --no-progress "$@" 2> stderr.txt
}

# Lines of FILE (0 when it does not exist).
lines() {
  if [ -f "$1" ]; then wc -l < "$1" | tr -d ' '; else echo 0; fi
}
