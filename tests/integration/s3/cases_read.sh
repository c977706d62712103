# Reading from the bucket (sourced by run_tests.sh): a prefix of objects in each format read as
# one bounded stream equals the same files read from local disk; globs list by prefix and match
# keys level by level; the storage: block stands in for the AWS environment.

# Writes pipeline.yaml: source `path` (with connector $3, file by default) into out.jsonl.
read_pipeline() {
  cat > "$1" <<YAML
name: s3-read
sources:
  rows: {connector: ${3:-file}, path: "$2"}
sinks:
  out: {connector: file, path: out.jsonl}
YAML
}

# 340 objects of each format (1,020 under one prefix, 51,000 rows per format), uploaded once for the cases
# that read them.
case_prefix_equals_local() {
  check gen data 340
  if ! check put data lake/data; then
    fail_case "prefix: cannot upload the objects"
    return
  fi
  local fmt connector
  for fmt in parquet csv jsonl; do
    connector=file
    [ "$fmt" = csv ] && connector=s3
    mkdir -p "$fmt/local" "$fmt/s3"
    read_pipeline "$fmt/local/pipeline.yaml" "$PWD/data/$fmt/*.$fmt"
    read_pipeline "$fmt/s3/pipeline.yaml" "s3://lake/data/$fmt/*.$fmt" "$connector"
    (cd "$fmt/local" && run_sluice pipeline.yaml) || { fail_case "prefix $fmt: local run failed"; continue; }
    if ! (cd "$fmt/s3" && run_sluice pipeline.yaml); then
      cp "$fmt/s3/stderr.txt" stderr.txt
      fail_case "prefix $fmt: the run over s3://lake/data/$fmt/ failed"
      continue
    fi
    local rows
    rows=$(wc -l < "$fmt/s3/out.jsonl")
    if [ "$rows" -ne 51000 ]; then
      fail_case "prefix $fmt: $rows rows from the bucket, expected 51000"
    elif ! cmp -s "$fmt/local/out.jsonl" "$fmt/s3/out.jsonl"; then
      fail_case "prefix $fmt: the rows from the bucket differ from the local files'"
    else
      pass "prefix $fmt: 340 objects read as one stream (connector: $connector), 51000 rows equal to the local files'"
    fi
  done
}

# Globs: * and ? within a level, [...] classes, a wildcard in a middle level (listed
# recursively below the fixed prefix), a single key without wildcards; nothing matching is a
# config error that says so.
case_globs() {
  mkdir -p g/dt=2026-01-01 g/dt=2026-01-02 g/other
  local d
  for d in g/dt=2026-01-01 g/dt=2026-01-02 g/other; do
    printf '{"v": 1}\n{"v": 2}\n' > "$d/a-1.jsonl"
    printf '{"v": 3}\n' > "$d/a-2.jsonl"
    printf '{"v": 4}\n' > "$d/b-1.jsonl"
    printf 'not json at all\n' > "$d/a-1.txt"
  done
  check put g lake/globs
  local pattern expected got
  while IFS='|' read -r pattern expected; do
    read_pipeline pipeline.yaml "$pattern"
    if ! run_sluice pipeline.yaml; then
      fail_case "glob $pattern: the run failed"
      continue
    fi
    got=$(wc -l < out.jsonl)
    if [ "$got" -eq "$expected" ]; then
      pass "glob $pattern: $got rows"
    else
      fail_case "glob $pattern: $got rows, expected $expected"
    fi
  done <<'LIST'
s3://lake/globs/dt=2026-01-01/*.jsonl|4
s3://lake/globs/dt=*/a-?.jsonl|6
s3://lake/globs/*/a-[1].jsonl|6
s3://lake/globs/dt=2026-01-0[2]/b-1.jsonl|1
s3://lake/globs/other/a-1.jsonl|2
LIST
  read_pipeline pipeline.yaml "s3://lake/globs/none-*/x.jsonl"
  local status=0
  run_sluice pipeline.yaml || status=$?
  if [ "$status" -eq 2 ] && grep -q "no file matches 's3://lake/globs/none-\*/x.jsonl'" stderr.txt; then
    pass "glob matching nothing: a config error naming the pattern"
  else
    fail_case "glob matching nothing: exit $status"
  fi
}

# storage: {s3: ...} in the pipeline instead of the AWS environment; `sluice validate` of it
# never shows the secret.
case_storage_block() {
  printf '{"v": 1}\n{"v": 2}\n{"v": 3}\n' > one.jsonl
  check put . lake/storage-block > /dev/null
  cat > pipeline.yaml <<YAML
name: s3-storage
storage:
  s3:
    endpoint: http://127.0.0.1:$port
    region: us-east-1
    access_key_id: $access_key
    secret_access_key: $secret_key
    path_style: true
sources:
  rows: {connector: file, path: "s3://lake/storage-block/one.jsonl"}
sinks:
  out: {connector: file, path: out.jsonl}
YAML
  if ! env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_ENDPOINT_URL -u AWS_REGION \
      "$sluice" run --no-progress pipeline.yaml 2> stderr.txt; then
    fail_case "storage block: the run failed"
  elif [ "$(wc -l < out.jsonl)" -ne 3 ]; then
    fail_case "storage block: $(wc -l < out.jsonl) rows, expected 3"
  else
    pass "storage block: endpoint and keys from the pipeline, none from the environment"
  fi
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_ENDPOINT_URL \
    "$sluice" validate pipeline.yaml > validate.txt 2>&1 || true
  if grep -q "ok" validate.txt && no_secret_in validate.txt stderr.txt; then
    pass "storage block: validate passes and shows no secret"
  else
    fail_case "storage block: validate output: $(head -c 300 validate.txt)"
  fi
  # One key without the other is an error at the block, naming neither value.
  sed -i "/access_key_id:/d" pipeline.yaml
  local status=0
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
    "$sluice" validate pipeline.yaml > validate.txt 2>&1 || status=$?
  if [ "$status" -eq 2 ] && grep -q "pipeline.yaml:[0-9]*:[0-9]*: error: storage.s3 needs both" validate.txt &&
      no_secret_in validate.txt; then
    pass "storage block: a secret without a key id is a config error with file:line:col, secret not shown"
  else
    fail_case "storage block: half the credentials: exit $status, $(head -c 300 validate.txt)"
  fi
}

# Compressed text: .csv.gz and .jsonl.zst objects (and the same files on local disk) are
# decompressed as they are read, and give the rows of the uncompressed files.
case_compressed_text() {
  check gen data 3
  mkdir -p z
  "$python" - data z <<'PY'
import os, sys
import pyarrow as pa
src, dst = sys.argv[1], sys.argv[2]
for i in range(3):
    for fmt, codec, suffix in (("csv", "gzip", "gz"), ("jsonl", "zstd", "zst")):
        with open(os.path.join(src, fmt, f"part-{i:04d}.{fmt}"), "rb") as f:
            raw = f.read()
        with pa.CompressedOutputStream(os.path.join(dst, f"part-{i:04d}.{fmt}.{suffix}"), codec) as out:
            out.write(raw)
PY
  check put z lake/compressed > /dev/null
  local fmt suffix
  for pair in csv:gz jsonl:zst; do
    fmt=${pair%%:*}
    suffix=${pair##*:}
    mkdir -p "$fmt"
    read_pipeline "$fmt/plain.yaml" "$PWD/data/$fmt/*.$fmt"
    read_pipeline "$fmt/local.yaml" "$PWD/z/*.$fmt.$suffix"
    read_pipeline "$fmt/s3.yaml" "s3://lake/compressed/*.$fmt.$suffix"
    local name ok=1
    for name in plain local s3; do
      if ! (cd "$fmt" && run_sluice "$name.yaml" && mv out.jsonl "$name.out"); then
        cp "$fmt/stderr.txt" stderr.txt
        fail_case "compressed $fmt.$suffix: the $name run failed"
        ok=0
        break
      fi
    done
    [ "$ok" -eq 1 ] || continue
    if [ "$(wc -l < "$fmt/s3.out")" -eq 450 ] && cmp -s "$fmt/plain.out" "$fmt/local.out" &&
        cmp -s "$fmt/plain.out" "$fmt/s3.out"; then
      pass "compressed $fmt.$suffix: 3 objects and 3 local files decompressed, 450 rows equal to the plain files'"
    else
      fail_case "compressed $fmt.$suffix: the rows differ from the plain files'"
    fi
  done
  # Parquet compresses inside the file: a .parquet.gz is refused, saying so.
  gzip -c data/parquet/part-0000.parquet > x.parquet.gz
  read_pipeline pipeline.yaml "$PWD/x.parquet.gz"
  local status=0
  run_sluice pipeline.yaml || status=$?
  if [ "$status" -eq 2 ] && grep -q "only CSV and JSON lines are decompressed" stderr.txt; then
    pass "compressed parquet: refused with a clear error"
  else
    fail_case "compressed parquet: exit $status"
  fi
}
