# What the MQTT integration cases share (sourced by run_tests.sh): one Mosquitto broker with
# persistence, started, stopped and restarted by its PID; sessions and collectors made with
# mosquitto_sub, messages published with mosquitto_pub, so that what a case checks never
# depends on Sluice having written it.
#
# The broker has three listeners (per_listener_settings): $port (anonymous), $auth_port
# (user "sluice", password "secret") and $tls_port (TLS with a certificate for 127.0.0.1 signed
# by $work/tls/ca.pem).

broker_setup() {
  broker_dir="$work/broker"
  mkdir -p "$broker_dir" "$work/tls"
  port=$(free_port)
  auth_port=$(free_port)
  tls_port=$(free_port)
  mosquitto_passwd -c -b "$broker_dir/passwords" sluice secret 2> /dev/null
  chmod 0700 "$broker_dir/passwords"
  (
    cd "$work/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sluice test CA" \
      -keyout ca.key -out ca.pem 2> /dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key \
      -out server.csr 2> /dev/null
    printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
      -extfile san.ext -out server.pem 2> /dev/null
  )
  # As root, mosquitto would switch to user mosquitto, which cannot read the private work folder.
  local user=""
  [ "$(id -u)" -eq 0 ] && user="user root"
  cat > "$broker_dir/mosquitto.conf" <<CONF
$user
per_listener_settings true
persistence true
persistence_location $broker_dir/
autosave_interval 1
# Keep every QoS 1/2 message queued for an offline persistent session (default: 1000, and the
# rest are dropped), and let 3.1.1 clients have more than 20 unacknowledged messages.
max_queued_messages 0
max_inflight_messages 1000
log_dest file $broker_dir/mosquitto.log
listener $port 127.0.0.1
allow_anonymous true
listener $auth_port 127.0.0.1
allow_anonymous false
password_file $broker_dir/passwords
listener $tls_port 127.0.0.1
allow_anonymous true
cafile $work/tls/ca.pem
certfile $work/tls/server.pem
keyfile $work/tls/server.key
CONF
}

broker_start() {
  mosquitto -c "$broker_dir/mosquitto.conf" 2>> "$broker_dir/stderr.txt" &
  broker_pid=$!
  for _ in $(seq 1 100); do
    if mosquitto_sub -p "$port" -t ready -E -W 1 2> /dev/null; then return 0; fi
    sleep 0.05
  done
  echo "mosquitto did not start:" >&2
  cat "$broker_dir/stderr.txt" "$broker_dir/mosquitto.log" >&2 || true
  return 1
}

# Stops the broker gracefully (it saves its persistence file), by PID.
broker_stop() {
  [ -n "${broker_pid:-}" ] || return 0
  kill -TERM "$broker_pid" 2> /dev/null || true
  wait "$broker_pid" 2> /dev/null || true
  broker_pid=""
}

# session CLIENT_ID VERSION TOPIC...: creates a persistent session subscribed (QoS 1) to the
# topics, so that messages published from now on wait for CLIENT_ID.
session() {
  local id="$1" version="$2" args=()
  shift 2
  for topic in "$@"; do args+=(-t "$topic"); done
  if [ "$version" = 5 ]; then
    mosquitto_sub -p "$port" -V 5 -i "$id" -c -x 3600 -q 1 "${args[@]}" -E
  else
    mosquitto_sub -p "$port" -V 311 -i "$id" -c -q 1 "${args[@]}" -E
  fi
}

# collected CLIENT_ID TOPIC FILE: everything queued for the persistent session CLIENT_ID
# (made with `session`), one payload per line.
collected() {
  mosquitto_sub -p "$port" -V 5 -i "$1" -c -x 3600 -q 1 -t "$2" -W 2 > "$3" 2> /dev/null || true
}

# publish TOPIC FILE [QOS]: each line of FILE as one message.
publish() {
  mosquitto_pub -p "$port" -q "${3:-1}" -t "$1" -l < "$2"
}

# wait_connected STDERR_FILE [COUNT]: until COUNT sources logged that the broker took their
# subscriptions, or their connection to a session the broker kept (which has them already).
wait_connected() {
  local count="${2:-1}" found
  for _ in $(seq 1 200); do
    found=$(grep -c -E 'subscribed to|broker kept the session' "$1" 2> /dev/null) || found=0
    if [ "$found" -ge "$count" ]; then return 0; fi
    sleep 0.05
  done
  echo "no connection logged in $1:" >&2
  cat "$1" >&2
  return 1
}

# ids FILE FIELD: the values of FIELD in the JSON lines of FILE, sorted numerically.
ids() {
  "$python" -c 'import json, sys
for line in open(sys.argv[1]):
    if line.strip(): print(json.loads(line)[sys.argv[2]])' "$1" "$2" | sort -n
}

run_sluice() {
  "$sluice" run --no-progress "$@" 2> stderr.txt
}
