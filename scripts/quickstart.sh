#!/usr/bin/env bash
# Sets up (idempotently), builds the optimised binary and runs the quickstart pipeline:
# synthetic market quotes from the built-in generator, filtered and enriched, printed as a table.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target sluice
exec build/release/sluice run examples/quickstart.yaml "$@"
