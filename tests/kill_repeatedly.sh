# Shared by the recovery tests (tests/faults/checkpoints.sh, tests/integration/kafka/recovery.sh).
# kill_repeatedly TIMES MIN_MS MAX_MS COMMAND...: runs COMMAND (its stderr to stderr.txt) TIMES
# times, one after the other, and kills each run with SIGKILL after a random MIN_MS to MAX_MS
# milliseconds. Sets $kills to the number of runs still going when their kill came.
kill_repeatedly() {
  local times="$1" min="$2" max="$3" pid delay
  shift 3
  kills=0
  for _ in $(seq 1 "$times"); do
    "$@" 2> stderr.txt &
    pid=$!
    delay=$(( min + RANDOM % (max - min + 1) ))
    sleep "$(( delay / 1000 )).$(printf '%03d' $(( delay % 1000 )))"
    if kill -0 "$pid" 2> /dev/null; then
      kill -KILL "$pid" 2> /dev/null || true
      kills=$((kills + 1))
    fi
    { wait "$pid"; } 2> /dev/null || true
  done
}
