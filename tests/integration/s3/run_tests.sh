#!/usr/bin/env bash
# The S3 integration tests as one ctest case: starts one versitygw server (an S3-compatible
# store over a scratch folder, lib.sh), runs every case of cases_*.sh against it with the
# `sluice` binary and s3_check.py (pyarrow's own S3 client, so that what a case checks never
# depends on Sluice having read it), and stops the server by its PID. Exits 77 (skipped) only
# when the versitygw binary is not installed (scripts/bootstrap.sh builds it when Go is there).
#   run_tests.sh SLUICE_BINARY [CASE...]   (cases by function name; all when none given)
set -euo pipefail
export LC_ALL=C
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
sluice="$(realpath "$1")"
shift
python="$root/.deps/venv/bin/python"
[ -x "$python" ] || python=python3
versitygw="$root/.deps/go/bin/versitygw"
[ -x "$versitygw" ] || versitygw="$(command -v versitygw || true)"
if [ -z "$versitygw" ]; then
  echo "SKIPPED: versitygw is not installed (scripts/bootstrap.sh builds it with Go)"
  exit 77
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-s3.XXXXXX")"
source "$here/lib.sh"
source "$root/tests/integration/cases.sh"
source "$root/tests/kill_repeatedly.sh"
cleanup() {
  server_stop
  rm -rf "$work"
}
trap cleanup EXIT
server_start
run_cases S3 "$@"
