"""Writes the window benchmark's events: key int64, v double, ts timestamp[us, UTC].

`--events` events over `--keys` keys (uniform), at 10,000 events per second of event time, so
10 M events span 1,000 s: 200 tumbling 5 s windows of about 50,000 events each. Event times
increase by 100 us per event plus a jitter of up to 50 ms, so the rows are slightly out of order
(the pipelines allow 1 s). Deterministic; written in row groups of one million rows, generated
one group at a time so that memory stays small whatever the event count.
"""
import argparse
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

GROUP_ROWS = 1_000_000
EVENTS_PER_SECOND = 10_000


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--keys", type=int, default=10_000)
    args = parser.parse_args()

    schema = pa.schema([("key", pa.int64()), ("v", pa.float64()), ("ts", pa.timestamp("us", tz="UTC"))])
    start_us = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
    step_us = 1_000_000 // EVENTS_PER_SECOND
    temporary = args.path + ".partial"
    with pq.ParquetWriter(temporary, schema) as writer:
        written = 0
        group = 0
        while written < args.events:
            n = min(GROUP_ROWS, args.events - written)
            seed = 3 * group
            key = pc.floor(pc.multiply(pc.random(n, initializer=seed), float(args.keys))).cast(pa.int64())
            v = pc.round(pc.multiply(pc.random(n, initializer=seed + 1), 1000.0), 2)
            jitter = pc.floor(pc.multiply(pc.random(n, initializer=seed + 2), 50_000.0)).cast(pa.int64())
            base = pa.array(range(start_us + written * step_us, start_us + (written + n) * step_us, step_us),
                            type=pa.int64())
            ts = pc.add(base, jitter).cast(pa.timestamp("us", tz="UTC"))
            writer.write_table(pa.table([key, v, ts], schema=schema), row_group_size=GROUP_ROWS)
            written += n
            group += 1
    os.replace(temporary, args.path)


if __name__ == "__main__":
    main()
