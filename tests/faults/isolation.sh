# Bad rows are isolated (sliced out of their batch and dead-lettered) only in row-wise steps. A
# step that reads rows together (GROUP BY, LIMIT) is never re-run on slices: it fails the run
# with a message naming the step, or gives the exact whole-input result — never fragments.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# 1000 quotes over 10 symbols in batches of 64; row 500's code does not convert to a number.
python3 - <<'PY'
with open("quotes.csv", "w") as f:
    f.write("symbol,code,volume\n")
    for i in range(1000):
        f.write(f"S{i % 10},{'bad' if i == 500 else i},{i}\n")
with open("bad_first.csv", "w") as f:
    f.write("symbol,code,volume\n")
    for i in range(1000):
        f.write(f"S{i % 10},{'bad' if i == 0 else i},{i}\n")
PY

pipeline() {  # pipeline FILE INPUT STEP: a pipeline reading INPUT with one step
  cat > "$1" <<YAML
name: isolation
sources:
  quotes: {connector: file, path: $2, batch_size: 64, schema: {symbol: string, code: string, volume: int64}}
pipeline:
  - $3
sinks:
  out: {connector: file, path: out.jsonl}
YAML
}

# fails_whole FILE WHAT: the run of FILE fails, naming the step and DuckDB's reason, and writes
# no row (no fragment of a result).
fails_whole() {
  rm -f out.jsonl
  run_sluice run "$1"
  expect_status 1 "$2"
  expect_stderr "$1:5:" "$2: the failure names the step's place"
  expect_stderr "the sql step failed over the whole input" "$2"
  expect_stderr "Could not convert string 'bad'" "$2: DuckDB's reason"
  [ "$(lines out.jsonl)" -eq 0 ] || fail "$2: $(lines out.jsonl) fragmented rows written"
  pass
}

# A GROUP BY over the whole input with one failing row: the run fails, naming the step; no
# per-slice groups come out (before: 1000 dead letters, or hundreds of fragmented groups).
pipeline group.yaml quotes.csv 'sql: "SELECT symbol, sum(CAST(code AS BIGINT)) AS total FROM input GROUP BY symbol"'
fails_whole group.yaml "group by with a failing row"

# The same statement with the failure guarded gives exactly the whole-input result.
pipeline guarded.yaml quotes.csv 'sql: "SELECT symbol, sum(TRY_CAST(code AS BIGINT)) AS total FROM input GROUP BY symbol ORDER BY symbol"'
run_sluice run guarded.yaml
expect_status 0 "guarded group by"
[ "$(lines out.jsonl)" -eq 10 ] || fail "guarded group by: $(lines out.jsonl) rows, not 10"
python3 - <<'PY' || fail "guarded group by: the sums differ from the whole-input result"
import json
expected = {f"S{s}": sum(i for i in range(1000) if i % 10 == s and i != 500) for s in range(10)}
rows = [json.loads(line) for line in open("out.jsonl")]
got = {row["symbol"]: row["total"] for row in rows}
assert got == expected, (got, expected)
PY
pass

# LIMIT 5 where the first row fails: the run fails rather than giving 5 rows of each slice.
pipeline limit.yaml bad_first.csv 'sql: "SELECT symbol, CAST(code AS BIGINT) AS c FROM input LIMIT 5"'
fails_whole limit.yaml "limit with a failing row"

# LIMIT 5 that never reaches the failing row: DuckDB's exact answer, 5 rows.
pipeline limit_ok.yaml quotes.csv 'sql: "SELECT symbol, CAST(code AS BIGINT) AS c FROM input LIMIT 5"'
run_sluice run limit_ok.yaml
expect_status 0 "limit before the failing row"
[ "$(lines out.jsonl)" -eq 5 ] || fail "limit before the failing row: $(lines out.jsonl) rows"
pass

# A row-wise step with one bad row: that row alone is a dead letter; the others go on.
for step in 'derive: {c: "CAST(code AS int64)"}' \
            'sql: "SELECT symbol, CAST(code AS BIGINT) AS c FROM input"' \
            'filter: "CAST(code AS int64) >= 0"'; do
  pipeline rowwise.yaml quotes.csv "$step"
  run_sluice run rowwise.yaml
  expect_status 0 "row-wise $step"
  [ "$(summary_count 'dead letters?')" -eq 1 ] ||
    fail "row-wise $step: $(summary_count 'dead letters?') dead letters, not 1"
  expect_stderr '"code":"bad"' "row-wise $step: the dead letter is the bad row"
  [ "$(lines out.jsonl)" -eq 999 ] || fail "row-wise $step: $(lines out.jsonl) rows out, not 999"
  expect_conservation "$(summary_count 'rows? in')" "$(summary_count 'rows? out')" 0 \
    "$(summary_count 'dead letters?')" "$(summary_count 'rows? skipped')" "row-wise $step"
  pass
done

# A guarded CAST: the 'N/A' rows select the THEN branch, so the ELSE branch's CAST never sees
# them and none is a dead letter; the one unguarded bad row still is.
python3 - <<'PY'
with open("guarded.csv", "w") as f:
    f.write("symbol,code,volume\n")
    for i in range(1000):
        f.write(f"S{i % 10},{'bad' if i == 500 else 'N/A' if i % 7 == 0 else i},{i}\n")
PY
for step in 'derive: {c: "CASE WHEN code = '"'N/A'"' THEN NULL ELSE CAST(code AS int64) END"}' \
            'filter: "code <> '"'N/A'"' AND CAST(code AS int64) >= 0"'; do
  pipeline guard.yaml guarded.csv "$step"
  run_sluice run guard.yaml
  expect_status 0 "guarded $step"
  [ "$(summary_count 'dead letters?')" -eq 1 ] ||
    fail "guarded $step: $(summary_count 'dead letters?') dead letters, not 1 (the 'bad' row)"
  expect_stderr '"code":"bad"' "guarded $step: the dead letter is the bad row"
  expect_no_stderr '"code":"N/A"' "guarded $step: a guarded row was dead-lettered"
  pass
done
[ "$(lines out.jsonl)" -eq 856 ] || fail "guarded filter: $(lines out.jsonl) rows out, not 856"

finish
