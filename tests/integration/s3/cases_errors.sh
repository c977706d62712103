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
