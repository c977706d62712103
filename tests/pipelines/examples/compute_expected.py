"""Computes expected.jsonl of the example cases independently of Sluice.

tumbling-quote-analytics: DuckDB SQL over the example's CSV. clean-quotes: DuckDB SQL over both
of the example's CSV files, the rows DuckDB cannot read skipped as Sluice keeps them aside; one
row per symbol, in any order. sliding-window-analytics: plain
Python from the definitions of ema, zscore and minmax. Windows are epoch-aligned with exclusive
ends; floating-point results are rounded to 9 decimals, as the case pipelines round them (the
engines may sum in different orders). Rows are sorted by window start, then symbol.

usage: compute_expected.py   (with pyarrow and duckdb installed; rewrites every expected.jsonl)
"""
import csv
import datetime
import json
import math
import os
import statistics

import duckdb

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "..", "..", "examples")


def iso(micros):
    stamp = datetime.datetime.fromtimestamp(micros // 1_000_000, datetime.timezone.utc)
    fraction = micros % 1_000_000
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += ("." + f"{fraction:06d}").rstrip("0")
    return text + "Z"


def rounded(value):
    """round(value, 9) as Sluice computes it: scale, round half away from zero, scale back."""
    if value is None:
        return None
    scaled = value * 1e9
    return math.copysign(math.floor(abs(scaled) + 0.5), scaled) / 1e9


def write(case, rows):
    with open(os.path.join(HERE, case, "expected.jsonl"), "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":")) + "\n")


def tumbling():
    connection = duckdb.connect()
    path = os.path.join(EXAMPLES, "tumbling-quote-analytics", "quotes.csv")
    connection.execute(f"""CREATE TABLE quotes AS
        SELECT symbol, bid, ask, volume, epoch_us(ts) AS ts,
               (ask - bid) / ((ask + bid) / 2) * 10000 AS volatility
        FROM read_csv('{path}', columns = {{'symbol': 'VARCHAR', 'bid': 'DOUBLE', 'ask': 'DOUBLE',
                                             'volume': 'BIGINT', 'ts': 'TIMESTAMPTZ'}}, header = true)""")
    result = connection.execute("""
        SELECT symbol, ts // 5000000 * 5000000 AS window_start, ts // 5000000 * 5000000 + 5000000 AS window_end,
               arg_min(ask, ts), arg_max(ask, ts), min(ask), max(bid), sum(volume),
               avg(volatility), var_samp(volatility), stddev_samp(volatility), count(*)
        FROM quotes GROUP BY ALL ORDER BY window_start, symbol""").fetchall()
    rows = []
    for (symbol, start, end, ask_first, ask_last, ask_min, bid_max, volume_sum, avg, variance, stddev,
         count) in result:
        rows.append({"symbol": symbol, "window_start": iso(start), "window_end": iso(end),
                     "ask_first": ask_first, "ask_last": ask_last, "ask_min": ask_min, "bid_max": bid_max,
                     "volume_sum": int(volume_sum), "volatility_avg": rounded(avg),
                     "volatility_variance": rounded(variance), "volatility_stddev": rounded(stddev),
                     "count": count})
    write("tumbling-quote-analytics", rows)


def clean_quotes():
    connection = duckdb.connect()
    path = os.path.join(EXAMPLES, "clean-quotes", "data", "quotes-*.csv")
    result = connection.execute(f"""
        SELECT symbol, avg(ask - bid) AS avg_spread, sum(volume) AS volume
        FROM read_csv('{path}', columns = {{'symbol': 'VARCHAR', 'bid': 'DOUBLE', 'ask': 'DOUBLE',
                                             'volume': 'BIGINT', 'ts': 'TIMESTAMPTZ'}},
                      header = true, ignore_errors = true)
        -- DuckDB reads the invalid time as NULL, where Sluice keeps the row aside.
        WHERE ask > bid AND symbol <> 'A' AND ts IS NOT NULL
        GROUP BY symbol ORDER BY symbol""").fetchall()
    rows = [{"symbol": symbol, "avg_spread": spread, "volume": None if volume is None else int(volume)}
            for symbol, spread, volume in result]
    write(os.path.join("clean-quotes", "default"), rows)


def ema(values):
    alpha = 2 / (len(values) + 1)
    average = values[0]
    for value in values[1:]:
        average = alpha * value + (1 - alpha) * average
    return average


def zscore(values):
    if len(values) < 2:
        return None
    deviation = statistics.stdev(values)
    return None if deviation == 0 else (values[-1] - statistics.fmean(values)) / deviation


def minmax(values):
    low, high = min(values), max(values)
    return None if high == low else (values[-1] - low) / (high - low)


def sliding(size=10_000_000, slide=5_000_000):
    path = os.path.join(EXAMPLES, "sliding-window-analytics", "quotes.csv")
    windows = {}
    with open(path, encoding="utf-8") as lines:
        for quote in csv.DictReader(lines):
            stamp = datetime.datetime.strptime(quote["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
            ts = int(stamp.replace(tzinfo=datetime.timezone.utc).timestamp()) * 1_000_000 + stamp.microsecond
            last_start = ts // slide * slide
            for start in range(last_start - size + slide, last_start + 1, slide):
                windows.setdefault((start, quote["symbol"]), []).append((ts, float(quote["ask"]), float(quote["bid"])))
    rows = []
    for (start, symbol), quotes in sorted(windows.items()):
        quotes.sort()  # event-time order (event times are unique)
        row = {"symbol": symbol, "window_start": iso(start), "window_end": iso(start + size)}
        for index, field in ((1, "ask"), (2, "bid")):
            values = [quote[index] for quote in quotes]
            row[f"{field}_ema"] = rounded(ema(values))
            row[f"{field}_zscore"] = rounded(zscore(values))
            row[f"{field}_minmax"] = rounded(minmax(values))
        row["count"] = len(quotes)
        rows.append(row)
    write("sliding-window-analytics", rows)


if __name__ == "__main__":
    tumbling()
    clean_quotes()
    sliding()
