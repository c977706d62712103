# Every Arrow type the engine produces, written into a created table and read back with the
# mariadb client (sourced by run_tests.sh, which provides lib.sh).

case_round_trip_types() {
  "$python" - > rows.jsonl <<'PY'
import json
rows = [
    {"id": 1, "i8": -128, "i16": -32768, "i32": -2147483648, "i64": -9223372036854775808,
     "u8": 255, "u16": 65535, "u32": 4294967295, "u64": 18446744073709551615,
     "f32": 1.5, "f64": 0.1, "b": True, "s": "plain", "ls": "large", "bin": "bytes",
     "d": "2024-02-29", "ts": "2024-02-29T23:59:59.123456Z"},
    {"id": 2, "i8": 127, "i16": 32767, "i32": 2147483647, "i64": 9223372036854775807,
     "u8": 0, "u16": 0, "u32": 0, "u64": 0, "f32": -0.25, "f64": 1e300, "b": False,
     "s": "ünïcödé 😀 'single' \"double\" back\\slash\ttab\nnewline",
     "ls": "x😀" * 100000, "bin": "a\u0000b'\\", "d": "1970-01-01",
     "ts": "1970-01-01T00:00:00+02:00"},
    {"id": 3},
]
for row in rows:
    print(json.dumps(row, ensure_ascii=False))
PY
  cat > types.yaml <<YAML
name: types
sources:
  rows:
    connector: file
    path: rows.jsonl
    schema: {id: int64, i8: int8, i16: int16, i32: int32, i64: int64, u8: uint8, u16: uint16,
             u32: uint32, u64: uint64, f32: float, f64: double, b: bool, s: string,
             ls: large_string, bin: binary, d: date, ts: timestamp}
sinks:
  out: {connector: mysql, url: "$(my_url)", table: types, create_table: true, key: [id]}
YAML
  run_sluice types.yaml || { fail_case "types: the run failed"; return; }
  my_sql -e "SELECT id, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, b, HEX(s), CHAR_LENGTH(ls),
      MD5(ls), HEX(bin), d, ts FROM types ORDER BY id" > got.tsv
  "$python" - > expected.tsv <<'PY'
import hashlib
s2 = "ünïcödé 😀 'single' \"double\" back\\slash\ttab\nnewline"
ls2 = "x😀" * 100000
rows = [
    ["1", "-128", "-32768", "-2147483648", "-9223372036854775808", "255", "65535", "4294967295",
     "18446744073709551615", "1.5", "0.1", "1", b"plain".hex().upper(), "5",
     hashlib.md5(b"large").hexdigest(), b"bytes".hex().upper(), "2024-02-29",
     "2024-02-29 23:59:59.123456"],
    ["2", "127", "32767", "2147483647", "9223372036854775807", "0", "0", "0", "0", "-0.25",
     "1e300", "0", s2.encode().hex().upper(), "200000", hashlib.md5(ls2.encode()).hexdigest(),
     "a\0b'\\".encode().hex().upper(), "1970-01-01", "1969-12-31 22:00:00.000000"],
    ["3"] + ["NULL"] * 17,
]
for row in rows:
    print("\t".join(row))
PY
  local types
  types=$(my_sql -e "SELECT GROUP_CONCAT(COLUMN_TYPE ORDER BY ORDINAL_POSITION SEPARATOR ',')
      FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'sluice' AND TABLE_NAME = 'types'")
  local want="bigint(20),tinyint(4),smallint(6),int(11),bigint(20),tinyint(3) unsigned,smallint(5) unsigned,int(10) unsigned,bigint(20) unsigned,float,double,tinyint(1),text,longtext,longblob,date,datetime(6)"
  if ! diff expected.tsv got.tsv > diff.txt; then
    fail_case "types: the table differs from the input"
    cat diff.txt
  elif [ "$types" != "$want" ]; then
    fail_case "types: column types '$types'"
  else
    pass "types: every engine type round-trips (nulls, 4-byte unicode, 400 KB strings, binary, UTC)"
  fi
}
