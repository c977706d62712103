# Failed requests: retried, honoured, refused into dead letters, or failing the run; secrets
# never printed (sourced by run_tests.sh).

# Three 500s, then success, with three requests in flight: the run succeeds, every row arrives
# once in the requests answered 200, the retries carry the same Idempotency-Key as the first
# attempt, and they are counted.
case_500s_are_retried() {
  make_rows 2000
  write_pipeline "url: http://127.0.0.1:$port/fail500/fail500/3" "format: jsonl" \
    "batch: {rows: 500}" "retry: {initial_backoff: 20ms}" "max_in_flight: 3"
  run_or_fail "500s" || return
  local summary
  summary=$(check fail500 jsonl 2000)
  if [[ "$summary" == "requests=7 ok=4 ok_rows=2000 dead_rows=0 exact=yes "*"keys=4 ok_keys_unique=yes"* ]] &&
    grep -q 'in 4 request(s) (3 retried)' stderr.txt; then
    pass "500s: 3 failed attempts retried with the same key, 2000 rows once in 4 requests"
  else
    fail_case "500s: $summary; $(grep -o 'delivered.*' stderr.txt)"
  fi
}

# A 429 with Retry-After: 1 is waited for (the backoff alone would wait 20 ms), and no longer
# than max_backoff allows.
case_429_retry_after_is_honoured() {
  make_rows 500
  write_pipeline "url: http://127.0.0.1:$port/throttle/throttle/1/1" "batch: {rows: 500}" \
    "retry: {initial_backoff: 20ms, max_backoff: 5s}"
  run_or_fail "429" || return
  local delay summary
  delay=$("$python" -c 'import sys; print(int((float(sys.argv[2]) - float(sys.argv[1])) * 1000))' \
    "$(recorded throttle 1 time)" "$(recorded throttle 2 time)")
  summary=$(check throttle json 500)
  if [[ "$summary" == "requests=2 ok=1 ok_rows=500 dead_rows=0 exact=yes"* ]] &&
    [ "$delay" -ge 950 ] && [ "$delay" -lt 3000 ]; then
    pass "429: Retry-After 1 s honoured (second attempt after $delay ms), 500 rows once"
  else
    fail_case "429: delay $delay ms; $summary"
  fi
}

# An answer slower than `timeout` is sent again (at-least-once): the receiver gets that
# request twice with one Idempotency-Key, and deduplicating by key leaves every row once.
case_timeout_is_retried_with_the_same_key() {
  make_rows 2000
  write_pipeline "url: http://127.0.0.1:$port/slow/slow/1.5/1" "format: csv" \
    "batch: {rows: 500}" "timeout: 500ms" "retry: {initial_backoff: 20ms}"
  run_or_fail "timeout" || return
  local summary deduped
  summary=$(check slow csv 2000)
  deduped=$(check slow csv 2000 dedupe)
  if [[ "$summary" == "requests=5 ok=5 ok_rows=2500 "*"keys=4 ok_keys_unique=no"* ]] &&
    [[ "$deduped" == *"ok_rows=2000 dead_rows=0 exact=yes"* ]] && grep -q 'timed out' stderr.txt; then
    pass "timeout: the slow request was sent twice with one key; deduplicated, 2000 rows once"
  else
    fail_case "timeout: $summary / dedupe: $deduped"
  fi
}

# A 400 makes every row of its request a dead letter with the status and the start of the
# answer; the run goes on: rows in = rows delivered + dead letters (with two requests in
# flight, so that refused and delivered requests share waves).
case_400_rows_become_dead_letters() {
  make_rows 3000
  write_pipeline "url: http://127.0.0.1:$port/reject/reject/3" "format: arrow" \
    "batch: {rows: 500}" "max_in_flight: 2"
  run_or_fail "400" || return
  local summary dead with_reason
  summary=$(check reject arrow 3000 dead=dead.jsonl)
  dead=$(wc -l < dead.jsonl)
  with_reason=$(grep -c '"stage":"sink:out".*answered HTTP 400: {\\"error\\":\\"field amount must be positive' dead.jsonl || true)
  if [[ "$summary" == "requests=6 ok=4 ok_rows=2000 dead_rows=1000 exact=yes"* ]] &&
    [ "$dead" -eq 1000 ] && [ "$with_reason" -eq 1000 ]; then
    pass "400: 3000 rows = 2000 delivered + 1000 dead letters with status and excerpt"
  else
    fail_case "400: $summary; $dead dead letters, $with_reason with the reason"
  fi
}

# Nothing listens: after max_attempts the run fails with a message naming the URL without its
# query, and no row is claimed delivered.
case_receiver_down_fails_the_run() {
  make_rows 100
  local down
  down=$(free_port)
  write_pipeline "url: http://127.0.0.1:$down/hook?sig=QUERYSECRET" \
    "retry: {max_attempts: 3, initial_backoff: 20ms}"
  if run_sluice pipeline.yaml; then
    fail_case "receiver down: the run succeeded"
    return
  fi
  if grep -q "POST http://127.0.0.1:$down/hook: cannot deliver 100 row(s) after 3 attempt(s)" \
    stderr.txt && ! grep -q QUERYSECRET stderr.txt; then
    pass "receiver down: the run fails after 3 attempts: $(grep -o 'cannot deliver.*' stderr.txt | head -c 150)"
  else
    fail_case "receiver down: no clear error"
  fi
}

# The bearer token and ${ENV} header values reach the receiver, and neither they nor the URL's
# query appear in what sluice prints: a run with refused requests, a run against a receiver
# that is down, and `sluice validate`.
case_secrets_are_sent_never_printed() {
  make_rows 1000
  export HOOK_TOKEN="tok-$RANDOM-secret" HOOK_KEY="key-$RANDOM-secret" HOOK_TENANT="acme"
  write_pipeline "url: http://127.0.0.1:$port/secrets/reject/1?sig=QUERYSECRET" \
    'headers: {X-Api-Key: "${HOOK_KEY}", X-Tenant: "${HOOK_TENANT}"}' \
    'auth: {bearer_token: "${HOOK_TOKEN}"}' "batch: {rows: 500}"
  run_sluice pipeline.yaml || true
  cat stderr.txt > printed.txt
  "$sluice" validate pipeline.yaml >> printed.txt 2>&1 || true
  local down
  down=$(free_port)
  sed -i "s/127.0.0.1:$port/127.0.0.1:$down/" pipeline.yaml
  sed -i 's/^    connector: http$/    connector: http\n    retry: {max_attempts: 2, initial_backoff: 10ms}/' \
    pipeline.yaml
  run_sluice pipeline.yaml || true
  cat stderr.txt >> printed.txt
  local sent
  sent="$(recorded secrets 1 headers.Authorization) $(recorded secrets 1 headers.X-Api-Key)"
  sent+=" $(recorded secrets 1 headers.X-Tenant)"
  if [ "$sent" != "Bearer $HOOK_TOKEN $HOOK_KEY acme" ]; then
    fail_case "secrets: the receiver got '$sent'"
  elif grep -q -e "$HOOK_TOKEN" -e "$HOOK_KEY" -e QUERYSECRET printed.txt; then
    fail_case "secrets: printed: $(grep -e "$HOOK_TOKEN" -e "$HOOK_KEY" -e QUERYSECRET printed.txt | head -3)"
  elif ! grep -q 'cannot deliver' printed.txt || ! grep -q 'refused a request' printed.txt; then
    fail_case "secrets: the runs did not fail as expected"
  else
    pass "secrets: token and \${ENV} headers sent; none in $(wc -l < printed.txt) printed lines"
  fi
  unset HOOK_TOKEN HOOK_KEY HOOK_TENANT
}

# Basic authentication reaches the receiver as "Authorization: Basic base64(user:password)",
# and a refused request prints neither the password nor that header.
case_basic_auth() {
  make_rows 10
  export HOOK_PASSWORD="pw-$RANDOM-secret"
  write_pipeline "url: http://127.0.0.1:$port/basic/reject/1" \
    'auth: {basic: {username: sluice, password: "${HOOK_PASSWORD}"}}'
  run_sluice pipeline.yaml || true
  local sent expected
  sent=$(recorded basic 1 headers.Authorization)
  expected="Basic $(printf 'sluice:%s' "$HOOK_PASSWORD" | base64)"
  if [ "$sent" != "$expected" ]; then
    fail_case "basic: the receiver got '$sent'"
  elif grep -q -e "$HOOK_PASSWORD" -e "${expected#Basic }" stderr.txt; then
    fail_case "basic: the password was printed"
  elif [ "$(wc -l < dead.jsonl)" -ne 10 ]; then
    fail_case "basic: $(wc -l < dead.jsonl) dead letters, not 10"
  else
    pass "basic: credentials sent, not printed; 10 refused rows are dead letters"
  fi
  unset HOOK_PASSWORD
}
