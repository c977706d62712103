#!/usr/bin/env python3
"""Prints a canonical digest of a query result written as CSV (no header): its row count and the
SHA-256 of its rows, each put in one canonical text form, sorted.

Both engines write the same columns; this removes the differences of notation only: a number is
written the same whether it came as 90800, 90800.000 or 90800.00000000001 (rounded to 6
decimals), and a timestamp, ISO 8601 text or epoch milliseconds, becomes epoch milliseconds.
DuckDB does the per-field work and the sort, so that results of millions of rows take seconds.

usage: canonical.py RESULT.csv
"""
import hashlib
import sys

import duckdb

INTEGER = r"^[+-]?[0-9]+$"
TIMESTAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})?$"


def canonical_field(column: str) -> str:
    """A SQL expression: the canonical text of one VARCHAR column."""
    rounded = f"round(TRY_CAST({column} AS DOUBLE), 6)"
    return f"""CASE
        WHEN {column} IS NULL THEN ''
        WHEN regexp_matches({column}, '{INTEGER}') THEN CAST(CAST({column} AS HUGEINT) AS VARCHAR)
        WHEN regexp_matches({column}, '{TIMESTAMP}')
          THEN CAST(epoch_ms(CAST(replace({column}, 'Z', '+00:00') AS TIMESTAMPTZ)) AS VARCHAR)
        WHEN {rounded} IS NOT NULL AND isfinite({rounded}) AND {rounded} = trunc({rounded})
          THEN CAST(CAST({rounded} AS HUGEINT) AS VARCHAR)
        WHEN {rounded} IS NOT NULL THEN CAST({rounded} AS VARCHAR)
        ELSE {column} END"""


def main() -> None:
    path = sys.argv[1]
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    digest = hashlib.sha256()
    rows = 0
    try:
        columns = connection.execute(
            "DESCRIBE SELECT * FROM read_csv(?, header = false, all_varchar = true, quote = '\"', "
            "escape = '\"', sample_size = -1)",
            [path],
        ).fetchall()
    except duckdb.InvalidInputException:
        columns = []  # an empty result
    if columns:
        fields = ", ".join(canonical_field(f'"{name}"') for name, *_ in columns)
        result = connection.execute(
            f"SELECT concat_ws(chr(31), {fields}) AS line "
            "FROM read_csv(?, header = false, all_varchar = true, quote = '\"', escape = '\"', "
            "sample_size = -1) ORDER BY line",
            [path],
        )
        while True:
            chunk = result.fetchmany(100_000)
            if not chunk:
                break
            for (line,) in chunk:
                digest.update(line.encode("utf-8"))
                digest.update(b"\n")
            rows += len(chunk)
    print(rows, digest.hexdigest())


if __name__ == "__main__":
    main()
