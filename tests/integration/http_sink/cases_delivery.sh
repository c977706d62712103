# Every row arrives in every format, in requests within the batch limits (sourced by
# run_tests.sh).

# 10,000 rows with batch.rows 500 arrive in 20 requests, each row once with its values, read
# back as a JSON array, JSON lines, CSV and an Arrow stream (pyarrow); each request has its own
# Idempotency-Key.
case_every_row_in_every_format() {
  make_rows 10000
  local format summary
  for format in json jsonl csv arrow; do
    write_pipeline "url: http://127.0.0.1:$port/all_$format/ok" "format: $format" \
      "batch: {rows: 500}"
    run_or_fail "$format" || continue
    summary=$(check "all_$format" "$format" 10000)
    if [[ "$summary" == "requests=20 ok=20 ok_rows=10000 dead_rows=0 exact=yes "*"keys=20 ok_keys_unique=yes methods=POST "* ]]; then
      pass "$format: 10000 rows in 20 requests, each row once ($summary)"
    else
      fail_case "$format: $summary"
    fi
  done
}

# batch.bytes closes requests early: no body is larger than 4KB, and every row arrives once;
# PUT is the method asked for.
case_bytes_limit_and_put() {
  make_rows 2000
  write_pipeline "url: http://127.0.0.1:$port/bytes/ok" "method: PUT" "format: jsonl" \
    "batch: {rows: 500, bytes: 4KB}"
  run_or_fail "bytes limit" || return
  local summary max requests
  summary=$(check bytes jsonl 2000)
  max=$(grep -o 'max_body=[0-9]*' <<< "$summary" | cut -d= -f2)
  requests=$(grep -o '^requests=[0-9]*' <<< "$summary" | cut -d= -f2)
  if [[ "$summary" == *"exact=yes"*"methods=PUT "* ]] && [ "$max" -le 4096 ] &&
    [ "$requests" -gt 4 ]; then
    pass "bytes limit: 2000 rows in $requests PUT requests of at most $max bytes"
  else
    fail_case "bytes limit: $summary"
  fi
}

# max_in_flight 4 against a receiver that answers after 600 ms: it answers 4 requests at once,
# never more, and every row arrives once in 20 requests with distinct keys.
case_requests_in_flight() {
  make_rows 10000
  write_pipeline "url: http://127.0.0.1:$port/in_flight/slow/0.6/1000" "format: jsonl" \
    "batch: {rows: 500}" "max_in_flight: 4"
  run_or_fail "in flight" || return
  local summary
  summary=$(check in_flight jsonl 10000)
  if [[ "$summary" == "requests=20 ok=20 ok_rows=10000 dead_rows=0 exact=yes "*"keys=20 ok_keys_unique=yes "*"in_flight=4" ]]; then
    pass "in flight: 4 requests answered at once, 10000 rows once in 20 requests"
  else
    fail_case "in flight: $summary"
  fi
}

# With checkpoints, rows wait for a request to fill: 1,234 rows read 100 at a time go in
# requests of 500, 500 and, at the last checkpoint, 234. With linger 0ms each batch of 100 is
# sent as it comes. Either way every row arrives once.
case_checkpoints_and_linger() {
  make_rows 1234
  local linger summary expected
  for linger in 1h 0ms; do
    write_pipeline "url: http://127.0.0.1:$port/linger_$linger/ok" "format: jsonl" \
      "batch: {rows: 500, linger: $linger}"
    sed -i -e 's/batch_size: 10000/batch_size: 100/' -e '/^dead_letters:/,$d' pipeline.yaml
    echo "checkpoint: {dir: state_$linger, interval: 1h}" >> pipeline.yaml
    run_or_fail "linger $linger" || continue
    summary=$(check "linger_$linger" jsonl 1234)
    expected=$([ "$linger" = 1h ] && echo 3 || echo 13)
    if [[ "$summary" == "requests=$expected ok=$expected ok_rows=1234 dead_rows=0 exact=yes "* ]]; then
      pass "linger $linger with checkpoints: 1234 rows once in $expected requests"
    else
      fail_case "linger $linger: $summary"
    fi
  done
}
