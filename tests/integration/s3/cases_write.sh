# Writing to the bucket (sourced by run_tests.sh): the file sink writes one Parquet object that
# pyarrow reads back equal to the same sink's local file; the object appears only when the run
# completes: a failed or killed run leaves nothing at the key, and the previous object as it was.

write_pipeline() {
  cat > "$1" <<YAML
name: s3-write
sources:
  rows: {connector: file, path: "$2"}
sinks:
  out: {connector: ${4:-file}, path: "$3"}
YAML
}

case_sink_parquet() {
  check gen data 5
  write_pipeline local.yaml "data/jsonl/*.jsonl" out.parquet
  write_pipeline s3.yaml "data/jsonl/*.jsonl" s3://lake/out/result.parquet s3
  if ! run_sluice local.yaml || ! run_sluice s3.yaml; then
    fail_case "sink parquet: a run failed"
    return
  fi
  check parquet-local out.parquet > local.jsonl
  if ! check parquet lake/out/result.parquet > s3.jsonl; then
    fail_case "sink parquet: pyarrow cannot read s3://lake/out/result.parquet"
  elif [ "$(wc -l < s3.jsonl)" -ne 750 ] || ! cmp -s local.jsonl s3.jsonl; then
    fail_case "sink parquet: $(wc -l < s3.jsonl) rows read back, not the local file's 750"
  else
    pass "sink parquet: s3://lake/out/result.parquet (connector: s3) read back by pyarrow, 750 rows equal to the local file's"
  fi
}

# A run that fails after the sink has written rows: the second input is a link to nothing.
case_failed_run_leaves_no_object() {
  check gen data 2
  mkdir in
  cp data/jsonl/part-0000.jsonl in/a.jsonl
  ln -s "$PWD/gone.jsonl" in/b.jsonl
  write_pipeline failing.yaml "in/*.jsonl" s3://lake/failed/result.parquet
  local status=0
  run_sluice failing.yaml || status=$?
  if [ "$status" -ne 1 ]; then
    fail_case "failed run: exit $status, expected 1"
  elif check exists lake/failed/result.parquet; then
    fail_case "failed run: an object was left at the final key"
  else
    pass "failed run: exit 1 and no object at the final key"
  fi
  # With a previous object: it stays as it was.
  write_pipeline good.yaml "data/jsonl/part-0001.jsonl" s3://lake/failed/result.parquet
  run_sluice good.yaml || { fail_case "failed run: the good run failed"; return; }
  check parquet lake/failed/result.parquet > before.jsonl
  status=0
  run_sluice failing.yaml || status=$?
  check parquet lake/failed/result.parquet > after.jsonl
  if [ "$status" -eq 1 ] && cmp -s before.jsonl after.jsonl && [ "$(wc -l < after.jsonl)" -eq 150 ]; then
    pass "failed run: the previous object stays whole (150 rows)"
  else
    fail_case "failed run: the previous object changed (exit $status)"
  fi
}

# A run killed (SIGKILL) while it writes leaves no object at the key.
case_sigkill_leaves_no_object() {
  "$python" - big.jsonl <<'PY'
import json, sys
with open(sys.argv[1], "w") as out:
    for i in range(600000):
        out.write(json.dumps({"id": i, "text": f"row {i} " + "x" * 40}) + "\n")
PY
  write_pipeline pipeline.yaml big.jsonl s3://lake/killed/result.jsonl
  "$sluice" run --no-progress pipeline.yaml 2> stderr.txt &
  local pid=$!
  sleep 1.5
  if ! kill -0 "$pid" 2> /dev/null; then
    wait "$pid" || true
    pass "sigkill: (the run ended within 1.5 s; nothing to kill)"
    return
  fi
  kill -9 "$pid"
  wait "$pid" 2> /dev/null || true
  if check exists lake/killed/result.jsonl; then
    fail_case "sigkill: an object appeared at the key"
  else
    pass "sigkill: a run killed mid-write leaves no object at the key"
  fi
}

# checkpoint.dir on S3 goes through the same client and settings: checkpoints (manifests) land
# under the prefix, and a second run resumes from them instead of reading the input again.
case_checkpoint_dir_on_s3() {
  "$python" - in.jsonl <<'PY'
import json, sys
with open(sys.argv[1], "w") as out:
    for i in range(100000):
        out.write(json.dumps({"id": i, "text": "x" * 30}) + "\n")
PY
  cat > pipeline.yaml <<'YAML'
name: s3-checkpoints
checkpoint: {dir: s3://lake/state/ck, interval: 50ms}
sources:
  rows: {connector: file, path: in.jsonl}
sinks:
  out: {connector: file, path: "out/part-{part}.jsonl", roll: {size: 1MB}}
YAML
  if ! run_sluice pipeline.yaml; then
    fail_case "checkpoint dir: the run failed"
    return
  fi
  local manifests rows
  manifests=$(check count lake/state/ck manifest.json)
  rows=$(cat out/*.jsonl | wc -l)
  if [ "$manifests" -ge 1 ] && [ "$rows" -eq 100000 ] && no_secret_in stderr.txt; then
    pass "checkpoint dir: $manifests checkpoint manifests under s3://lake/state/ck, 100000 rows out"
  else
    fail_case "checkpoint dir: $manifests manifests, $rows rows"
  fi
}
