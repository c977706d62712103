# Damaged input stays local: each damaged span fails the run by default (exit 1, naming file and
# position) and, with on_unreadable: skip, costs only itself, counted as a dead letter with its
# skipped rows/bytes while the rest is read. Conservation, with IN the rows written:
#   IN = rows out + record dead letters + rows skipped
# where a damaged span's one dead letter stands for the rows it skipped.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PYTHON="$FAULTS_DIR/../../.deps/venv/bin/python"
[ -x "$PYTHON" ] || PYTHON=python3

# span_letters: dead letters that stand for a skipped span rather than one record.
span_letters() {
  if [ -f dead.jsonl ]; then grep -cE 'damaged span|unreadable|max_record_size|shrank' dead.jsonl || true; else echo 0; fi
}

# expect_skip_conservation IN WHAT: IN rows written = out + record dead letters + rows skipped.
expect_skip_conservation() {
  local dead spans
  dead="$(summary_count 'dead letters?')"
  spans="$(span_letters)"
  expect_conservation "$1" "$(lines out.jsonl)" 0 "$((dead - spans))" "$(summary_count 'rows? skipped')" "$2"
}

# --- 1. An unterminated quote in row 3 of a 1,000,000-row CSV costs row 3 only.
"$PYTHON" - <<'EOF'
with open('big.csv', 'w') as f:
    f.write('id,name,value\n')
    for i in range(1, 1000001):
        f.write('3,"broken,0.3\n' if i == 3 else f'{i},n{i},{i}\n')
EOF
file_pipeline quote_fail.yaml big.csv
run_fresh quote_fail.yaml
expect_status 1 "unterminated quote, default"
expect_stderr "big.csv:line 4: a quoted field does not end within max_record_size" "quote: place"
expect_stderr "set on_unreadable: skip" "quote: hint names an option that exists"
expect_no_stderr "newlines_in_values" "quote: no hint at options Sluice lacks"
pass
file_pipeline quote_skip.yaml big.csv "on_unreadable: skip"
run_fresh quote_skip.yaml
expect_status 0 "unterminated quote, skip"
[ "$(lines out.jsonl)" -eq 999999 ] || fail "quote: expected 999999 rows out, got $(lines out.jsonl)"
[ "$(summary_count 'dead letters?')" -eq 1 ] || fail "quote: expected 1 dead letter"
[ "$(summary_count 'rows? skipped')" -eq 1 ] || fail "quote: expected 1 row skipped"
expect_stderr "1 row skipped (14 bytes) as unreadable" "quote: bytes skipped in the summary"
grep -q '"origin":"big.csv:line 4"' dead.jsonl || fail "quote: the dead letter names line 4"
grep -q 'the next whole record of 3 fields is at line 5' dead.jsonl || fail "quote: says where reading went on"
expect_skip_conservation 1000000 "quote"
pass

# --- 2. An 8 MB field: read whole with the default max_record_size; over a smaller one, one dead
# letter and reading goes on (or, by default, exit 1).
"$PYTHON" - <<'EOF'
with open('field.csv', 'w') as f:
    f.write('id,text\n')
    for i in range(1, 11):
        f.write(f'{i},"' + 'x' * (8 << 20) + '"\n' if i == 5 else f'{i},t{i}\n')
EOF
file_pipeline field_default.yaml field.csv
run_fresh field_default.yaml
expect_status 0 "8 MB field, default max_record_size"
[ "$(lines out.jsonl)" -eq 10 ] || fail "8 MB field: expected 10 rows, got $(lines out.jsonl)"
[ "$(summary_count 'dead letters?')" -eq 0 ] || fail "8 MB field: expected no dead letters"
pass
file_pipeline field_small.yaml field.csv "max_record_size: 4194304"
run_fresh field_small.yaml
expect_status 1 "8 MB field over max_record_size, default on_unreadable"
expect_stderr "field.csv:line 6" "8 MB field: place"
expect_stderr "raise max_record_size" "8 MB field: hint"
pass
file_pipeline field_skip.yaml field.csv "max_record_size: 4194304" "on_unreadable: skip"
run_fresh field_skip.yaml
expect_status 0 "8 MB field over max_record_size, skip"
[ "$(lines out.jsonl)" -eq 9 ] || fail "8 MB field skip: expected 9 rows, got $(lines out.jsonl)"
expect_stderr "1 dead letter, 1 row skipped (8388613 bytes)" "8 MB field skip: counted"
expect_skip_conservation 10 "8 MB field skip"
pass

# --- 3. A corrupt data page in the middle row group of a Parquet file costs that group only.
"$PYTHON" - <<'EOF'
import pyarrow as pa, pyarrow.parquet as pq
n = 3000
table = pa.table({'id': pa.array(range(n), pa.int64()), 'name': [f'name-{i}' for i in range(n)]})
pq.write_table(table, 'rg.parquet', row_group_size=1000)
column = pq.ParquetFile('rg.parquet').metadata.row_group(1).column(0)
start = column.dictionary_page_offset if column.has_dictionary_page else column.data_page_offset
data = bytearray(open('rg.parquet', 'rb').read())
for k in range(start, start + column.total_compressed_size):
    data[k] ^= 0x5A
open('rg.parquet', 'wb').write(data)
EOF
file_pipeline parquet_fail.yaml rg.parquet
run_fresh parquet_fail.yaml
expect_status 1 "corrupt Parquet row group, default"
expect_stderr "rg.parquet:row group 2 of 3 (rows 1001-2000)" "parquet: place"
pass
file_pipeline parquet_skip.yaml rg.parquet "on_unreadable: skip"
run_fresh parquet_skip.yaml
expect_status 0 "corrupt Parquet row group, skip"
[ "$(lines out.jsonl)" -eq 2000 ] || fail "parquet: row groups 1 and 3 are read, got $(lines out.jsonl) rows"
grep -q '"id":2999' out.jsonl || fail "parquet: the row group after the damage is read"
[ "$(summary_count 'rows? skipped')" -eq 1000 ] || fail "parquet: 1000 rows skipped"
expect_skip_conservation 3000 "parquet"
pass

# --- 4. Truncated Arrow stream and file keep the batches before the cut.
"$PYTHON" - <<'EOF'
import pyarrow as pa, pyarrow.ipc as ipc
table = pa.table({'id': pa.array(range(4000), pa.int64())})
for name, new in (('cut.arrows', ipc.new_stream), ('cut.arrow', ipc.new_file)):
    with open(name, 'wb') as sink, new(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=1000):
            writer.write_batch(batch)
    data = open(name, 'rb').read()
    open(name, 'wb').write(data[:len(data) * 6 // 10])
EOF
for input in cut.arrows cut.arrow; do
  file_pipeline arrow_fail.yaml "$input" "format: arrow"
  run_fresh arrow_fail.yaml
  expect_status 1 "truncated $input, default"
  expect_stderr "$input:byte " "$input: place"
  expect_stderr "the stream is unreadable after 2000 rows" "$input: what was read"
  pass
  file_pipeline arrow_skip.yaml "$input" "format: arrow" "on_unreadable: skip"
  run_fresh arrow_skip.yaml
  expect_status 0 "truncated $input, skip"
  [ "$(lines out.jsonl)" -eq 2000 ] || fail "$input: expected the 2000 rows before the cut"
  [ "$(span_letters)" -eq 1 ] || fail "$input: one dead letter counts the rest"
  expect_stderr "0 rows skipped (" "$input: bytes skipped in the summary"
  pass
done

# --- 5. A truncated CSV (cut inside a quoted value) keeps every whole row.
"$PYTHON" - <<'EOF'
with open('cut.csv', 'w') as f:
    f.write('id,note\n')
    for i in range(1, 1001):
        f.write(f'{i},"note {i}"\n')
    f.write('1001,"cut in the mid')
EOF
file_pipeline cut_fail.yaml cut.csv
run_fresh cut_fail.yaml
expect_status 1 "truncated CSV, default"
expect_stderr "cut.csv:line 1002" "truncated CSV: place"
pass
file_pipeline cut_skip.yaml cut.csv "on_unreadable: skip"
run_fresh cut_skip.yaml
expect_status 0 "truncated CSV, skip"
[ "$(lines out.jsonl)" -eq 1000 ] || fail "truncated CSV: expected 1000 rows, got $(lines out.jsonl)"
grep -q 'to the end of the input' dead.jsonl || fail "truncated CSV: says the rest was skipped"
expect_skip_conservation 1001 "truncated CSV"
pass

# --- 6. A file of a glob that cannot be opened: a dangling link, which stops even root (chmod
# 000 does not), and an unreadable mode when not root.
mkdir -p glob
for i in 1 2 3; do
  { echo "id,name"; for j in 1 2 3 4 5; do echo "$i$j,n$j"; done; } > "glob/part-$i.csv"
done
ln -sf "$WORK/gone.csv" glob/part-2b.csv
if [ "$(id -u)" -ne 0 ]; then chmod 000 glob/part-2.csv; fi
file_pipeline glob_fail.yaml "glob/*.csv"
run_fresh glob_fail.yaml
expect_status 1 "unreadable file in a glob, default"
expect_stderr "cannot read 'glob/part-2b.csv'" "glob: names the file"
expect_stderr "set on_unreadable: skip" "glob: hint"
pass
file_pipeline glob_skip.yaml "glob/*.csv" "on_unreadable: skip"
run_fresh glob_skip.yaml
expect_status 0 "unreadable file in a glob, skip"
grep -q '"origin":"glob/part-2b.csv"' dead.jsonl || fail "glob: a dead letter names the file"
grep -q '"id":35' out.jsonl || fail "glob: the files after it are read"
pass

# --- 7. Malformed records are one dead letter each and never fail the run.
printf '{"a":1}\n{"a":\n{"a":3}\n' > bad.jsonl
printf 'a,b\n1,2\n3\n5,6\n' > bad.csv
for input in bad.jsonl bad.csv; do
  file_pipeline bad.yaml "$input"
  run_fresh bad.yaml
  expect_status 0 "malformed record in $input"
  [ "$(summary_count 'dead letters?')" -eq 1 ] || fail "$input: one dead letter"
  expect_no_stderr "skipped" "$input: nothing is skipped as damage"
  expect_conservation 3 "$(lines out.jsonl)" 0 1 0 "$input"
  pass
done

finish
