# Upserts from an aggregate stream end as the table a batch GROUP BY gives, however the input is
# cut into batches (sourced by run_tests.sh, which provides lib.sh).

case_upsert_matches_group_by() {
  "$python" - > trades.jsonl <<'PY'
import json, random
random.seed(16)
# Keys that differ only in case or trailing spaces stay apart (a binary, unpadded key).
symbols = ["IBM", "ibm", "IBM ", "MSFT", "ünï", "😀", "O'Neil", "back\\slash"]
for i in range(2000):
    qty = None if i % 37 == 0 else random.randint(-50, 500)
    print(json.dumps({"symbol": random.choice(symbols), "qty": qty,
                      "price": random.randint(1, 100000) / 100.0}, ensure_ascii=False))
PY
  my_sql -e "CREATE TABLE trades (symbol VARCHAR(255) CHARACTER SET utf8mb4
      COLLATE utf8mb4_nopad_bin NOT NULL, qty BIGINT, price DOUBLE)"
  cat > load.yaml <<YAML
name: load-trades
sources:
  trades: {connector: file, path: trades.jsonl, schema: {symbol: string, qty: int64, price: double}}
sinks:
  out: {connector: mysql, url: "$(my_url)", table: trades}
YAML
  run_sluice load.yaml || { fail_case "upsert: loading the trades failed"; return; }
  my_sql -e "SELECT symbol, SUM(qty), COUNT(qty), MAX(price), COUNT(*) FROM trades
      GROUP BY symbol ORDER BY symbol" > expected.tsv
  local size ok=yes
  for size in 1 7 1000; do
    cat > agg.yaml <<YAML
name: upsert-$size
sources:
  trades:
    connector: file
    path: trades.jsonl
    batch_size: $size
    schema: {symbol: string, qty: int64, price: double}
pipeline:
  - aggregate: {group_by: [symbol], aggregate: {qty: [sum, count], price: [max]}}
sinks:
  out: {connector: mysql, url: "$(my_url)", table: totals_$size, create_table: true}
YAML
    run_sluice agg.yaml || { fail_case "upsert: the run with batch_size $size failed"; ok=no; continue; }
    my_sql -e "SELECT symbol, qty_sum, qty_count, price_max, count FROM totals_$size
        ORDER BY symbol" > got-$size.tsv
    if ! diff expected.tsv got-$size.tsv > diff-$size.txt; then
      fail_case "upsert: batch_size $size gives another table than GROUP BY"
      head -n 20 diff-$size.txt
      ok=no
    fi
  done
  local rows
  rows=$(wc -l < expected.tsv)
  [ "$ok" = yes ] && pass "upsert: aggregate -> $rows keys equal GROUP BY with batch_size 1, 7, 1000"
}
