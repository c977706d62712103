"""Runs the scan benchmark's query in DuckDB and prints the best time of N runs as JSON.

The result is materialised into a temporary table, so DuckDB does all the work Sluice does
(read, filter, compute, project) and keeps the rows rather than discarding them.
"""
import argparse
import json
import time

import duckdb

QUERY = """CREATE OR REPLACE TEMP TABLE r AS
SELECT symbol, ask - bid AS spread, (ask + bid) / 2 AS mid, volume
FROM read_parquet(?)
WHERE ask > bid AND volume > 100"""


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--threads", type=int, default=0, help="0 keeps DuckDB's default")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    connection = duckdb.connect()
    if args.threads > 0:
        connection.execute(f"SET threads = {args.threads}")
    threads = connection.execute("SELECT current_setting('threads')").fetchone()[0]
    rows = connection.execute("SELECT count(*) FROM read_parquet(?)", [args.path]).fetchone()[0]
    best = None
    output_rows = None
    for _ in range(args.repeat):
        started = time.perf_counter()
        connection.execute(QUERY, [args.path])
        elapsed = time.perf_counter() - started
        output_rows = connection.execute("SELECT count(*) FROM r").fetchone()[0]
        connection.execute("DROP TABLE r")
        best = elapsed if best is None else min(best, elapsed)
    print(json.dumps({"threads": int(threads), "rows": rows, "output_rows": output_rows, "seconds": best}))


if __name__ == "__main__":
    main()
