"""Reads points back from InfluxDB 1.x over HTTP /query and checks them against the input rows.

  influx_check.py --port P --user U --password W count DB
      prints the number of points in DB (every measurement).
  influx_check.py ... compare DB INPUT.jsonl LAYOUT_JSON
      computes the points INPUT.jsonl should make under LAYOUT_JSON ({"measurement": "m" or
      "measurement_field": "f", "tags": [...], "time": "ts", "precision_ns": 1}; input times are
      epoch microseconds), and the rows that make none; prints "points=N dead=M" and exits 1
      listing the differences when the database does not hold exactly those points.
"""
import argparse
import base64
import json
import math
import sys
import urllib.parse
import urllib.request


def query(args, statement, db=""):
    params = urllib.parse.urlencode({"q": statement, "db": db, "epoch": "ns"})
    request = urllib.request.Request(f"http://127.0.0.1:{args.port}/query?{params}")
    token = base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    result = answer["results"][0]
    if "error" in result:
        raise SystemExit(f"query failed: {statement}: {result['error']}")
    return result.get("series", [])


def points(args, db):
    """Every point of db as (measurement, time, tags, fields)."""
    tag_keys = {}
    for series in query(args, "SHOW TAG KEYS", db):
        tag_keys[series["name"]] = {value[0] for value in series["values"]}
    found = []
    for series in query(args, "SELECT * FROM /.*/", db):
        name = series["name"]
        columns = series["columns"]
        for values in series["values"]:
            row = dict(zip(columns, values))
            time = row.pop("time")
            tags = {k: v for k, v in row.items() if k in tag_keys.get(name, ()) and v not in (None, "")}
            fields = {k: v for k, v in row.items() if k not in tag_keys.get(name, ()) and v is not None}
            found.append((name, time, tags, fields))
    return found


def unwritable(text, measurement=False):
    return (text == "" or "\n" in text or text.endswith("\\")
            or (measurement and text.startswith("#")))


def expected_points(input_path, layout):
    tags = layout.get("tags", [])
    time_field = layout.get("time")
    precision = layout.get("precision_ns", 1)
    expected, dead = [], 0
    for line in open(input_path, encoding="utf-8"):
        if not line.strip():
            continue
        row = json.loads(line)
        if "measurement_field" in layout:
            name = row.get(layout["measurement_field"])
            if name is None or unwritable(name, measurement=True):
                dead += 1
                continue
        else:
            name = layout["measurement"]
        point_tags, bad = {}, False
        for tag in tags:
            value = row.get(tag)
            if value is None or value == "":
                continue
            value = value if isinstance(value, str) else json.dumps(value)
            if unwritable(value):
                bad = True
            point_tags[tag] = value
        skip = set(tags) | {time_field, layout.get("measurement_field")}
        fields = {k: v for k, v in row.items() if k not in skip and v is not None}
        if any(isinstance(v, float) and not math.isfinite(v) for v in fields.values()):
            bad = True
        time = row.get(time_field)
        if bad or time is None or not fields:
            dead += 1
            continue
        expected.append((name, (time * 1000) // precision * precision, point_tags, fields))
    return expected, dead


def same_value(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b) if (isinstance(a, float) or isinstance(b, float)) else a == b
    return a == b


def key(point):
    name, time, tags, _ = point
    return (name, time, tuple(sorted(tags.items())))


def compare(args):
    layout = json.loads(args.layout)
    expected, dead = expected_points(args.input, layout)
    found = {key(p): p for p in points(args, args.db)}
    problems = []
    for point in expected:
        got = found.pop(key(point), None)
        if got is None:
            problems.append(f"missing: {point!r}")
            continue
        want_fields, got_fields = point[3], got[3]
        if set(want_fields) != set(got_fields) or not all(
                same_value(want_fields[k], got_fields[k]) for k in want_fields):
            problems.append(f"differs: wrote {point!r}, read {got!r}")
    for point in found.values():
        problems.append(f"unexpected: {point!r}")
    print(f"points={len(expected)} dead={dead}")
    for problem in problems[:20]:
        print(problem)
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    commands = parser.add_subparsers(dest="command", required=True)
    count = commands.add_parser("count")
    count.add_argument("db")
    comparing = commands.add_parser("compare")
    comparing.add_argument("db")
    comparing.add_argument("input")
    comparing.add_argument("layout")
    args = parser.parse_args()
    if args.command == "count":
        print(len(points(args, args.db)))
        return 0
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
