#!/usr/bin/env bash
# The PostgreSQL integration tests as one ctest case: starts one PostgreSQL server (lib.sh),
# runs every case of cases_*.sh against it with the `sluice` binary and psql, and stops the
# server by its PID. Exits 77 (skipped) only when PostgreSQL is not installed.
#   run_tests.sh SLUICE_BINARY [CASE...]   (cases by function name; all when none given)
set -euo pipefail
export LC_ALL=C
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
sluice="$(realpath "$1")"
shift
python="$root/.deps/venv/bin/python"
[ -x "$python" ] || python=python3
source "$here/lib.sh"
source "$root/tests/integration/cases.sh"
for tool in "$pg_bin/initdb" "$pg_bin/pg_ctl" "$pg_bin/postgres" "$(command -v psql || true)"; do
  if [ ! -x "$tool" ]; then
    echo "SKIPPED: ${tool:-psql} is not installed (Debian packages postgresql-15, postgresql-client)"
    exit 77
  fi
done
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-postgres.XXXXXX")"
source "$root/tests/kill_repeatedly.sh"
cleanup() {
  pg_stop || true
  rm -rf "$work"
}
trap cleanup EXIT
pg_setup
pg_start
run_cases PostgreSQL "$@"
