"""Every Arrow type the postgres sink writes, and how PostgreSQL must show it back.

  sink_types.py write FILE.parquet      writes the rows
  sink_types.py check FILE.csv          compares `psql --csv -P null=<null>` output of the table (ordered by id,
                                        with TimeZone UTC) with the values expected; prints the
                                        differences and exits 1 when there are any
"""
import csv
import datetime
import decimal
import sys

import pyarrow as pa
import pyarrow.parquet as pq

BIG = "x" * 100_000 + "é"
UTC = datetime.timezone.utc

ROWS = [
    dict(id=1, i8=-128, i16=-32768, i32=-2147483648, i64=-9223372036854775808, u32=4294967295,
         u64=18446744073709551615, f32=1.5, f64=-2.25e-300, dec=decimal.Decimal("-123456789.125"),
         flag=True, name='quote " comma , newline \n tab \t backslash \\ emoji 😀 ünïcode',
         big=BIG, raw=b"\x00\x01\xfe\xff", day=datetime.date(1999, 12, 31),
         ts_naive=datetime.datetime(1970, 1, 1, 0, 0, 0, 1),
         ts_utc=datetime.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
         tags=["a", "b c"], obj={"a": 1, "b": "x"}),
    dict(id=2, i8=127, i16=32767, i32=2147483647, i64=9223372036854775807, u32=0, u64=0,
         f32=float("inf"), f64=float("nan"), dec=decimal.Decimal("0.000"), flag=False, name="",
         big="", raw=b"", day=datetime.date(2000, 1, 1),
         ts_naive=datetime.datetime(1900, 6, 15, 12, 30, 0),
         ts_utc=datetime.datetime(2000, 1, 1, tzinfo=UTC), tags=[], obj={"a": None, "b": ""}),
    dict(id=3, i8=None, i16=None, i32=None, i64=None, u32=None, u64=None, f32=None, f64=None,
         dec=None, flag=None, name=None, big=None, raw=None, day=None, ts_naive=None, ts_utc=None,
         tags=None, obj=None),
]

SCHEMA = pa.schema([
    ("id", pa.int64()), ("i8", pa.int8()), ("i16", pa.int16()), ("i32", pa.int32()),
    ("i64", pa.int64()), ("u32", pa.uint32()), ("u64", pa.uint64()), ("f32", pa.float32()),
    ("f64", pa.float64()), ("dec", pa.decimal128(12, 3)), ("flag", pa.bool_()),
    ("name", pa.string()), ("big", pa.large_string()), ("raw", pa.binary()),
    ("day", pa.date32()), ("ts_naive", pa.timestamp("us")), ("ts_utc", pa.timestamp("ns", "UTC")),
    ("tags", pa.list_(pa.string())),
    ("obj", pa.struct([("a", pa.int64()), ("b", pa.string())])),
])

# What psql --csv -P null=<null> prints for each value of ROWS (None: null).
EXPECTED = [
    ["1", "-128", "-32768", "-2147483648", "-9223372036854775808", "4294967295",
     "18446744073709551615", "1.5", "-2.25e-300", "-123456789.125", "t", ROWS[0]["name"], BIG,
     "\\x0001feff", "1999-12-31", "1970-01-01 00:00:00.000001", "2024-02-29 23:59:59.999999+00",
     '["a", "b c"]', '{"a": 1, "b": "x"}'],
    ["2", "127", "32767", "2147483647", "9223372036854775807", "0", "0", "Infinity", "NaN",
     "0.000", "f", "", "", "\\x", "2000-01-01", "1900-06-15 12:30:00", "2000-01-01 00:00:00+00",
     "[]", '{"a": null, "b": ""}'],
    ["3"] + [None] * 18,
]


def write(path):
    table = pa.Table.from_pylist(ROWS, schema=SCHEMA)
    pq.write_table(table, path)


def check(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        got = list(reader)
    problems = []
    if header != SCHEMA.names:
        problems.append(f"columns {header}")
    if len(got) != len(EXPECTED):
        problems.append(f"{len(got)} rows, expected {len(EXPECTED)}")
    for row, expected in zip(got, EXPECTED):
        for name, value, want in zip(SCHEMA.names, row, expected):
            want = "<null>" if want is None else want
            if value != want:
                problems.append(f"row {row[0]} {name}: {value[:80]!r} != {want[:80]!r}")
    for problem in problems:
        print(problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    {"write": write, "check": check}[sys.argv[1]](sys.argv[2])
