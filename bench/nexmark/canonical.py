#!/usr/bin/env python3
"""Prints a canonical digest of a query result written as CSV (no header): its row count and the
SHA-256 of its rows, each put in one canonical text form, sorted.

Both engines write the same columns; this removes the differences of notation only: a number is
written the same whether it came as 90800, 90800.000 or 90800.00000000001 (rounded to 6
decimals), and a timestamp, ISO 8601 text or epoch milliseconds, becomes epoch milliseconds.
"""
import csv
import datetime
import hashlib
import re
import sys

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
INTEGER = re.compile(r"^[+-]?\d+$")


def canonical(value: str) -> str:
    if value == "":
        return ""
    if INTEGER.match(value):
        return str(int(value))
    if ISO.match(value):
        text = value.replace(" ", "T")
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        moment = datetime.datetime.fromisoformat(_pad_fraction(text))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return str((moment - epoch) // datetime.timedelta(milliseconds=1))
    try:
        number = round(float(value), 6)
    except ValueError:
        return value
    return str(int(number)) if number.is_integer() else repr(number)


def _pad_fraction(text: str) -> str:
    """fromisoformat() in Python 3.10 wants 3 or 6 fraction digits."""
    match = re.match(r"^(.*?\.)(\d+)(.*)$", text)
    if not match:
        return text
    digits = (match.group(2) + "000000")[:6]
    return match.group(1) + digits + match.group(3)


def main() -> None:
    rows = []
    with open(sys.argv[1], newline="", encoding="utf-8") as handle:
        for record in csv.reader(handle):
            rows.append("\x1f".join(canonical(field) for field in record))
    rows.sort()
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row.encode("utf-8"))
        digest.update(b"\n")
    print(len(rows), digest.hexdigest())


if __name__ == "__main__":
    main()
