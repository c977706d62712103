"""Reads the requests receiver.py recorded for one case and prints what they hold, one line:

    check.py FOLDER FORMAT ROWS [dedupe] [dead=DEAD_LETTERS.jsonl]

requests=N answered 2xx ok=N, ok_rows=N (rows in requests answered 2xx), exact=yes when those
rows are the ROWS rows of make_rows (run_tests.sh) each once with their values, max_body=N
(bytes), keys=N (distinct Idempotency-Keys), ok_keys_unique=yes|no, methods=..., types=...
(Content-Types), in_flight=N (the most requests the receiver answered at once). With `dedupe`, a request whose Idempotency-Key came before is left out (as a
receiver that dedupes would); with dead=FILE the dead letters' records count with the 2xx rows
for `exact`.
"""

import csv
import io
import json
import os
import sys

import pyarrow as pa
import pyarrow.ipc


def decode(body, form):
    if form == "json":
        return json.loads(body)
    if form == "jsonl":
        return [json.loads(line) for line in body.decode().splitlines()]
    if form == "csv":
        return list(csv.DictReader(io.StringIO(body.decode(), newline="")))
    if form == "arrow":
        table = pa.ipc.open_stream(body).read_all()
        assert str(table.schema.field("at").type).startswith("timestamp"), table.schema
        return [dict(row, at=row["at"].strftime("%Y-%m-%dT%H:%M:%SZ"))
                for row in table.to_pylist()]
    raise ValueError(form)


def expected(i):
    return {"id": i, "name": f'row "{i}", é', "amount": i / 4,
            "at": f"2026-01-01T00:00:{i % 60:02d}Z"}


def same(row, want):
    return (int(row["id"]) == want["id"] and row["name"] == want["name"]
            and float(row["amount"]) == want["amount"] and row["at"] == want["at"])


folder, form, num_rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
dedupe = "dedupe" in sys.argv[4:]
dead = [arg[5:] for arg in sys.argv[4:] if arg.startswith("dead=")]
names = sorted(name for name in os.listdir(folder) if name.endswith(".json"))
seen = {}
ok = ok_rows = max_body = 0
keys, ok_keys, methods, types = set(), [], set(), set()
most_in_flight = 0
exact = True
for name in names:
    with open(os.path.join(folder, name)) as record_file:
        record = json.load(record_file)
    with open(os.path.join(folder, name[:-5] + ".body"), "rb") as body_file:
        body = body_file.read()
    max_body = max(max_body, len(body))
    most_in_flight = max(most_in_flight, record["in_flight"])
    key = record["headers"].get("Idempotency-Key", "")
    keys.add(key)
    methods.add(record["method"])
    types.add(record["headers"].get("Content-Type", ""))
    if record["status"] // 100 != 2:
        continue
    ok += 1
    if dedupe and key in ok_keys:
        continue
    ok_keys.append(key)
    for row in decode(body, form):
        ok_rows += 1
        i = int(row["id"])
        if i in seen or not 0 <= i < num_rows or not same(row, expected(i)):
            exact = False
        seen[i] = True
dead_rows = 0
for path in dead:
    with open(path) as letters:
        for line in letters:
            row = json.loads(json.loads(line)["record"])
            row["at"] = row["at"].replace(".000", "")
            dead_rows += 1
            i = int(row["id"])
            if i in seen or not 0 <= i < num_rows or not same(row, expected(i)):
                exact = False
            seen[i] = True
exact = exact and len(seen) == num_rows
print(f"requests={len(names)} ok={ok} ok_rows={ok_rows} dead_rows={dead_rows} exact={'yes' if exact else 'no'} "
      f"max_body={max_body} keys={len(keys)} "
      f"ok_keys_unique={'yes' if len(set(ok_keys)) == len(ok_keys) else 'no'} "
      f"methods={','.join(sorted(methods))} types={';'.join(sorted(types)).replace(' ', '')} "
      f"in_flight={most_in_flight}")
