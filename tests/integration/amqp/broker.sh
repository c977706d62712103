#!/usr/bin/env bash
# A real RabbitMQ node on 127.0.0.1, for the AMQP integration tests.
#
#   broker.sh start     starts it and prints its AMQP URL (amqp://guest:guest@127.0.0.1:PORT/)
#                       as the last line of stdout; everything else goes to stderr. It also
#                       listens for TLS on the port in $SLUICE_AMQP_INSTANCE/tls_port, with a
#                       certificate signed by the CA in $SLUICE_AMQP_INSTANCE/tls/ca.pem
#   broker.sh stop      stops it (rabbitmqctl shutdown), then the epmd it started, by process id,
#                       and removes its data
#   broker.sh restart   stops the node and starts it again on the same port with the same data
#                       (durable queues and persistent messages survive)
#   broker.sh ctl ARGS  runs rabbitmqctl ARGS against it
#
# The node has a name, AMQP port, distribution port and epmd port of its own, so it never meets
# another node on the machine. The instance is described by files in $SLUICE_AMQP_INSTANCE.
set -euo pipefail

instance="${SLUICE_AMQP_INSTANCE:?set SLUICE_AMQP_INSTANCE to a folder for the instance}"
server=/usr/lib/rabbitmq/bin/rabbitmq-server
ctl=/usr/lib/rabbitmq/bin/rabbitmqctl
ready_timeout="${SLUICE_AMQP_READY_TIMEOUT:-60}"

log() { printf '[rabbitmq] %s\n' "$*" >&2; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# The environment of the node and of rabbitmqctl.
node_environment() {
  export HOME="$instance/home"
  export RABBITMQ_NODENAME="$(cat "$instance/node")"
  export RABBITMQ_CONFIG_FILE="$instance/rabbitmq.conf"
  export RABBITMQ_MNESIA_BASE="$instance/mnesia"
  export RABBITMQ_LOG_BASE="$instance/log"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$instance/enabled_plugins"
  export RABBITMQ_DIST_PORT="$(cat "$instance/dist_port")"
  export ERL_EPMD_PORT="$(cat "$instance/epmd_port")"
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_SERVER_ERL_ARGS="+S 1:1 +A 8"
}

port_open() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(0.2)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

launch() {
  node_environment
  local port pid waited=0
  port="$(cat "$instance/port")"
  # The node's epmd, started here (not as a daemon) so that its process id is known.
  if [ ! -s "$instance/epmd_pid" ]; then
    setsid epmd -address 127.0.0.1 -port "$ERL_EPMD_PORT" >>"$instance/log/epmd.log" 2>&1 </dev/null &
    printf '%s\n' "$!" > "$instance/epmd_pid"
  fi
  # setsid: the node must not get the terminal's signals.
  setsid "$server" >>"$instance/log/stdout.log" 2>&1 </dev/null &
  pid=$!
  printf '%s\n' "$pid" > "$instance/pid"
  until port_open "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "the node exited during start-up; its last log lines:"
      tail -n 20 "$instance/log/stdout.log" >&2 || true
      exit 1
    fi
    if [ "$waited" -ge $((ready_timeout * 10)) ]; then
      log "the node was not ready after ${ready_timeout}s"
      tail -n 20 "$instance/log/stdout.log" >&2 || true
      exit 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  log "ready on 127.0.0.1:$port (node $RABBITMQ_NODENAME, pid $pid, after $((waited / 10)).$((waited % 10))s)"
}

start() {
  mkdir -p "$instance/home" "$instance/mnesia" "$instance/log"
  local port
  port="$(free_port)"
  printf '%s\n' "$port" > "$instance/port"
  free_port > "$instance/dist_port"
  free_port > "$instance/epmd_port"
  printf 'sluice-%s-%s@localhost\n' "$$" "$RANDOM" > "$instance/node"
  free_port > "$instance/tls_port"
  printf '[].\n' > "$instance/enabled_plugins"
  make_certificates
  cat > "$instance/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$port
listeners.ssl.1 = 127.0.0.1:$(cat "$instance/tls_port")
ssl_options.cacertfile = $instance/tls/ca.pem
ssl_options.certfile = $instance/tls/server.pem
ssl_options.keyfile = $instance/tls/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
loopback_users = none
log.console = false
log.file.level = warning
CONF
  launch
  printf 'amqp://guest:guest@127.0.0.1:%s/\n' "$port"
}

# A certificate authority of the instance's own and a server certificate it signs, for
# 127.0.0.1 and localhost, for the TLS listener (its port in tls_port; the CA in
# tls/ca.pem).
make_certificates() {
  local tls="$instance/tls"
  mkdir -p "$tls"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/ca.key" -out "$tls/ca.pem" -days 2 \
    -subj "/CN=sluice-test-ca" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$tls/server.key" -out "$tls/server.csr" \
    -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$tls/san.ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
    -CAcreateserial -out "$tls/server.pem" -days 2 -extfile "$tls/san.ext" 2>/dev/null
}

shutdown_node() {
  node_environment
  local pid waited=0
  pid="$(cat "$instance/pid" 2>/dev/null || true)"
  [ -n "$pid" ] || return 0
  "$ctl" shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge 300 ]; then
      log "pid $pid did not exit within 30s; killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$instance/pid"
}

stop() {
  [ -f "$instance/node" ] || return 0
  shutdown_node
  local epmd
  epmd="$(cat "$instance/epmd_pid" 2>/dev/null || true)"
  [ -n "$epmd" ] && kill "$epmd" 2>/dev/null || true
  rm -rf "$instance"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) shutdown_node; launch ;;
  ctl) shift; node_environment; "$ctl" "$@" ;;
  *) echo "usage: $0 start|stop|restart|ctl ARGS" >&2; exit 2 ;;
esac
