#!/usr/bin/env bash
# The InfluxDB integration tests as one ctest case: starts one InfluxDB 1.x server (lib.sh) with
# authentication on, runs every case of cases_*.sh against it with the `sluice` binary, and
# stops the server by its PID. The 2.x write API is checked against fake_v2.py, a stand-in that
# validates requests as the server would (InfluxDB 2.x is not installed here). Exits 77
# (skipped) only when influxd is not installed.
#   run_tests.sh SLUICE_BINARY [CASE...]   (cases by function name; all when none given)
set -euo pipefail
export LC_ALL=C.UTF-8
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
sluice="$(realpath "$1")"
shift
python="$root/.deps/venv/bin/python"
[ -x "$python" ] || python=python3
for tool in influxd curl; do
  if ! command -v "$tool" > /dev/null; then
    echo "SKIPPED: $tool is not installed (Debian packages influxdb, curl)"
    exit 77
  fi
done
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-influxdb.XXXXXX")"
source "$here/lib.sh"
source "$root/tests/integration/cases.sh"
cleanup() {
  server_stop
  if [ -n "${KEEP_WORK:-}" ]; then echo "work folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
server_setup
server_start
server_create_admin
run_cases InfluxDB "$@"
