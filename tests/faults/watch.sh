# Watched folders (`watch:`): files that arrive while a pipeline runs are each read once, whole;
# a file still being written is not read early; with checkpoints, a pipeline killed with SIGKILL
# again and again while files arrive commits every row exactly once and moves every file to
# processed/ only after its rows are committed; without checkpoints the state file keeps a
# restart from reading a file twice; bad watch settings are clear errors.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$FAULTS_DIR/../kill_repeatedly.sh"
PYTHON="$(cd "$FAULTS_DIR/../.." && pwd)/.deps/venv/bin/python"
[ -x "$PYTHON" ] || PYTHON=python3

# put FILE FIRST COUNT: writes COUNT rows (id FIRST...) as FILE, under a hidden name first and
# renamed into place, as a producer that wants its file read only whole does.
put() {
  local file="$1" first="$2" count="$3"
  local hidden
  hidden="$(dirname "$file")/.$(basename "$file").tmp"
  { echo "id,name"; seq "$first" $((first + count - 1)) | sed 's/.*/&,n&/'; } > "$hidden"
  mv "$hidden" "$file"
}

# ids FILE...: the ids of JSON lines files, sorted numerically.
ids() { cat "$@" 2> /dev/null | grep -o '"id":[0-9]*' | cut -d: -f2 | sort -n; }

# wait_for SECONDS COMMAND...: until COMMAND succeeds; false after SECONDS.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# A run left in the background by a failed check is stopped with the script.
pid=
trap '[ -n "$pid" ] && kill "$pid" 2> /dev/null || true' EXIT

# --- Without checkpoints: files arriving while running, a slow writer, hidden names, state. ---
mkdir -p plain/in
cd plain
put in/a.csv 1 100
cat > p.yaml <<'YAML'
name: watch-plain
sources:
  ev:
    connector: file
    path: in/*.csv
    schema: {id: int64, name: string}
    watch: {interval: 100ms, settle: 500ms, on_done: {move: processed/}}
sinks:
  out: {connector: file, path: out.jsonl}
YAML
"$SLUICE" run --no-progress p.yaml 2> stderr.txt &
pid=$!
put in/b.csv 101 100
# A slow writer: the file grows in steps shorter than settle and must be read once, whole.
{ echo "id,name"; seq 201 250 | sed 's/.*/&,n&/'; } > in/c.csv
for step in 1 2 3; do
  sleep 0.2
  seq $((250 + (step - 1) * 50 + 1)) $((250 + step * 50)) | sed 's/.*/&,n&/' >> in/c.csv
done
echo "id,name" > in/_SUCCESS  # a marker-like name: never read
sleep 2
signal_run TERM "$pid"
expect_status 0 "watch stopped with SIGTERM"
[ "$(ids out.jsonl | tr '\n' ' ')" = "$(seq 1 400 | tr '\n' ' ')" ] ||
  fail "watch without checkpoints: $(ids out.jsonl | wc -l) rows, $(ids out.jsonl | uniq -d | wc -l) repeated; expected ids 1..400 once each"
[ "$(ls in/processed | tr '\n' ' ')" = "a.csv b.csv c.csv " ] ||
  fail "on_done move: processed/ holds '$(ls in/processed | tr '\n' ' ')'"
[ -f in/_SUCCESS ] || fail "the _SUCCESS file was moved or deleted"
grep -q '"in/c.csv"' .p.yaml.ev.watch.json || fail "the state file lacks in/c.csv: $(ls -a)"
pass

# A restart reads only the file that arrived since (the others were moved: put one back too).
cp in/processed/a.csv in/a.csv
put in/d.csv 401 10
mv out.jsonl first.jsonl
"$SLUICE" run --no-progress p.yaml 2> stderr.txt &
pid=$!
wait_for 10 test -s out.jsonl || true
sleep 0.5
signal_run TERM "$pid"
expect_status 0 "the restarted watch"
[ "$(ids out.jsonl | tr '\n' ' ')" = "$(seq 401 410 | tr '\n' ' ')" ] ||
  fail "restart without checkpoints read ids '$(ids out.jsonl | tr '\n' ' ')', expected 401..410 (a.csv is not read twice)"
pass
cd ..

# --- With checkpoints: 10 SIGKILLs while 30 files arrive; exactly once, moved after commit. ---
mkdir -p kill/in
cd kill
cat > p.yaml <<'YAML'
name: watch-kill
sources:
  ev:
    connector: file
    path: in/*.csv
    schema: {id: int64, name: string}
    batch_size: 100
    watch: {interval: 50ms, on_done: {move: processed/}}
checkpoint: {dir: state, interval: 100ms}
sinks:
  out: {connector: file, path: "out/part-{part}.jsonl", roll: {rows: 700}}
YAML
(
  for f in $(seq 0 29); do
    put "in/f-$(printf '%02d' "$f").csv" $((f * 1000 + 1)) 1000
    sleep 0.15
  done
) &
producer=$!
kill_repeatedly 10 300 700 "$SLUICE" run --no-progress p.yaml
wait "$producer"
[ "$kills" -ge 5 ] || fail "only $kills of 10 kills came before the run ended"
"$SLUICE" run --no-progress p.yaml 2> stderr.txt &
pid=$!
all_processed() { [ "$(ls in/processed 2> /dev/null | wc -l)" -eq 30 ]; }
wait_for 60 all_processed ||
  fail "after the kills, $(ls in/processed | wc -l) of 30 files reached processed/ ($(ls in | tr '\n' ' '))"
signal_run TERM "$pid"
[ "$status" -eq 0 ] || [ "$status" -eq 143 ] || fail "the last run ended with status $status"
expected="$(seq 1 30000 | tr '\n' ' ')"
actual="$(ids out/part-*.jsonl | tr '\n' ' ')"
[ "$actual" = "$expected" ] ||
  fail "after $kills kills: $(ids out/part-*.jsonl | wc -l) rows committed, $(ids out/part-*.jsonl | uniq -d | wc -l) repeated, expected 30000 once each"
[ -z "$(ls in | grep -v processed || true)" ] || fail "files left in in/: $(ls in)"
[ -z "$(ls -A out | grep '^\.' || true)" ] || fail "temporary parts left: $(ls -A out | head)"
echo "killed $kills times while 30 files arrived; 30000 rows committed once each, every file moved"
pass
cd ..

# --- A marker: nothing of a folder is read before its _SUCCESS. ---
mkdir -p marker/in/day1
cd marker
cat > p.yaml <<'YAML'
name: watch-marker
sources:
  ev:
    connector: file
    path: in/*/*.csv
    schema: {id: int64, name: string}
    watch: {interval: 50ms, marker: _SUCCESS}
sinks:
  out: {connector: file, path: out.jsonl}
YAML
"$SLUICE" run --no-progress p.yaml 2> stderr.txt &
pid=$!
{ echo "id,name"; echo "1,a"; } > in/day1/x.csv
sleep 0.6
grep -q "new file" stderr.txt && fail "a file was read before its folder's _SUCCESS"
touch in/day1/_SUCCESS
wait_for 10 grep -q "new file" stderr.txt || fail "the file was not read after _SUCCESS appeared"
sleep 0.3
signal_run TERM "$pid"
expect_status 0 "watch with a marker"
[ "$(ids out.jsonl)" = "1" ] || fail "marker: ids '$(ids out.jsonl | tr '\n' ' ')'"
pass
cd ..

# --- Errors: clear, at the option, before the run. ---
mkdir -p errors/in
cd errors
cat > noschema.yaml <<'YAML'
name: watch-errors
sources:
  ev:
    connector: file
    path: in/*.csv
    watch: {interval: 1s}
sinks:
  out: {connector: file, path: out.jsonl}
YAML
run_sluice validate noschema.yaml
expect_status 2 "watch over an empty folder without schema"
expect_stderr "noschema.yaml:5:" "watch over an empty folder without schema"
expect_stderr "declare them with schema" "watch over an empty folder without schema"
sed 's/watch: {interval: 1s}/watch: {on_done: move}/; s#path: in/\*.csv#path: in/*.csv\n    schema: {id: int64}#' noschema.yaml > nomove.yaml
run_sluice validate nomove.yaml
expect_status 2 "on_done: move without a folder"
expect_stderr "needs the folder" "on_done: move without a folder"
sed 's/watch: {interval: 1s}/watch: {interval: 0ms}/' noschema.yaml > tiny.yaml
run_sluice validate tiny.yaml
expect_status 2 "a watch interval of 0"
expect_stderr "tiny.yaml:6:" "a watch interval of 0"
pass
cd ..

finish
