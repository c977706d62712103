"""Writes the scan benchmark's quotes: symbol, bid, ask, volume, ts, deterministic.

About 70% of rows have ask > bid and 90% volume > 100, so the filter keeps about 63%.
Written in row groups of one million rows, generated one group at a time so that memory
stays small whatever the row count.
"""
import argparse
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

GROUP_ROWS = 1_000_000


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()

    symbols = pa.array([f"SYM{i:03d}" for i in range(100)])
    schema = pa.schema([("symbol", pa.string()), ("bid", pa.float64()), ("ask", pa.float64()),
                        ("volume", pa.int64()), ("ts", pa.timestamp("us", tz="UTC"))])
    start_us = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
    temporary = args.path + ".partial"
    with pq.ParquetWriter(temporary, schema) as writer:
        written = 0
        group = 0
        while written < args.rows:
            n = min(GROUP_ROWS, args.rows - written)
            seed = 4 * group
            pick = pc.floor(pc.multiply(pc.random(n, initializer=seed), 100.0)).cast(pa.int32())
            bid = pc.add(pc.multiply(pc.random(n, initializer=seed + 1), 490.0), 10.0)
            ask = pc.add(bid, pc.multiply(pc.subtract(pc.random(n, initializer=seed + 2), 0.3), 0.2))
            volume_fraction = pc.random(n, initializer=seed + 3)
            volume = pc.floor(pc.multiply(pc.multiply(volume_fraction, volume_fraction), 10_000.0)).cast(pa.int64())
            ts = pa.array(range(start_us + written * 1000, start_us + (written + n) * 1000, 1000),
                          type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))
            writer.write_table(pa.table([pc.take(symbols, pick), bid, ask, volume, ts], schema=schema),
                               row_group_size=GROUP_ROWS)
            written += n
            group += 1
    os.replace(temporary, args.path)


if __name__ == "__main__":
    main()
