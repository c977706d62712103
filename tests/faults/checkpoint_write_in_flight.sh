# A run that fails while a checkpoint is being written (checkpoints every 10 ms, and a file of
# the glob that cannot be read) ends with exit 1 and the reason, every time: it waits for the
# write, completes that checkpoint, and never aborts. (It aborted in about half of the runs
# when the writer thread was joined twice.)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p in
seq 0 199999 | awk 'BEGIN {print "id,v"} {print $1 "," $1 % 97}' > in/a.csv
ln -s /nonexistent/b.csv in/b.csv  # matched by the glob, unreadable when its turn comes
cat > p.yaml <<'YAML'
name: in-flight
sources:
  rows: {connector: file, path: "in/*.csv", batch_size: 100}
pipeline:
  - aggregate: {group_by: [v], aggregate: {id: [count]}}
checkpoint: {dir: state, interval: 10ms}
sinks:
  out: {connector: file, path: "out/part-{part}.jsonl", roll: {rows: 100}}
YAML
for run in $(seq 1 10); do
  rm -rf state out
  run_sluice run --no-progress p.yaml
  expect_status 1 "run $run failing with a checkpoint in flight"
  expect_stderr "cannot read 'in/b.csv'" "run $run failing with a checkpoint in flight"
  expect_no_stderr "terminate called" "run $run failing with a checkpoint in flight"
done
pass
finish
