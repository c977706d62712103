# Output is always readable: strings that are not valid UTF-8 become U+FFFD in JSON output, a dead
# letter's raw record keeps its bytes escaped (\xNN), and NaN and the infinities go through JSON
# lines, CSV and Parquet and come back. Each check reads the output strictly, as UTF-8.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

python=python3
[ -x "$FAULTS_DIR/../../.deps/venv/bin/python" ] && python="$FAULTS_DIR/../../.deps/venv/bin/python"

# expect_utf8 FILE WHAT: FILE exists and decodes as UTF-8, strictly.
expect_utf8() {
  [ -f "$1" ] || fail "$2: $1 was not written"
  python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$1" 2> /dev/null ||
    fail "$2: $1 is not valid UTF-8"
}

# pipeline FILE SOURCE_PATH SINKS...: a pipeline reading SOURCE_PATH, with dead letters to
# dead.jsonl and each SINK ("name: {connector: ...}") on a line of its own.
pipeline() {
  local file="$1" source="$2"
  shift 2
  {
    printf 'name: p\nsources:\n  in: {connector: file, path: %s}\nsinks:\n' "$source"
    for sink in "$@"; do printf '  %s\n' "$sink"; done
    printf 'dead_letters: {connector: file, path: dead.jsonl}\n'
  } > "$file"
}

# convert FROM TO WHAT: runs a pipeline that copies file FROM to file TO; it must succeed.
convert() {
  pipeline "convert.yaml" "$1" "out: {connector: file, path: $2}"
  run_sluice run --no-progress convert.yaml
  expect_status 0 "$3"
}

# read_bad_input FILE ROWS WHAT: reads FILE (ROWS records, some not UTF-8) to out.jsonl; the run
# succeeds, the dead letters read as UTF-8, and every record is a row or a dead letter.
read_bad_input() {
  pipeline bad_input.yaml "$1" "out: {connector: file, path: out.jsonl}"
  run_sluice run --no-progress bad_input.yaml
  expect_status 0 "$3"
  expect_utf8 dead.jsonl "dead letters of $3"
  expect_utf8 out.jsonl "output of $3"
  expect_conservation "$2" "$(lines out.jsonl)" 0 "$(lines dead.jsonl)" 0 "$3"
}

# 1. CSV with bytes that are not UTF-8: the rows become dead letters, which read as UTF-8, and
# their records hold the bytes escaped, so that nothing is lost.
python3 -c '
open("latin1.csv", "wb").write(b"id,name\n1,plain\n2,caf\xe9\n3,\xff\xfe\n")'
read_bad_input latin1.csv 3 "CSV with invalid UTF-8"
grep -qF 'caf\\xe9' dead.jsonl || fail "CSV with invalid UTF-8: the dead letter lost the byte e9"
pass

# 2. JSON lines with a line that is not UTF-8: its dead letter's record unescapes to the line's
# exact bytes.
python3 -c '
open("latin1.jsonl", "wb").write(b"{\"id\":1,\"name\":\"plain\"}\n{\"id\":2,\"name\":\"caf\xe9 \\\\ \"}\n")'
read_bad_input latin1.jsonl 2 "JSON lines with invalid UTF-8"
python3 - <<'PY' || fail "JSON lines with invalid UTF-8: the dead letter's record is not the line"
import json, re
record = json.loads(open("dead.jsonl", encoding="utf-8").readline())["record"]
raw = re.sub(rb"\\\\|\\x([0-9a-f]{2})",
             lambda m: bytes([int(m.group(1), 16)]) if m.group(1) else b"\\",
             record.encode("utf-8"))
assert raw == open("latin1.jsonl", "rb").read().split(b"\n")[1], (raw, record)
PY
pass

# 3. Strings that are not UTF-8 inside a columnar file (here an Arrow file whose string bytes
# are patched: Arrow does not check them on read) reach the JSON lines and console outputs as
# U+FFFD, every row kept.
printf 'id,name\n1,cafXQZ\n2,ok\n3,XQZXQZ\n' > names.csv
convert names.csv names.arrow "writing an Arrow file"
python3 -c '
data = open("names.arrow", "rb").read()
assert data.count(b"XQZ") == 3
open("patched.arrow", "wb").write(data.replace(b"XQZ", b"\xe9\xff\xc3"))'
pipeline patched.yaml patched.arrow "out: {connector: file, path: out.jsonl}" \
  "screen: {connector: console, format: jsonl}"
set +e
"$SLUICE" run --no-progress patched.yaml > console.jsonl 2> stderr.txt
status=$?
set -e
expect_status 0 "an Arrow file with invalid UTF-8"
expect_utf8 out.jsonl "JSON lines of an Arrow file with invalid UTF-8"
expect_utf8 console.jsonl "console JSON of an Arrow file with invalid UTF-8"
[ "$(lines out.jsonl)" -eq 3 ] || fail "an Arrow file with invalid UTF-8: $(lines out.jsonl) rows of 3"
grep -qF "\"name\":\"caf$(printf '\357\277\275\357\277\275\357\277\275')\"" out.jsonl ||
  fail "an Arrow file with invalid UTF-8: each bad byte is not one U+FFFD"
pass

# 4. JSON lines to JSON lines: "NaN", "Infinity" and "-Infinity" among numbers read as doubles and
# are written back the same way.
printf '{"x":1.5}\n{"x":"NaN"}\n{"x":"Infinity"}\n{"x":"-Infinity"}\n{"x":null}\n' > numbers.jsonl
convert numbers.jsonl numbers_out.jsonl "JSON lines with NaN and infinities"
cmp -s numbers.jsonl numbers_out.jsonl ||
  fail "JSON lines with NaN and infinities: written back as $(tr '\n' ' ' < numbers_out.jsonl)"
pass

# 5. Parquet to JSON lines to Parquet keeps NaN and the infinities (Parquet holds them as doubles;
# the CSV that makes the first Parquet file spells them as the CSV writer does).
printf 'x\n1.5\nNAN\ninf\n-inf\n' > numbers.csv
convert numbers.csv first.parquet "CSV to Parquet"
convert first.parquet middle.jsonl "Parquet to JSON lines"
convert middle.jsonl second.parquet "JSON lines to Parquet"
convert second.parquet second.csv "Parquet to CSV"
cmp -s numbers.csv second.csv ||
  fail "Parquet to JSON lines to Parquet: came back as $(tr '\n' ' ' < second.csv)"
grep -qxF '{"x":"NaN"}' middle.jsonl || fail "Parquet to JSON lines: NaN written as $(sed -n 2p middle.jsonl)"
pass

# 6. CSV spells NaN so that Arrow's CSV reader, with its default null spellings, reads a NaN
# (it takes "NaN" and "nan" for nulls), and the infinities so that it reads them back too.
if "$python" -c 'import pyarrow' 2> /dev/null; then
  "$python" - <<'PY' || fail "Arrow's CSV reader does not read back what the CSV sink wrote"
import math, pyarrow.csv
x = pyarrow.csv.read_csv("second.csv").column("x").to_pylist()
assert x[0] == 1.5 and math.isnan(x[1]) and x[2] == math.inf and x[3] == -math.inf, x
PY
else
  grep -qxF 'NAN' second.csv || fail "the CSV sink wrote NaN as $(sed -n 3p second.csv)"
fi
pass

finish
