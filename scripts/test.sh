#!/usr/bin/env bash
# Sets up (idempotently), builds the `dev` preset (clang, ASan+UBSan, libFuzzer targets) and runs
# every test: unit tests, declarative pipeline cases, fuzz targets (briefly) and the docs check.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
cmake --preset dev -DSLUICE_WERROR="$werror" >/dev/null
cmake --build --preset dev -j "$(nproc)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
ctest --preset dev "$@"
