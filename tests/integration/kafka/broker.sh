#!/usr/bin/env bash
# A real, single-node Apache Kafka 4.x broker (KRaft: broker and controller in one JVM) on
# 127.0.0.1, for the integration tests.
#
#   broker.sh start   starts it (or finds it running) and prints its bootstrap address
#                     (host:port) as the last line of stdout; everything else goes to stderr
#   broker.sh stop    stops it by its process id, waits for it to exit and removes its data
#
# On first use the broker and its runtime dependencies are fetched from Maven Central (with the
# pom.xml beside this script) into .deps/kafka/libs, which is git-ignored. Java 17 and Maven are
# needed. The instance (pid, address, data and log folder) is described by files in
# $SLUICE_KAFKA_INSTANCE (default .deps/kafka/instance), so several instances can coexist.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cache="$root/.deps/kafka"
libs="$cache/libs"
instance="${SLUICE_KAFKA_INSTANCE:-$cache/instance}"
ready_timeout="${SLUICE_KAFKA_READY_TIMEOUT:-90}"

log() { printf '[kafka-broker] %s\n' "$*" >&2; }

running_pid() {
  local pid
  [ -f "$instance/pid" ] || return 1
  pid="$(cat "$instance/pid")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  printf '%s\n' "$pid"
}

fetch() {
  local stamp="$libs/.complete"
  [ -f "$stamp" ] && return 0
  command -v java >/dev/null || { log "java is not installed"; exit 3; }
  command -v mvn >/dev/null || { log "maven (mvn) is not installed"; exit 3; }
  log "fetching Apache Kafka from Maven Central into $libs (first use only)"
  rm -rf "$libs"
  mkdir -p "$libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >&2
  touch "$stamp"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local pid
  if pid="$(running_pid)"; then
    log "already running (pid $pid)"
    cat "$instance/address"
    return 0
  fi
  fetch
  mkdir -p "$instance"
  local data port controller_port cluster_id
  data="$(mktemp -d "${TMPDIR:-/tmp}/sluice-kafka.XXXXXX")"
  port="$(free_port)"
  controller_port="$(free_port)"
  while [ "$controller_port" = "$port" ]; do controller_port="$(free_port)"; done
  cat > "$data/server.properties" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$data/logs
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPERTIES
  cat > "$data/log4j2.properties" <<'LOG4J'
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
LOG4J
  local java_options=(-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
    "-Dkafka.logs.dir=$data" "-Dlog4j2.configurationFile=$data/log4j2.properties")
  cluster_id="$(java "${java_options[@]}" -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>>"$data/tool.log" | tail -n 1)"
  java "${java_options[@]}" -cp "$libs/*" kafka.tools.StorageTool format --standalone -t "$cluster_id" \
    -c "$data/server.properties" >>"$data/tool.log" 2>&1 || { log "formatting the log folder failed: $(tail -n 5 "$data/tool.log")"; exit 1; }
  # setsid: the broker must outlive this script and not get the terminal's signals.
  setsid java "${java_options[@]}" -cp "$libs/*" kafka.Kafka "$data/server.properties" \
    >"$data/stdout.log" 2>&1 </dev/null &
  pid=$!
  printf '%s\n' "$pid" > "$instance/pid"
  printf '%s\n' "$data" > "$instance/data"
  printf '127.0.0.1:%s\n' "$port" > "$instance/address"
  local waited=0
  until grep -q "Kafka Server started" "$data/server.log" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "the broker exited during start-up; its last log lines:"
      tail -n 20 "$data/server.log" "$data/stdout.log" >&2 2>/dev/null || true
      rm -f "$instance/pid"
      exit 1
    fi
    if [ "$waited" -ge $((ready_timeout * 10)) ]; then
      log "the broker was not ready after ${ready_timeout}s; stopping it; its last log lines:"
      tail -n 20 "$data/server.log" "$data/stdout.log" >&2 2>/dev/null || true
      stop
      exit 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  log "ready on 127.0.0.1:$port (pid $pid, data in $data)"
  cat "$instance/address"
}

stop() {
  local pid data
  if pid="$(running_pid)"; then
    kill "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$waited" -ge 300 ]; then
        log "pid $pid did not exit within 30s of SIGTERM; killing it"
        kill -9 "$pid" 2>/dev/null || true
      fi
      sleep 0.1
      waited=$((waited + 1))
    done
  fi
  if [ -f "$instance/data" ]; then
    data="$(cat "$instance/data")"
    case "$data" in
      "${TMPDIR:-/tmp}"/sluice-kafka.*) rm -rf "$data" ;;
    esac
  fi
  rm -f "$instance/pid" "$instance/data" "$instance/address"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  fetch) fetch ;;
  *) echo "usage: $0 start|stop|fetch" >&2; exit 2 ;;
esac
