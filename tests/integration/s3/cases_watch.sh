# Watching a bucket (sourced by run_tests.sh): objects uploaded while the pipeline runs are each
# read once, including across SIGKILLs and restarts (checkpoints); an object whose multipart
# upload is still in progress is never read; on_done moves each object once its rows are
# committed.

# produce PREFIX COUNT ROWS: uploads COUNT CSV objects of ROWS rows (ids from 1 on) under
# PREFIX, one every 0.15 s, after starting a multipart upload of PREFIX/half.csv (ids from
# 900001) that sends a part and is never completed.
produce() {
  "$python" - "$@" <<'PY'
import os, sys, time
import boto3
prefix, count, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
bucket, _, key_prefix = prefix.partition("/")
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                  aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                  aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                  region_name=os.environ.get("AWS_REGION", "us-east-1"))
def csv(first, n):
    return ("id,name\n" + "".join(f"{i},n{i}\n" for i in range(first, first + n))).encode()
half = s3.create_multipart_upload(Bucket=bucket, Key=f"{key_prefix}/half.csv")
s3.upload_part(Bucket=bucket, Key=f"{key_prefix}/half.csv", UploadId=half["UploadId"],
               PartNumber=1, Body=csv(900001, 100))
for f in range(count):
    s3.put_object(Bucket=bucket, Key=f"{key_prefix}/f-{f:02d}.csv", Body=csv(f * rows + 1, rows))
    time.sleep(0.15)
PY
}

# ids FILE...: the ids of JSON lines files, sorted numerically.
watch_ids() { cat "$@" 2> /dev/null | grep -o '"id":[0-9]*' | cut -d: -f2 | sort -n; }

case_watch_bucket_once_across_sigkills() {
  source "$root/tests/kill_repeatedly.sh"
  cat > pipeline.yaml <<'YAML'
name: s3-watch
sources:
  ev:
    connector: s3
    path: s3://lake/watch/in/*.csv
    schema: {id: int64, name: string}
    batch_size: 100
    watch: {interval: 100ms, on_done: {move: done/}}
checkpoint: {dir: state, interval: 100ms}
sinks:
  out: {connector: file, path: "out/part-{part}.jsonl", roll: {rows: 300}}
YAML
  produce lake/watch/in 20 500 &
  local producer=$!
  kill_repeatedly 8 400 900 "$sluice" run --no-progress pipeline.yaml
  wait "$producer" || { fail_case "watch: the producer failed"; return; }
  "$sluice" run --no-progress pipeline.yaml 2> stderr.txt &
  local pid=$! moved=0
  for _ in $(seq 1 300); do
    moved=$(check count lake/watch/in/done .csv)
    [ "$moved" -eq 20 ] && break
    sleep 0.2
  done
  kill -TERM "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  local expected actual
  expected="$(seq 1 10000 | tr '\n' ' ')"
  actual="$(watch_ids out/part-*.jsonl | tr '\n' ' ')"
  if [ "$actual" != "$expected" ]; then
    fail_case "watch: after $kills kills $(watch_ids out/part-*.jsonl | wc -l) rows, $(watch_ids out/part-*.jsonl | uniq -d | wc -l) repeated, $(watch_ids out/part-*.jsonl | grep -c '^9000' || true) from the unfinished upload; expected ids 1..10000 once each"
  elif [ "$moved" -ne 20 ] || [ "$(check count lake/watch/in .csv)" -ne 20 ]; then
    fail_case "watch: $moved of 20 objects moved to done/ ($(check count lake/watch/in .csv) under the prefix)"
  elif ! no_secret_in stderr.txt; then
    fail_case "watch: a secret in the log"
  else
    pass "watch: $kills SIGKILLs while 20 objects arrived: 10000 rows once each, every object moved to done/ after its commit, the unfinished upload never read"
  fi
}
