#!/usr/bin/env bash
# Checks that Sluice's `nexmark` source and the Java port of its generator (used by the Flink
# benchmark, bench/nexmark/flink/.../generator/) produce identical events: the Java port prints
# every event as CSV (GeneratorDump), Sluice writes its three streams to CSV files, and the two
# must match row for row (compared in order, per stream).
#
# usage: cross_check.sh SLUICE_BINARY [EVENTS]        (EVENTS defaults to 200000)
# Exits 77 (skipped) when javac or java is missing.
set -euo pipefail
sluice="$1"
events="${2:-200000}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
generator_sources="$root/bench/nexmark/flink/src/main/java/dev/sluice/bench/nexmark/generator"

if ! command -v javac >/dev/null || ! command -v java >/dev/null; then
  echo "javac/java not found; skipping"; exit 77
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/classes"
javac -d "$work/classes" "$generator_sources"/*.java

failed=0
passed=0
# Each case: a name, the Java GeneratorConfig settings, the same settings as source options.
run_case() {
  local name="$1" seed="$2" java_settings="$3" source_options="$4"
  local dir="$work/$name"
  mkdir -p "$dir"
  # shellcheck disable=SC2086  # java_settings is a list of name=value words
  java -cp "$work/classes" dev.sluice.bench.nexmark.generator.GeneratorDump "$events" "$seed" \
    $java_settings > "$dir/java.csv"
  cat > "$dir/pipeline.yaml" <<EOF
name: nexmark-cross-check-$name
sources:
  nexmark:
    connector: nexmark
    events: $events
    seed: $seed
$(printf '%s\n' "$source_options" | sed -e '/^$/d' -e 's/^/    /')
sinks:
  person: {connector: file, path: "$dir/person.csv", input: nexmark.person}
  auction: {connector: file, path: "$dir/auction.csv", input: nexmark.auction}
  bid: {connector: file, path: "$dir/bid.csv", input: nexmark.bid}
EOF
  if ! "$sluice" run --no-progress "$dir/pipeline.yaml" 2> "$dir/stderr.txt"; then
    echo "FAIL $name: sluice run failed:"; cat "$dir/stderr.txt"
    failed=$((failed + 1)); return
  fi
  local kind ok=1
  for kind in person auction bid; do
    # Java lines are "<kind>,<row>"; Sluice's files start with a header line.
    LC_ALL=C grep "^$kind," "$dir/java.csv" | cut -d, -f2- > "$dir/java-$kind.csv" || true
    tail -n +2 "$dir/$kind.csv" > "$dir/sluice-$kind.csv"
    local rows
    rows=$(wc -l < "$dir/java-$kind.csv")
    if [ "$rows" -eq 0 ]; then
      echo "FAIL $name: the Java port printed no $kind rows"; ok=0; continue
    fi
    if ! diff -q "$dir/java-$kind.csv" "$dir/sluice-$kind.csv" >/dev/null; then
      echo "FAIL $name: $kind rows differ (< Java, > Sluice), first differences:"
      diff "$dir/java-$kind.csv" "$dir/sluice-$kind.csv" | head -n 10 | cut -c1-300
      ok=0
    fi
  done
  if [ "$ok" -eq 1 ]; then
    echo "ok   $name: $events events identical ($(wc -l < "$dir/java.csv") rows)"
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
}

# The standard configuration (seed 0, 10 M events/s of event time).
run_case standard 0 "" ""
# Another seed, a slow rate (so auction lengths vary), out-of-order groups, other skews.
run_case shuffled 42 \
  "rate=1000 outOfOrderGroup=10 hotAuctionRatio=3 hotBiddersRatio=5 hotSellersRatio=2 activePeople=200 inFlightAuctions=30 baseTimeMs=1600000000123" \
  "rate: 1000
out_of_order_group: 10
hot_auction_ratio: 3
hot_bidders_ratio: 5
hot_sellers_ratio: 2
active_people: 200
in_flight_auctions: 30
start: '2020-09-13T12:26:40.123Z'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
