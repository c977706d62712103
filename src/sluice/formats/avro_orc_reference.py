"""Writes Avro and ORC files with reference implementations (fastavro, pyarrow.orc) for the
Avro and ORC reader tests. usage: avro_orc_reference.py OUT_DIR"""
import datetime
import decimal
import sys
import uuid

import fastavro
import pyarrow as pa
import pyarrow.orc
import pyarrow.parquet

out = sys.argv[1]

address = {
    "type": "record", "name": "Address", "namespace": "test",
    "fields": [{"name": "city", "type": "string"}, {"name": "zip", "type": ["null", "int"]}],
}
schema = {
    "type": "record", "name": "Everything", "namespace": "test",
    "fields": [
        {"name": "b", "type": "boolean"},
        {"name": "i", "type": "int"},
        {"name": "l", "type": "long"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double"},
        {"name": "s", "type": "string"},
        {"name": "raw", "type": "bytes"},
        {"name": "fx", "type": {"type": "fixed", "name": "Four", "size": 4}},
        {"name": "color", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN"]}},
        {"name": "maybe", "type": ["null", "long"]},
        {"name": "maybe_last", "type": ["string", "null"]},
        {"name": "home", "type": address},
        {"name": "work", "type": ["null", "Address"]},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "scores", "type": {"type": "map", "values": ["null", "double"]}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "tm", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "tu", "type": {"type": "long", "logicalType": "time-micros"}},
        {"name": "tsm", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "tsu", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "big", "type": {"type": "fixed", "name": "Dec8", "size": 8, "logicalType": "decimal",
                                 "precision": 18, "scale": 4}},
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
    ],
}
utc = datetime.timezone.utc
rows = [
    {"b": True, "i": -7, "l": 1 << 40, "f": 1.5, "d": -0.25, "s": "héllo", "raw": b"\x00\xff",
     "fx": b"abcd", "color": "GREEN", "maybe": None, "maybe_last": "x",
     "home": {"city": "Oslo", "zip": 150}, "work": None, "tags": ["a", "b"],
     "scores": {"m": 1.0, "n": None}, "day": datetime.date(2024, 2, 29),
     "tm": datetime.time(12, 30, 15, 250000), "tu": datetime.time(23, 59, 59, 999999),
     "tsm": datetime.datetime(2024, 1, 31, 12, 0, 0, 123000, tzinfo=utc),
     "tsu": datetime.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=utc),
     "price": decimal.Decimal("-12345678.90"), "big": decimal.Decimal("12345678901234.5678"),
     "id": uuid.UUID("12345678-1234-5678-1234-567812345678")},
    {"b": False, "i": 2147483647, "l": -(1 << 63), "f": -0.0, "d": 1e300, "s": "", "raw": b"",
     "fx": b"\x00\x00\x00\x01", "color": "RED", "maybe": 42, "maybe_last": None,
     "home": {"city": "", "zip": None}, "work": {"city": "Rome", "zip": 100}, "tags": [],
     "scores": {}, "day": datetime.date(1970, 1, 1), "tm": datetime.time(0, 0),
     "tu": datetime.time(0, 0), "tsm": datetime.datetime(1970, 1, 1, tzinfo=utc),
     "tsu": datetime.datetime(2262, 1, 1, tzinfo=utc), "price": decimal.Decimal("0.01"),
     "big": decimal.Decimal("-1.0000"), "id": uuid.UUID("00000000-0000-0000-0000-000000000000")},
]
for codec in ("null", "deflate"):
    with open(f"{out}/everything-{codec}.avro", "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(schema), rows, codec=codec)

# Many small blocks, for the damaged-input cases: 1000 rows, about 10 rows a block.
simple = {"type": "record", "name": "R",
          "fields": [{"name": "n", "type": "long"}, {"name": "text", "type": "string"}]}
many = [{"n": n, "text": f"row {n}"} for n in range(1000)]
for codec in ("null", "deflate"):
    with open(f"{out}/many-{codec}.avro", "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(simple), many, codec=codec, sync_interval=100)

# ORC: the same table as Parquet (the oracle), in several stripes.
n = 5000
table = pa.table({
    "id": pa.array(range(n), pa.int64()),
    "small": pa.array([i % 100 for i in range(n)], pa.int32()),
    "x": pa.array([None if i % 7 == 0 else i / 3 for i in range(n)], pa.float64()),
    "name": pa.array([f"name {i}" if i % 5 else None for i in range(n)], pa.string()),
    "flag": pa.array([i % 2 == 0 for i in range(n)], pa.bool_()),
    "day": pa.array([datetime.date(2024, 1, 1) + datetime.timedelta(days=i % 400)
                     for i in range(n)], pa.date32()),
    "tags": pa.array([[str(i), "t"] if i % 3 else [] for i in range(n)], pa.list_(pa.string())),
    "point": pa.array([{"a": i, "b": str(i)} for i in range(n)],
                      pa.struct([("a", pa.int64()), ("b", pa.string())])),
})
pyarrow.orc.write_table(table, f"{out}/table.orc", stripe_size=64 * 1024, batch_size=512)
pyarrow.parquet.write_table(table, f"{out}/table.parquet")
print(pyarrow.orc.ORCFile(f"{out}/table.orc").nstripes)
