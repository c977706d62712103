# Checkpoints and recovery: a file -> dedup + window -> rolling Parquet pipeline killed with
# SIGKILL at 20 random moments, and restarted each time, commits exactly the rows of an
# uninterrupted run, none missing and none twice; SIGTERM saves a checkpoint that the next run
# continues from; damaged, foreign and incompatible checkpoints give a clear error, never a crash
# or a silently wrong result.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$FAULTS_DIR/../kill_repeatedly.sh"
PYTHON="$(cd "$FAULTS_DIR/../.." && pwd)/.deps/venv/bin/python"

# 48 files of 25,000 events over 10 users, times increasing with some disorder, and 3 % repeats
# of an earlier id (dedup drops them).
mkdir -p in
"$PYTHON" - <<'PY'
import random
random.seed(11)
start = 1_700_000_000
i = 0
for f in range(48):
    with open(f"in/events-{f:02d}.csv", "w") as out:
        out.write("id,user,ts,amount\n")
        for _ in range(25_000):
            i += 1
            ident = i if random.random() > 0.03 else max(1, i - random.randint(1, 50))
            t = start + i // 40 - random.randint(0, 3)
            out.write(f"{ident},u{ident % 10},{t},{(ident * 7) % 1000 / 10}\n")
PY

# pipeline FILE STATE OUT [EXTRA STEP]: the pipeline under test, checkpointing into STATE and
# writing parts into OUT.
pipeline() {
  cat > "$1" <<YAML
name: recovery
sources:
  events:
    connector: file
    path: in/events-*.csv
    batch_size: 1000
    schema: {id: int64, user: string, ts: timestamp, amount: double}
    event_time: {field: ts, watermark_delay: 5s}
pipeline:
  ${4:-}
  - dedup: {key: [id], within: 1m}
  - window: {tumbling: 10s, group_by: [user], aggregate: {amount: [sum, max], id: [count_distinct]}}
checkpoint: {dir: $2, interval: 100ms}
sinks:
  out: {connector: file, path: "$3/part-{part}.parquet", roll: {rows: 2000}}
YAML
}

# rows DIR: every committed row of the parts in DIR, sorted, one per line.
rows() {
  "$PYTHON" - "$1" <<'PY'
import glob, sys
import pyarrow.parquet as pq
rows = []
for path in sorted(glob.glob(sys.argv[1] + "/part-*.parquet")):
    rows.extend(tuple(r.values()) for r in pq.read_table(path).to_pylist())
for r in sorted(rows, key=repr):
    print(r)
PY
}

pipeline reference.yaml ref-state ref
run_sluice run --no-progress reference.yaml
expect_status 0 "uninterrupted run"
rows ref > expected.txt
[ "$(lines expected.txt)" -gt 1000 ] || fail "the reference run wrote only $(lines expected.txt) rows"
pass

# 20 kills at random moments; each run resumes from the last checkpoint of the one before.
pipeline killed.yaml state out
kill_repeatedly 20 150 450 "$SLUICE" run --no-progress killed.yaml
run_sluice run --no-progress killed.yaml
expect_status 0 "the run after 20 kills"
rows out > actual.txt
diff -q expected.txt actual.txt > /dev/null ||
  fail "after $kills kills: $(diff expected.txt actual.txt | grep -c '^[<>]') rows differ from the uninterrupted run"
[ "$kills" -ge 10 ] || fail "only $kills of 20 kills came before the run ended"
echo "killed $kills times with SIGKILL; the committed rows equal the uninterrupted run's"
[ -z "$(ls -A out | grep '^\.' || true)" ] || fail "temporary files left: $(ls -A out)"
[ "$(ls state | grep -c '^chk-')" -le 3 ] || fail "more than 3 checkpoints kept: $(ls state)"
pass

# A rerun after the input was finished reads nothing new and writes nothing twice.
run_sluice run --no-progress killed.yaml
expect_status 0 "a rerun of a finished pipeline"
expect_stderr "resumed from checkpoint" "a rerun of a finished pipeline"
rows out > again.txt
diff -q expected.txt again.txt > /dev/null || fail "a rerun changed the committed rows"
pass

# SIGTERM: a checkpoint is saved and the next run continues from it.
rm -rf state out
"$SLUICE" run --no-progress killed.yaml 2> stderr.txt &
pid=$!
sleep 0.5
signal_run TERM "$pid"
if [ "$status" -ne 0 ]; then
  expect_status 143 "SIGTERM"
  expect_stderr "saved in checkpoint" "SIGTERM"
fi
run_sluice run --no-progress killed.yaml
expect_status 0 "the run after SIGTERM"
rows out > actual.txt
diff -q expected.txt actual.txt > /dev/null || fail "the run after SIGTERM: rows differ"
pass

# --fresh starts over and puts the old checkpoints aside.
rm -rf out
run_sluice run --no-progress --fresh killed.yaml
expect_status 0 "--fresh"
expect_stderr "earlier checkpoints moved to" "--fresh"
rows out > actual.txt
diff -q expected.txt actual.txt > /dev/null || fail "--fresh: rows differ"
ls state | grep -q '^archive-' || fail "--fresh left no archive: $(ls state)"
pass

# An incompatible change is refused, naming the step; a stateless step added is not.
latest() { ls state | grep '^chk-' | sort | tail -n 1; }
sed 's/tumbling: 10s/tumbling: 20s/' killed.yaml > changed.yaml
run_sluice run --no-progress changed.yaml
expect_status 1 "a window size changed"
expect_stderr "step 'window' (window) has changed since checkpoint" "a window size changed"
expect_stderr "--fresh" "a window size changed"
pipeline stateless.yaml state out '- filter: "amount >= 0"'
run_sluice run --no-progress stateless.yaml
expect_status 0 "a stateless step added"
expect_stderr "resumed from checkpoint" "a stateless step added"
pass

# A checkpoint folder of another pipeline.
sed 's/^name: recovery/name: other/' killed.yaml > other.yaml
run_sluice run --no-progress other.yaml
expect_status 1 "another pipeline's checkpoints"
expect_stderr "belong to pipeline 'recovery', not 'other'" "another pipeline's checkpoints"
pass

# A missing state file, a damaged one, and a torn manifest: clear errors, no crash.
cp -r state state.saved
state_file="$(ls "state/$(latest)" | grep '\.arrow$' | head -n 1)"
rm "state/$(latest)/$state_file"
run_sluice run --no-progress killed.yaml
expect_status 1 "a missing state file"
expect_stderr "is missing" "a missing state file"
rm -rf state && cp -r state.saved state
printf 'garbage' | dd of="state/$(latest)/$state_file" bs=1 seek=200 conv=notrunc 2> /dev/null
run_sluice run --no-progress killed.yaml
expect_status 1 "a damaged state file"
expect_stderr "is damaged" "a damaged state file"
rm -rf state && cp -r state.saved state
truncate -s 100 "state/$(latest)/manifest.json"
run_sluice run --no-progress killed.yaml
expect_status 1 "a torn manifest"
expect_stderr "is damaged" "a torn manifest"
# A checkpoint whose manifest never landed (a crash while it was written) is passed over.
rm -rf state && cp -r state.saved state
mkdir "state/chk-999999999999"
printf 'partial' > "state/chk-999999999999/stage-0-0.arrow"
run_sluice run --no-progress killed.yaml
expect_status 0 "an incomplete checkpoint"
[ ! -e "state/chk-999999999999" ] || fail "the incomplete checkpoint was not removed"
pass

# Two runs of one pipeline on one checkpoint folder: the second is refused, the first goes on.
rm -rf state out
"$SLUICE" run --no-progress killed.yaml 2> first.txt &
pid=$!
sleep 0.3
run_sluice run --no-progress killed.yaml
expect_status 1 "a second run on the same checkpoint folder"
expect_stderr "checkpoint folder 'state': in use by another run of the pipeline (process $pid)" "a second run"
set +e
wait "$pid"
first_status=$?
set -e
[ "$first_status" -eq 0 ] || fail "the first run failed beside a refused second one: $(cat first.txt)"
rows out > actual.txt
diff -q expected.txt actual.txt > /dev/null || fail "the first run's rows differ"
pass

# A full disk under the checkpoints fails the run with the reason; committed parts stay.
pipeline disk.yaml small-disk out-disk
sed -i 's/within: 1m/within: 1000d/' disk.yaml  # state that outgrows 1 MB
with_small_disk 1 small-disk "$SLUICE" run --no-progress disk.yaml 2> stderr.txt && status=0 || status=$?
expect_status 1 "a full disk under the checkpoints"
expect_stderr "could not be written to 'small-disk'" "a full disk under the checkpoints"
expect_stderr "No space left on device" "a full disk under the checkpoints"
[ -z "$(ls -A out-disk 2>/dev/null | grep '^\.' || true)" ] || fail "temporary parts left: $(ls -A out-disk)"
pass

# Configuration errors name the place: a single-file sink cannot take part in checkpoints.
cat > single.yaml <<'YAML'
name: single
sources:
  events: {connector: file, path: in/events-00.csv}
checkpoint: {dir: state-single}
sinks:
  out: {connector: file, path: out.jsonl}
YAML
run_sluice validate single.yaml
expect_status 2 "a single-file sink with checkpoints"
expect_stderr "single.yaml:6:8: error: sink 'out' (file) cannot take part in checkpoints" "a single-file sink"
expect_stderr "roll" "a single-file sink"
pass

# A partition field the sink's input lacks is found by validate, with its place.
sed 's|path: "out/part-{part}.parquet"|path: "out/{usr}/part-{part}.parquet"|' killed.yaml > field.yaml
run_sluice validate field.yaml
expect_status 2 "an unknown partition field"
expect_stderr "path names the field 'usr', which the sink's input does not have" "an unknown partition field"
expect_stderr "did you mean 'user'" "an unknown partition field"
pass

# max_state: a run whose state outgrows it fails with a message naming the step.
cat > big.yaml <<'YAML'
name: big
sources:
  events: {connector: file, path: in/events-*.csv, schema: {id: int64, user: string, ts: timestamp, amount: double}, event_time: {field: ts, watermark_delay: 5s}}
pipeline:
  - dedup: {key: [id], within: 1000d}
max_state: 1MB
sinks:
  out: {connector: blackhole}
YAML
run_sluice run --no-progress big.yaml
expect_status 1 "max_state"
expect_stderr "step 'pipeline[0] dedup' (dedup) holds" "max_state"
expect_stderr "more than max_state (1.0 MB)" "max_state"
pass

finish
