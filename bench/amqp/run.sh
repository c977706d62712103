#!/usr/bin/env bash
# AMQP benchmark: AMQP -> JSON decode -> filter -> AMQP on one core, beside RabbitMQ's own load
# generator, PerfTest (com.rabbitmq:perf-test, fetched from Maven Central into
# .deps/amqp-bench on first use), as the limit. A RabbitMQ node of its own
# (tests/integration/amqp/broker.sh) on 127.0.0.1. Before each run a fresh durable input queue
# is filled with the same generated ~100-byte JSON quotes (generator -> amqp sink, persistent).
#
#   sluice     reads them all (manual acks, prefetch 20000, batches of 5000, until: count),
#              decodes each with the declared schema, keeps volume > 2500 (three quarters) and
#              publishes those as persistent JSON with publisher confirms to an output queue;
#              a batch's input is acknowledged once its output is confirmed.
#   perf_test  one PerfTest process with one consumer and one producer: the consumer reads the
#              whole input queue (manual acks, --qos 20000, --multi-ack-every 5000), the
#              producer publishes as many persistent 100-byte messages as Sluice published to
#              an output queue (--confirm 5000 unconfirmed at most). It does the same broker
#              work with nothing else (no decoding, no filtering).
#
# Usage: bench/amqp/run.sh [--messages N] [--repeat N] [--perf FILE]
#   Defaults: 500,000 messages, 3 rounds. Each round runs Sluice, then PerfTest (interleaved,
#   so that other load on the machine falls on both); the figure is the median of the rounds.
#   --perf FILE: after the rounds, one more (untimed) Sluice run under
#   `perf record -e cpu-clock -F 999 -g`, written to FILE.
#   Builds nothing: run `cmake --preset release && cmake --build build/release --target sluice`
#   first. Environment: SLUICE_BIN (default build/release/sluice). PerfTest needs Java and
#   Maven.
#
# Prints one JSON line per engine and one with the ratio and the load average:
#   {"benchmark":"amqp_filter","engine":"sluice"|"perf_test","messages":N,"published":P,
#    "bytes":B,"seconds":…,"messages_per_s":…,"cpu_s":…,"broker_cpu_s":…,"runs":[…]}
# Both are pinned to CPU 0 with taskset (every thread: Sluice's source, pipeline and sink
# threads; PerfTest's consumer, producer, I/O, JIT and GC threads); the broker runs unpinned.
# seconds is each engine's own measure of the work, without process start-up: Sluice's run time
# from its summary line (connecting, consuming, decoding, filtering, publishing, the last
# confirm and ack); PerfTest's test time (input messages / its "receiving rate avg", which it
# takes over the whole test, until both its consumer and its producer reached their counts).
# messages_per_s = input messages / seconds. cpu_s is the engine process's CPU time (user +
# system), broker_cpu_s the broker's (its Erlang VM) during the same run; medians of the rounds.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/bench/amqp"
messages=500000
repeat=3
profile=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --messages) messages="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --perf) profile="$(realpath -m "$2")"; shift 2 ;;
    -h|--help) sed -n '2,37p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
sluice="$(realpath "${SLUICE_BIN:-$root/build/release/sluice}")"
[[ -x "$sluice" ]] || { echo "no Sluice binary at $sluice; build the release preset first" >&2; exit 1; }

libs="$root/.deps/amqp-bench/perf-test-$(sed -n 's:.*<version>\(2\.[0-9.]*\)</version>.*:\1:p' "$here/pom.xml")"
if [[ ! -f "$libs/.complete" ]]; then
  mkdir -p "$libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >&2
  touch "$libs/.complete"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-amqp-bench.XXXXXX")"
export SLUICE_AMQP_INSTANCE="$work/instance"
broker() { bash "$root/tests/integration/amqp/broker.sh" "$@"; }
cleanup() { broker stop || true; rm -rf "$work"; }
trap cleanup EXIT
url="$(broker start | tail -n 1)"
cd "$work"

# fill QUEUE: MESSAGES quotes (about 100 bytes of JSON each) into the durable queue QUEUE.
fill() {
  cat > produce.yaml <<YAML
name: produce
sources:
  quotes: {connector: generator, count: $messages, seed: 1, symbols: 50}
pipeline:
  - derive: {venue: "'XNAS'"}
sinks:
  queue: {connector: amqp, url: '$url', routing_key: $1, declare: {queue: {name: $1}}}
YAML
  "$sluice" run --no-progress produce.yaml 2> produce.log || { cat produce.log >&2; exit 1; }
}

# declare QUEUE: the durable output queue PerfTest publishes to (the sink declares it on opening;
# the one generated row is filtered out).
declare_queue() {
  cat > declare.yaml <<YAML
name: declare
sources:
  one: {connector: generator, count: 1}
pipeline:
  - filter: "false"
sinks:
  queue: {connector: amqp, url: '$url', routing_key: $1, declare: {queue: {name: $1}}}
YAML
  "$sluice" run --no-progress declare.yaml 2> declare.log || { cat declare.log >&2; exit 1; }
}

# broker_cpu: CPU seconds the broker's Erlang VM (the node's beam.smp) has used so far.
clock_ticks=$(getconf CLK_TCK)
beam=$(pgrep -P "$(cat "$SLUICE_AMQP_INSTANCE/pid")" beam.smp)
broker_cpu() { awk -v hz="$clock_ticks" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$beam/stat"; }

# drop QUEUE...: delete the round's queues so that the node holds no backlog into the next run.
drop() { for queue in "$@"; do broker ctl delete_queue "$queue" > /dev/null; done; }

# run_sluice ROUND [perf record args...]: runs the pipeline on the filled queue in-sluice-ROUND;
# prints "seconds published process_seconds cpu_seconds broker_cpu_seconds".
run_sluice() {
  local round="$1"; shift
  cat > pipeline.yaml <<YAML
name: amqp-filter
sources:
  quotes:
    connector: amqp
    url: '$url'
    queue: in-sluice-$round
    prefetch: 20000
    batch_size: 5000
    until: {count: $messages}
    schema: {symbol: string, bid: double, ask: double, volume: int64, ts: timestamp, venue: string}
pipeline:
  - filter: "volume > 2500"
sinks:
  out: {connector: amqp, url: '$url', routing_key: out-sluice-$round, declare: {queue: {name: out-sluice-$round}}}
YAML
  local start end summary broker_start broker_end
  broker_start=$(broker_cpu)
  start=$(date +%s.%N)
  "$@" /usr/bin/time -o cpu.txt -f '%U %S' taskset -c 0 "$sluice" run --no-progress pipeline.yaml 2> pipeline.log ||
    { cat pipeline.log >&2; exit 1; }
  end=$(date +%s.%N)
  broker_end=$(broker_cpu)
  # sluice: pipeline 'amqp-filter' finished: N rows in, P rows out, 0 dead letters, S s (…)
  summary=$(grep "pipeline 'amqp-filter' finished" pipeline.log)
  [[ "$summary" =~ finished:\ ([0-9]+)\ rows?\ in,\ ([0-9]+)\ rows?\ out,\ 0\ dead\ letters,\ ([0-9.]+)\ s ]] &&
    [[ "${BASH_REMATCH[1]}" = "$messages" ]] || { echo "unexpected Sluice summary: $summary" >&2; exit 1; }
  drop "in-sluice-$round" "out-sluice-$round"
  echo "${BASH_REMATCH[3]} ${BASH_REMATCH[2]} $(echo "$end - $start" | bc)" \
    "$(awk '{ print $1 + $2 }' cpu.txt) $(echo "$broker_end - $broker_start" | bc)"
}

# run_perf_test ROUND PUBLISHED: runs PerfTest on the filled queue in-perf-ROUND; prints its
# "seconds cpu_seconds broker_cpu_seconds".
run_perf_test() {
  local round="$1" published="$2" rate broker_start broker_end
  declare_queue "out-perf-$round"
  # -e '' -k QUEUE: publish through the default exchange straight to the output queue;
  # --predeclared --skip-binding-queues: consume the filled queue as it is.
  broker_start=$(broker_cpu)
  /usr/bin/time -o cpu.txt -f '%U %S' taskset -c 0 java -cp "$libs/*" com.rabbitmq.perf.PerfTest --uri "${url%/}" \
    --producers 1 --consumers 1 --exchange '' --routing-key "out-perf-$round" \
    --queue "in-perf-$round" --predeclared --skip-binding-queues \
    --cmessages "$messages" --pmessages "$published" --size 100 --flag persistent \
    --qos 20000 --multi-ack-every 5000 --confirm 5000 \
    --disable-connection-recovery > perf-test.log 2>&1 || { cat perf-test.log >&2; exit 1; }
  broker_end=$(broker_cpu)
  grep -q "test stopped (Producer reached message limit, Consumer reached message limit)" perf-test.log ||
    { echo "PerfTest did not reach its message counts:" >&2; tail -n 5 perf-test.log >&2; exit 1; }
  rate=$(sed -n 's/.*receiving rate avg: \([0-9.]*\) msg\/s.*/\1/p' perf-test.log)
  drop "in-perf-$round" "out-perf-$round"
  echo "$(echo "$messages / $rate" | bc -l) $(awk '{ print $1 + $2 }' cpu.txt) $(echo "$broker_end - $broker_start" | bc)"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
runs_json() { printf '%s\n' "$@" | awk '{ printf "%s%.3f", (NR > 1 ? "," : ""), $1 }'; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
bytes=0
sluice_times=() sluice_cpu=() sluice_broker=()
perf_times=() perf_cpu=() perf_broker=()
published=0
for round in $(seq 1 "$repeat"); do
  fill "in-sluice-$round"
  if [[ "$bytes" = 0 ]]; then
    bytes=$(broker ctl list_queues -q name message_bytes | awk -v q="in-sluice-$round" '$1 == q { print $2 }')
  fi
  read -r seconds published process_seconds cpu broker_seconds < <(run_sluice "$round")
  sluice_times+=("$seconds") sluice_cpu+=("$cpu") sluice_broker+=("$broker_seconds")
  echo "round $round: sluice $seconds s ($process_seconds s process, $cpu s CPU, broker $broker_seconds s CPU), load $(cut -d' ' -f1 /proc/loadavg)" >&2
  fill "in-perf-$round"
  read -r seconds cpu broker_seconds < <(run_perf_test "$round" "$published")
  perf_times+=("$seconds") perf_cpu+=("$cpu") perf_broker+=("$broker_seconds")
  printf 'round %d: perf_test %.3f s (%s s CPU, broker %s s CPU), load %s\n' "$round" "$seconds" "$cpu" "$broker_seconds" "$(cut -d' ' -f1 /proc/loadavg)" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ -n "$profile" ]]; then
  fill in-sluice-profile
  read -r seconds _ process_seconds cpu broker_seconds < <(run_sluice profile perf record -q -e cpu-clock -F 999 -g -o "$profile" --)
  echo "profile of one more Sluice run in $profile: $seconds s ($cpu s CPU, broker $broker_seconds s CPU)" >&2
fi

sluice_median=$(printf '%s\n' "${sluice_times[@]}" | median)
perf_median=$(printf '%s\n' "${perf_times[@]}" | median)
# line ENGINE SECONDS CPU BROKER_CPU RUNS
line() {
  printf '{"benchmark":"amqp_filter","engine":"%s","messages":%d,"published":%d,"bytes":%d,"seconds":%.3f,"messages_per_s":%.0f,"cpu_s":%.2f,"broker_cpu_s":%.2f,"runs":[%s]}\n' \
    "$1" "$messages" "$published" "$bytes" "$2" "$(echo "$messages / $2" | bc -l)" "$3" "$4" "$5"
}
line sluice "$sluice_median" "$(printf '%s\n' "${sluice_cpu[@]}" | median)" \
  "$(printf '%s\n' "${sluice_broker[@]}" | median)" "$(runs_json "${sluice_times[@]}")"
line perf_test "$perf_median" "$(printf '%s\n' "${perf_cpu[@]}" | median)" \
  "$(printf '%s\n' "${perf_broker[@]}" | median)" "$(runs_json "${perf_times[@]}")"
printf '{"benchmark":"amqp_filter","ratio_sluice_to_perf_test":%.3f,"load_average_before":"%s","load_average_after":"%s"}\n' \
  "$(echo "$perf_median / $sluice_median" | bc -l)" "$load_before" "$load_after"
