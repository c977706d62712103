"""Compares what the postgres source wrote (a Parquet file) with what psql reads from the same
table (CSV of canonical texts made by the server), value by value.

  compare_types.py SLUICE.parquet PSQL.csv

The CSV holds, per column, the server's own rendering in a form independent of Sluice:
timestamps and dates as epoch microseconds and days, bytea as hex, floats and numerics as text.
Prints the first differences and exits 1 when there is any.
"""
import csv
import decimal
import math
import struct
import sys

import pyarrow.parquet as pq


def main():
    csv.field_size_limit(1 << 30)
    table = pq.read_table(sys.argv[1])
    rows = table.to_pylist()
    # Timestamps as integers, not datetimes, so that no time zone logic of Python takes part.
    micros = {}
    for name in ("ts", "tz"):
        column = table.column(name).cast("int64")
        micros[name] = column.to_pylist()
    days = table.column("dt").cast("int32").to_pylist()
    with open(sys.argv[2], newline="", encoding="utf-8") as handle:
        expected = list(csv.DictReader(handle))
    problems = []
    if len(rows) != len(expected):
        problems.append(f"{len(rows)} rows from sluice, {len(expected)} from psql")
    for index, (got, want) in enumerate(zip(rows, expected)):
        def differ(name, a, b):
            problems.append(f"row id={want['id']} column {name}: sluice {a!r}, psql {b!r}")

        for name, text in want.items():
            null = text == ""
            if name in ("t", "v", "c", "j", "jb", "u", "iv", "arr", "by"):
                # Text columns: psql's CSV cannot tell null from "", so the query marks nulls.
                null = text == "\\N"
                value = got[name]
                if name == "by" and value is not None:
                    value = value.hex()
                if null != (value is None) or (not null and value != text):
                    differ(name, value, text)
                continue
            if name in ("ts", "tz"):
                value = micros[name][index]
            elif name == "dt":
                value = days[index]
            else:
                value = got[name]
            if null or value is None:
                if null != (value is None):
                    differ(name, value, text)
                continue
            if name in ("r", "d", "nu"):
                want_number = float(text)
                ok = (math.isnan(want_number) and math.isnan(value)) or value == want_number
                if name == "r":
                    # float4: the server's shortest text reads back as the same float32.
                    as32 = struct.unpack("f", struct.pack("f", want_number))[0]
                    ok = ok or value == as32 or (math.isnan(as32) and math.isnan(value))
            elif name == "n":
                ok = decimal.Decimal(value) == decimal.Decimal(text)
            elif name == "b":
                ok = value == (text == "t")
            else:
                ok = str(value) == text
            if not ok:
                differ(name, value, text)
    for problem in problems[:10]:
        print(problem)
    if problems:
        print(f"{len(problems)} difference(s)")
        sys.exit(1)
    print(f"{len(rows)} rows equal")


main()
