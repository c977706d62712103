#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time, starting from its seed corpus.
# usage: run_fuzzer.sh BINARY SEED_CORPUS WORK_DIR SECONDS
set -euo pipefail
binary="$1" seeds="$2" work="$3" seconds="$4"
mkdir -p "$work/corpus"
[ -d "$seeds" ] && cp -n "$seeds"/* "$work/corpus/" 2>/dev/null || true
exec "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
  -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus"
