# What goes wrong with the store (sourced by run_tests.sh): refused credentials, a missing
# bucket, a server that is not there. Each is a clear error naming the URI, never a secret, and
# a sink leaves no object behind.

one_row() { printf '{"v": 1}\n' > one.jsonl; }

error_pipeline() {
  cat > "$1" <<YAML
name: s3-errors
sources:
  rows: {connector: file, path: "$2"}
sinks:
  out: {connector: file, path: "$3"}
YAML
}

# expect_error NAME STATUS_WANTED PATTERN -- COMMAND...: runs COMMAND (stderr to stderr.txt),
# checks its exit status, that stderr matches PATTERN and holds no secret.
expect_error() {
  local name="$1" want="$2" pattern="$3" status=0
  shift 4
  "$@" 2> stderr.txt || status=$?
  if [ "$status" -ne "$want" ]; then
    fail_case "$name: exit $status, expected $want"
  elif ! grep -Eq "$pattern" stderr.txt; then
    fail_case "$name: stderr does not say /$pattern/"
  elif ! no_secret_in stderr.txt; then
    fail_case "$name: a secret appears in stderr"
  else
    pass "$name: exit $want, $(grep -Eo "$pattern" stderr.txt | head -n 1)"
  fi
}

case_wrong_credentials() {
  one_row
  check put . lake/creds > /dev/null
  error_pipeline read.yaml "s3://lake/creds/*.jsonl" out.jsonl
  error_pipeline write.yaml one.jsonl s3://lake/creds/out.parquet
  expect_error "wrong secret, source" 2 "cannot list 's3://lake/creds/\*.jsonl'" -- \
    env AWS_SECRET_ACCESS_KEY=wrong-Secret-77 "$sluice" run --no-progress read.yaml
  expect_error "wrong key id, source" 2 "cannot list 's3://lake/creds/\*.jsonl'" -- \
    env AWS_ACCESS_KEY_ID=nobody "$sluice" run --no-progress read.yaml
  expect_error "wrong secret, sink" 1 "s3://lake/creds/out.parquet" -- \
    env AWS_SECRET_ACCESS_KEY=wrong-Secret-77 "$sluice" run --no-progress write.yaml
  if check exists lake/creds/out.parquet; then
    fail_case "wrong secret, sink: an object was written"
  else
    pass "wrong secret, sink: no object written"
  fi
}

case_missing_bucket() {
  one_row
  error_pipeline read.yaml "s3://no-such-bucket/x/*.jsonl" out.jsonl
  error_pipeline read1.yaml "s3://no-such-bucket/x/one.jsonl" out.jsonl
  error_pipeline write.yaml one.jsonl s3://no-such-bucket/out.parquet
  expect_error "missing bucket, glob" 2 "no-such-bucket" -- "$sluice" run --no-progress read.yaml
  expect_error "missing bucket, one key" 2 "no-such-bucket" -- "$sluice" run --no-progress read1.yaml
  expect_error "missing bucket, sink" 1 "s3://no-such-bucket/out.parquet" -- \
    "$sluice" run --no-progress write.yaml
}

# No server at the endpoint: an error within the client's retries, naming the URI.
case_server_not_there() {
  one_row
  local dead
  dead=$(free_port)
  error_pipeline read.yaml "s3://lake/x/*.jsonl" out.jsonl
  error_pipeline write.yaml one.jsonl s3://lake/unreachable/out.parquet
  local begin=$SECONDS
  expect_error "server not there, source" 2 "cannot list 's3://lake/x/\*.jsonl'" -- \
    env AWS_ENDPOINT_URL="http://127.0.0.1:$dead" timeout 120 "$sluice" run --no-progress read.yaml
  expect_error "server not there, sink" 1 "s3://lake/unreachable/out.parquet" -- \
    env AWS_ENDPOINT_URL="http://127.0.0.1:$dead" timeout 120 "$sluice" run --no-progress write.yaml
  echo "   (both runs gave up after $((SECONDS - begin)) s)"
}

# The server goes away in the middle of a bounded read: the client retries, then the run fails
# naming the object (never ends as if the input were complete, never publishes a part of it);
# once the server is back, a rerun resumes from the checkpoint and every row arrives once.
case_server_goes_away_mid_read() {
  "$python" - data <<'PY'
import json, os, sys
os.makedirs(sys.argv[1])
for f in range(100):
    with open(f"{sys.argv[1]}/part-{f:03d}.jsonl", "w") as out:
        for i in range(f * 10000, (f + 1) * 10000):
            out.write(json.dumps({"id": i, "text": "x" * 40}) + "\n")
PY
  check put data lake/away > /dev/null
  cat > pipeline.yaml <<'YAML'
name: s3-away
checkpoint: {dir: state, interval: 50ms}
sources:
  rows: {connector: file, path: "s3://lake/away/*.jsonl", batch_size: 200}
sinks:
  out: {connector: file, path: "out/part-{part}.jsonl", roll: {rows: 5000}}
YAML
  "$sluice" run --no-progress pipeline.yaml 2> stderr.txt &
  local pid=$! status=0
  sleep 1
  server_stop
  local stopped=$SECONDS
  wait "$pid" || status=$?
  local took=$((SECONDS - stopped))
  server_launch
  if [ "$status" -eq 0 ]; then
    fail_case "server away mid-read: the run ended with status 0 although the server went away"
    return
  elif ! grep -q "s3://lake/away/part-" stderr.txt || ! no_secret_in stderr.txt; then
    fail_case "server away mid-read: exit $status without naming the object: $(tail -n 1 stderr.txt)"
    return
  fi
  local first=$status
  cp stderr.txt first-run.txt
  if ! "$sluice" run --no-progress pipeline.yaml 2> stderr.txt; then
    fail_case "server away mid-read: the rerun failed"
    return
  fi
  local rows repeated
  rows=$(cat out/part-*.jsonl | wc -l)
  repeated=$(cat out/part-*.jsonl | grep -o '"id":[0-9]*' | sort | uniq -d | wc -l)
  if [ "$rows" -eq 1000000 ] && [ "$repeated" -eq 0 ]; then
    pass "server away mid-read: exit $first after ${took}s ($(grep -o "s3://lake/away/part-[0-9]*.jsonl[^;]*" first-run.txt | head -n 1 | cut -c 1-120)); the rerun completed: 1000000 rows once each"
  else
    fail_case "server away mid-read: after the rerun $rows rows, $repeated repeated (expected 1000000 once)"
  fi
}
