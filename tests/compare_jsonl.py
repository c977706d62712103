"""Compares two JSON-lines files row by row, as values (so 1.0 == 1.0 whatever the spelling).

usage: compare_jsonl.py [--ignore KEY]... [--unordered] EXPECTED ACTUAL
"""
import json
import sys


def load(path, ignored):
    rows = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                sys.exit(f"{path}:{number}: not JSON: {error}")
            for key in ignored:
                row.pop(key, None)
            rows.append(row)
    return rows


def main(argv):
    ignored, unordered, paths = [], False, []
    i = 0
    while i < len(argv):
        if argv[i] == "--ignore":
            ignored.append(argv[i + 1])
            i += 2
            continue
        if argv[i] == "--unordered":
            unordered = True
        else:
            paths.append(argv[i])
        i += 1
    expected, actual = (load(p, ignored) for p in paths)
    if unordered:
        key = lambda row: json.dumps(row, sort_keys=True)
        expected, actual = sorted(expected, key=key), sorted(actual, key=key)
    for number, (want, got) in enumerate(zip(expected, actual), 1):
        if want != got:
            sys.exit(f"row {number} differs:\n  expected {json.dumps(want)}\n  actual   {json.dumps(got)}")
    if len(expected) != len(actual):
        sys.exit(f"expected {len(expected)} rows, got {len(actual)}")
    print(f"{len(actual)} rows match")


if __name__ == "__main__":
    main(sys.argv[1:])
