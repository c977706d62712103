# Rolling part files on S3 (sourced by run_tests.sh): each part is a multipart upload to its
# final key; with checkpoints a part's bytes are all uploaded when the checkpoint is prepared and
# the upload is completed when it commits (also by recovery, from the checkpoint alone); uploads
# that no checkpoint holds are aborted when the sink opens. What the cases read back is read
# with pyarrow, and in-progress uploads are listed with boto3 (s3_check.py).

# rows_jsonl FILE COUNT TEXT_BYTES: COUNT rows {"id", "region", "text"} with random hex text,
# which compresses poorly, so that Parquet parts pass S3's 5 MiB part size.
rows_jsonl() {
  "$python" - "$@" <<'PY'
import json, os, sys
path, count, text_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as out:
    for i in range(count):
        text = os.urandom(text_bytes // 2).hex()
        out.write(json.dumps({"id": i, "region": ("eu", "us", "ap")[i % 3], "text": text}) + "\n")
PY
}

# sorted_rows FILE: FILE's JSON lines as s3_check.py rows prints them.
sorted_rows() {
  "$python" -c '
import json, sys
print("\n".join(sorted(json.dumps(json.loads(l), sort_keys=True) for l in open(sys.argv[1]))))
' "$1"
}

# Exactly-once across SIGKILLs: the part objects of a run killed 10 times, then run to its end,
# hold the input's rows (what an uninterrupted run writes), none twice, every object whole.
case_roll_s3_exactly_once_across_sigkills() {
  rows_jsonl in.jsonl 300000 120
  cat > pipeline.yaml <<'YAML'
name: s3-roll
checkpoint: {dir: state, interval: 700ms}
sources:
  rows: {connector: file, path: in.jsonl, batch_size: 2000}
sinks:
  out: {connector: file, path: "s3://lake/roll/part-{part}.parquet", roll: {size: 12MB}}
YAML
  # Each run's messages are kept in runs.txt, to tell why a run ended before its kill.
  kill_repeatedly 12 250 700 \
    bash -c 'exec "$0" run --no-progress pipeline.yaml 2>> runs.txt' "$sluice"
  local kills_done=$kills
  check uploads lake/roll/ > uploads-before.txt
  if ! run_sluice pipeline.yaml; then
    fail_case "roll exactly-once: the last run failed"
    return
  fi
  check uploads lake/roll/ > uploads-after.txt
  local same objects multipart
  if ! same=$(check same-rows lake/roll .parquet in.jsonl); then
    fail_case "roll exactly-once: a part object does not read as Parquet"
    return
  fi
  objects=$(check count lake/roll .parquet)
  multipart=$(grep -c "" uploads-before.txt || true)
  if [ "$kills_done" -ge 10 ] && [ "$same" = "300000 0 equal" ] && no_secret_in stderr.txt; then
    pass "roll exactly-once: $kills_done SIGKILLs, then $objects part objects hold the 300000 input rows once each, every object whole"
  else
    grep -v "aborted the upload" runs.txt | tail -n 5
    fail_case "roll exactly-once: $kills_done kills; rows, repeated ids, equal: $same"
  fi
  if [ ! -s uploads-after.txt ]; then
    pass "roll exactly-once: $multipart uploads left in progress by the kills, none after the last run"
  else
    fail_case "roll exactly-once: $(wc -l < uploads-after.txt) uploads still in progress: $(head -n 3 uploads-after.txt)"
  fi
}

# Partitioned parts without checkpoints: one folder of parts per region, published when the run
# ends; an upload an earlier run of the sink left (its key made by the template) is aborted, one
# the template could not have made is not the sink's and stays.
case_roll_s3_partitioned() {
  rows_jsonl in.jsonl 3000 20
  check start-upload lake/parts/eu/part-000999.jsonl
  check start-upload lake/parts/notes.bin
  cat > pipeline.yaml <<'YAML'
name: s3-partitioned
sources:
  rows: {connector: file, path: in.jsonl}
sinks:
  out: {connector: s3, path: "s3://lake/parts/{region}/part-{part}.jsonl", roll: {rows: 400}}
YAML
  if ! run_sluice pipeline.yaml; then
    fail_case "roll partitioned: the run failed"
    return
  fi
  sorted_rows in.jsonl > expected.txt
  check rows lake/parts .jsonl > got.txt
  local eu us ap
  eu=$(check count lake/parts/eu .jsonl)
  us=$(check count lake/parts/us .jsonl)
  ap=$(check count lake/parts/ap .jsonl)
  if cmp -s expected.txt got.txt && [ "$eu" -eq 3 ] && [ "$us" -eq 3 ] && [ "$ap" -eq 3 ] &&
     [ "$(check uploads lake/parts/)" = "parts/notes.bin" ]; then
    pass "roll partitioned: 3000 rows in 3 parts under each of eu/, us/, ap/; the stray upload of an earlier run aborted, the foreign one kept"
  else
    fail_case "roll partitioned: $(wc -l < got.txt) rows, parts eu $eu us $us ap $ap, uploads: $(check uploads lake/parts/ | tr '\n' ' ')"
  fi
}

# The server goes away while parts are written: the run fails with an error naming the part,
# and nothing appears under the prefix; the next run, with the server back, aborts the uploads
# the failed run could not, and writes every row.
case_roll_s3_server_killed_mid_write() {
  cat > pipeline.yaml <<'YAML'
name: s3-down
sources:
  quotes: {connector: generator, count: 60000, rate: 30000, batch_size: 1000}
sinks:
  out: {connector: file, path: "s3://lake/down/part-{part}.jsonl", roll: {rows: 10000}}
YAML
  "$sluice" run --no-progress pipeline.yaml 2> stderr.txt &
  local pid=$! status=0
  sleep 1
  server_stop
  wait "$pid" || status=$?
  server_launch
  local visible
  visible=$(check count lake/down .jsonl)
  if [ "$status" -ne 0 ] && grep -q "cannot reach S3 for s3://lake/down/part-" stderr.txt &&
     [ "$visible" -eq 0 ] &&
     no_secret_in stderr.txt; then
    pass "roll server killed: exit $status, '$(grep -o "cannot reach S3 for s3://lake/down/part-[0-9]*.jsonl" stderr.txt | head -n 1)', no object visible"
  else
    fail_case "roll server killed: exit $status, $visible objects visible"
    return
  fi
  local left
  left=$(check uploads lake/down/ | wc -l)
  sed 's/rate: 30000/rate: 0/' pipeline.yaml > again.yaml
  if run_sluice again.yaml && [ -z "$(check uploads lake/down/)" ] &&
     [ "$(check rows lake/down .jsonl | wc -l)" -eq 60000 ]; then
    pass "roll server killed: the next run aborted the $left uploads left and wrote all 60000 rows"
  else
    fail_case "roll server killed: the rerun left $(check uploads lake/down/ | wc -l) uploads"
  fi
}

# Recovery completes the uploads of the last checkpoint again. A store that no longer knows an
# upload (S3 forgets completed ones) is fine when the object is there as its parts make it (size
# and multipart ETag); otherwise the parts were lost, and the run says so instead of going on.
case_roll_s3_recovery_of_a_completed_upload() {
  rows_jsonl in.jsonl 60000 200
  cat > pipeline.yaml <<'YAML'
name: s3-recommit
checkpoint: {dir: state}
sources:
  rows: {connector: file, path: in.jsonl}
sinks:
  out: {connector: file, path: "s3://lake/recommit/part-{part}.parquet", roll: {size: 64MB}}
YAML
  run_sluice pipeline.yaml || { fail_case "recommit: the first run failed"; return; }
  cp -r state first-state
  # edit_pending EXPRESSION: the checkpoints as the first run left them, with EXPRESSION applied
  # to each part its last checkpoint holds.
  edit_pending() {
    rm -rf state
    cp -r first-state state
    "$python" - "$1" <<'PY'
import glob, json, sys
path = sorted(glob.glob("state/chk-*/manifest.json"))[-1]
manifest = json.load(open(path))
for part in manifest["sinks"][0]["pending"]["parts"]:
    exec(sys.argv[1])
json.dump(manifest, open(path, "w"))
PY
  }
  local uploaded
  uploaded=$("$python" -c 'import glob, json; m = json.load(open(sorted(glob.glob("state/chk-*/manifest.json"))[-1])); print(sum(len(p["uploaded"]) for p in m["sinks"][0]["pending"]["parts"]))')
  edit_pending 'part["upload_id"] = "gone-" + part["upload_id"]'
  if run_sluice pipeline.yaml && grep -q "resumed from checkpoint" stderr.txt &&
     [ "$(check rows lake/recommit .parquet | wc -l)" -eq 60000 ] &&
     [ "$(check count lake/recommit .parquet)" -eq 1 ]; then
    pass "recommit: an upload the store no longer knows, whose object is whole ($uploaded parts of 5 MiB and less), counts as completed"
  else
    fail_case "recommit: the rerun did not take the completed upload as done"
  fi
  # The checkpoint's parts no longer make the object: the rerun must fail, saying so.
  local edit pattern what status
  while IFS='|' read -r edit pattern what; do
    edit_pending "$edit"
    status=0
    run_sluice pipeline.yaml < /dev/null || status=$?
    if [ "$status" -ne 0 ] && grep -q "$pattern" stderr.txt; then
      pass "recommit: $what is an error (exit $status): $(grep -o "$pattern.*" stderr.txt | head -n 1 | cut -c1-60)"
    else
      fail_case "recommit: exit $status with $what"
    fi
  done <<'EDITS'
part["upload_id"] = "gone-again"; part["uploaded"][0][1] = '"00000000000000000000000000000000"'|and the object has the ETag|an object that the recorded parts do not make
part["upload_id"] = "gone-again"; part["size"] += 1|and the object has [0-9]* bytes, not|an object of another size
EDITS
}

# Refused credentials: the part's upload cannot begin; the error names the part and the store's
# answer, never the secret, and nothing is written.
case_roll_s3_wrong_credentials() {
  rows_jsonl in.jsonl 100 20
  cat > pipeline.yaml <<'YAML'
name: s3-roll-creds
checkpoint: {dir: state}
sources:
  rows: {connector: file, path: in.jsonl}
sinks:
  out: {connector: file, path: "s3://lake/creds-roll/part-{part}.parquet", roll: {rows: 10}}
YAML
  expect_error "roll, wrong secret" 1 "s3://lake/creds-roll/.*(SIGNATURE_DOES_NOT_MATCH|SignatureDoesNotMatch)" -- \
    env AWS_SECRET_ACCESS_KEY=wrong-Secret-77 "$sluice" run --no-progress pipeline.yaml
  expect_error "roll, no access key" 1 "writing part files to S3 needs an access key" -- \
    env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$sluice" run --no-progress pipeline.yaml
  if [ "$(check count lake/creds-roll .parquet)" -eq 0 ] && [ -z "$(check uploads lake/creds-roll/)" ]; then
    pass "roll, wrong credentials: no object and no upload left"
  else
    fail_case "roll, wrong credentials: something was written"
  fi
}
