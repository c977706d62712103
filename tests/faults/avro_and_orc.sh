# Avro and ORC files through the sluice binary: the same rows read from CSV, Avro (written by
# fastavro) and ORC (written by pyarrow) give identical JSON lines; Avro that Sluice writes
# (one file, and rolled parts) reads back the same and is read by fastavro; damaged Avro fails
# the run naming the place, or with on_unreadable: skip costs only its block, counted.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PYTHON="$FAULTS_DIR/../../.deps/venv/bin/python"
if ! "$PYTHON" -c "import fastavro, pyarrow.orc" 2>/dev/null; then
  echo "fastavro or pyarrow is not installed (scripts/bootstrap.sh installs them)"; exit 77
fi

ROWS=2000
"$PYTHON" - "$ROWS" <<'PY'
import datetime, sys
import fastavro, pyarrow as pa, pyarrow.orc
n = int(sys.argv[1])
utc = datetime.timezone.utc
rows = [{"id": i, "name": f"name {i}" if i % 9 else None, "score": i / 4 if i % 5 else None,
         "ts": datetime.datetime(2024, 1, 1, tzinfo=utc) + datetime.timedelta(seconds=37 * i)}
        for i in range(n)]
with open("people.csv", "w") as f:
    f.write("id,name,score,ts\n")
    for r in rows:
        f.write(f'{r["id"]},{r["name"] or ""},{"" if r["score"] is None else r["score"]},'
                f'{r["ts"].isoformat()}\n')
schema = {"type": "record", "name": "Person", "fields": [
    {"name": "id", "type": "long"}, {"name": "name", "type": ["null", "string"]},
    {"name": "score", "type": ["null", "double"]},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}}]}
with open("people.avro", "wb") as f:
    fastavro.writer(f, fastavro.parse_schema(schema), rows, codec="deflate", sync_interval=2000)
table = pa.table({"id": [r["id"] for r in rows], "name": [r["name"] for r in rows],
                  "score": [r["score"] for r in rows],
                  "ts": pa.array([r["ts"] for r in rows], pa.timestamp("us", "UTC"))})
pyarrow.orc.write_table(table, "people.orc", stripe_size=16 * 1024)
PY

schema='schema: {id: int64, name: string, score: double, ts: timestamp}'
# --- 1. CSV, Avro and ORC give the same JSON lines.
for format in csv avro orc; do
  file_pipeline "$format.yaml" "people.$format" "$schema"
  run_fresh "$format.yaml"
  expect_status 0 "read people.$format"
  [ "$(lines out.jsonl)" -eq "$ROWS" ] || fail "people.$format: $(lines out.jsonl) rows out"
  mv out.jsonl "from-$format.jsonl"
done
cmp -s from-csv.jsonl from-avro.jsonl || fail "Avro rows differ from CSV rows: $(diff from-csv.jsonl from-avro.jsonl | head -5)"
cmp -s from-csv.jsonl from-orc.jsonl || fail "ORC rows differ from CSV rows: $(diff from-csv.jsonl from-orc.jsonl | head -5)"
pass
# Without a declared schema the Avro file's own schema is used: the same rows.
file_pipeline plain.yaml people.avro
run_fresh plain.yaml
expect_status 0 "read people.avro with its own schema"
cmp -s from-csv.jsonl out.jsonl || fail "Avro rows (own schema) differ: $(diff from-csv.jsonl out.jsonl | head -5)"
pass

# --- 2. Sluice writes Avro: one file, and rolled parts; both read back the same, and fastavro
# reads them too.
cat > write.yaml <<YAML
name: p
sources:
  in: {connector: file, path: people.csv, $schema}
sinks:
  one: {connector: file, path: written.avro}
  parts: {connector: file, path: "parts/part-{part}.avro", roll: {rows: 300}, avro_codec: "null"}
YAML
run_sluice run --no-progress write.yaml
expect_status 0 "write Avro"
[ "$(ls parts/*.avro | wc -l)" -eq 7 ] || fail "expected 7 rolled parts, got $(ls parts)"
file_pipeline back.yaml written.avro
run_fresh back.yaml
cmp -s from-csv.jsonl out.jsonl || fail "written Avro reads back different: $(diff from-csv.jsonl out.jsonl | head -5)"
file_pipeline parts.yaml "parts/*.avro"
run_fresh parts.yaml
sort out.jsonl | cmp -s - <(sort from-csv.jsonl) || fail "rolled Avro parts read back different"
"$PYTHON" - "$ROWS" <<'PY' || fail "fastavro does not read Sluice's Avro the same"
import datetime, glob, sys
import fastavro
n = int(sys.argv[1])
for paths in (["written.avro"], sorted(glob.glob("parts/*.avro"))):
    records = [r for p in paths for r in fastavro.reader(open(p, "rb"))]
    assert len(records) == n, len(records)
    r = records[11]
    assert r["id"] == 11 and r["name"] == "name 11" and r["score"] == 2.75, r
    assert r["ts"] == datetime.datetime(2024, 1, 1, 0, 6, 47, tzinfo=datetime.timezone.utc), r
    assert records[0]["name"] is None and records[0]["score"] is None
PY
pass

# --- 3. Damaged Avro: cut inside its last block, and a bad sync marker.
"$PYTHON" -c "
data = open('people.avro', 'rb').read()
open('cut.avro', 'wb').write(data[:-40])
sync = data[-16:]
second = data.index(sync, data.index(sync) + 16)  # the end of the first block
bad = bytearray(data); bad[second + 5] ^= 0xff
open('badsync.avro', 'wb').write(bytes(bad))
"
file_pipeline cut_fail.yaml cut.avro
run_fresh cut_fail.yaml
expect_status 1 "cut Avro, default"
expect_stderr "cut.avro:block" "cut Avro: place"
expect_stderr "cut short" "cut Avro: what"
expect_stderr "set on_unreadable: skip" "cut Avro: hint"
pass
file_pipeline cut_skip.yaml cut.avro "on_unreadable: skip"
run_fresh cut_skip.yaml
expect_status 0 "cut Avro, skip"
expect_conservation "$ROWS" "$(lines out.jsonl)" 0 0 "$(summary_count 'rows? skipped')" "cut Avro"
[ "$(lines dead.jsonl)" -eq 1 ] || fail "cut Avro: expected one dead letter"
pass
file_pipeline sync_skip.yaml badsync.avro "on_unreadable: skip"
run_fresh sync_skip.yaml
expect_status 0 "bad sync marker, skip"
grep -q "sync marker" dead.jsonl || fail "bad sync marker: the dead letter does not say so"
[ "$(lines out.jsonl)" -gt 0 ] && [ "$(lines out.jsonl)" -lt "$ROWS" ] || fail "bad sync marker: $(lines out.jsonl) rows out"
pass

# --- 4. ORC is read, not written; a file that is not Avro is an error naming it.
cat > orc_sink.yaml <<YAML
name: p
sources:
  in: {connector: file, path: people.csv}
sinks:
  out: {connector: file, path: out.orc}
YAML
run_sluice validate orc_sink.yaml
expect_status 2 "ORC sink"
expect_stderr "ORC files are read, not written" "ORC sink: message"
pass
cp people.csv notavro.avro
file_pipeline notavro.yaml notavro.avro
run_fresh notavro.yaml
[ "$status" -ne 0 ] || fail "a CSV named .avro was read"
expect_stderr "not an Avro object container file" "not Avro: message"
pass
finish
