# SIGINT and SIGTERM: a bounded run publishes nothing, keeps previous outputs and exits 130/143;
# an unbounded run commits what is complete and drops the windows that have not closed; a second
# signal, or a write blocked on a full pipe, ends the run within a second.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_quotes in.csv 1000000
cat > bounded.yaml <<'YAML'
name: bounded
sources:
  quotes: {connector: file, path: in.csv, batch_size: 4096}
pipeline:
  - derive: {doubled: "price * 2"}
sinks:
  archive: {connector: file, path: out/archive.parquet}
  copy: {connector: file, path: out/copy.jsonl}
YAML
run_sluice run --no-progress bounded.yaml
expect_status 0 "complete run"
archive_before=$(file_digest out/archive.parquet)
copy_before=$(file_digest out/copy.jsonl)
pass

# interrupt SIGNAL DELAY: signals a bounded run after DELAY seconds.
interrupt() {
  "$SLUICE" run --no-progress bounded.yaml 2> stderr.txt &
  local pid=$!
  sleep "$2"
  signal_run "$1" "$pid"
}
interrupted=0
for attempt in 1 2 3 4 5 6; do
  delay="0.$(( RANDOM % 700 + 300 ))"
  for signal in TERM INT; do
    interrupt "$signal" "$delay"
    what="SIG$signal after ${delay}s"
    # A run that ended before the signal came is complete and may publish: only when the
    # signal interrupted it must nothing be published.
    if [ "$status" -eq 0 ]; then
      archive_before=$(file_digest out/archive.parquet)
      copy_before=$(file_digest out/copy.jsonl)
      continue
    fi
    if [ "$signal" = TERM ]; then expect_status 143 "$what"; else expect_status 130 "$what"; fi
    expect_stderr "no output published" "$what"
    expect_no_stderr "finished" "$what"
    [ "$(file_digest out/archive.parquet)" = "$archive_before" ] || fail "$what: archive replaced"
    [ "$(file_digest out/copy.jsonl)" = "$copy_before" ] || fail "$what: copy replaced"
    [ -z "$(ls -A out | grep sluice- || true)" ] || fail "$what: temporary files left: $(ls -A out)"
    interrupted=$((interrupted + 1))
    pass
  done
done
[ "$interrupted" -ge 6 ] || fail "only $interrupted of 12 signals came before the run ended"

# An unbounded run: windows that closed are committed, the open ones are not emitted as final.
cat > stream.yaml <<'YAML'
name: stream
sources:
  quotes:
    connector: generator
    rate: 20000
    batch_size: 1000
    linger: 10ms
    event_time: ts
pipeline:
  - window: {tumbling: 1s, group_by: [symbol], aggregate: {bid: [count]}}
sinks:
  windows: {connector: file, path: out/windows.jsonl}
YAML
"$SLUICE" run --no-progress stream.yaml 2> stderr.txt &
pid=$!
sleep 3.5
signal_run TERM "$pid"
expect_status 0 "unbounded run stopped by SIGTERM"
expect_stderr "pipeline 'stream' stopped" "unbounded run stopped by SIGTERM"
expect_stderr "had not closed discarded" "unbounded run stopped by SIGTERM"
[ "$(lines out/windows.jsonl)" -gt 0 ] || fail "unbounded run: no complete window was committed"
# The generator's event time moves 1 ms per row: every window emitted is complete, 1000 rows.
python3 - out/windows.jsonl <<'PY' || fail "unbounded run: a window that had not closed was emitted"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
counts = {}
for row in rows:
    counts[row["window_start"]] = counts.get(row["window_start"], 0) + row["count"]
bad = {start: count for start, count in counts.items() if count != 1000}
sys.exit(1 if bad else 0)
PY
pass

# A second signal ends the run at once, publishing nothing.
cat > slow.yaml <<'YAML'
name: slow
sources:
  quotes: {connector: generator, count: 100000000, batch_size: 1000}
pipeline:
  - window: {count: 1000000000, group_by: [symbol], aggregate: {bid: [count]}}
sinks:
  out: {connector: file, path: out/slow.jsonl}
YAML
"$SLUICE" run --no-progress slow.yaml 2> stderr.txt &
pid=$!
sleep 1
kill -INT "$pid"
signal_run INT "$pid"
expect_status 130 "second signal"
[ "$elapsed_ms" -lt 1000 ] || fail "second signal: took ${elapsed_ms} ms to stop"
[ ! -e out/slow.jsonl ] || fail "second signal: output published"
[ -z "$(ls -A out | grep sluice- || true)" ] || fail "second signal: temporary files left"
pass

# A run blocked writing to a full pipe stops within a second of SIGINT.
cat > piped.yaml <<'YAML'
name: piped
sources:
  quotes: {connector: file, path: in.csv}
sinks:
  screen: {connector: console, format: jsonl}
  archive: {connector: file, path: out/piped.csv}
YAML
mkfifo full_pipe
sleep 60 < full_pipe &
reader=$!
"$SLUICE" run --no-progress piped.yaml > full_pipe 2> stderr.txt &
pid=$!
sleep 2
signal_run INT "$pid"
kill "$reader" 2>/dev/null || true
expect_status 130 "blocked pipe"
expect_stderr "no output published" "blocked pipe"
[ "$elapsed_ms" -lt 1500 ] || fail "blocked pipe: took ${elapsed_ms} ms to stop"
[ ! -e out/piped.csv ] || fail "blocked pipe: output published"
pass

finish
