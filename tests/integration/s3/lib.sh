# What the S3 integration cases share (sourced by run_tests.sh): one versitygw server over a
# scratch folder on a free loopback port, with the credentials of the AWS environment that
# every `sluice` run of the suite inherits, and the bucket "lake" that the cases write under
# prefixes of their own.

# Secrets the cases check never appear in any output.
access_key="sluiceaccess"
secret_key="sluice-Secret-3b9c1f"
server_pid=""

server_start() {
  port=$(free_port)
  mkdir -p "$work/store"
  server_launch
  export AWS_ACCESS_KEY_ID="$access_key" AWS_SECRET_ACCESS_KEY="$secret_key"
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true
  check mkbucket lake
}

# Starts versitygw on $port over $work/store (again, after server_stop: the same objects) and
# waits until it takes connections.
server_launch() {
  "$versitygw" --access "$access_key" --secret "$secret_key" --port "127.0.0.1:$port" \
    posix "$work/store" >> "$work/versitygw.log" 2>&1 &
  server_pid=$!
  local tries=0
  until "$python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" \
      2> /dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -gt 100 ] || ! kill -0 "$server_pid" 2> /dev/null; then
      echo "versitygw did not start:"; cat "$work/versitygw.log"; exit 1
    fi
    sleep 0.1
  done
}

server_stop() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2> /dev/null || true
    wait "$server_pid" 2> /dev/null || true
    server_pid=""
  fi
}

# s3_check.py against the server (pyarrow's S3 client).
check() {
  "$python" "$here/s3_check.py" "$@"
}

run_sluice() {
  "$sluice" run --no-progress "$@" 2> stderr.txt
}

# Fails the case when stderr.txt (or another file) holds either secret of the suite.
no_secret_in() {
  local file
  for file in "$@"; do
    if grep -q -e "$secret_key" -e "wrong-Secret-77" "$file" 2> /dev/null; then
      return 1
    fi
  done
  return 0
}
