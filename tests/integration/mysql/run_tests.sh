#!/usr/bin/env bash
# The MySQL integration tests as one ctest case: starts one MariaDB server (lib.sh), runs every
# case of cases_*.sh against it with the `sluice` binary and the mariadb client, and stops the
# server by its PID. Exits 77 (skipped) only when MariaDB is not installed.
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
for tool in "$(my_server)" "$(command -v mariadb-install-db || true)" "$(command -v mariadb || true)"; do
  if [ ! -x "$tool" ]; then
    echo "SKIPPED: ${tool:-a MariaDB program} is not installed (Debian packages mariadb-server, mariadb-client)"
    exit 77
  fi
done
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-mysql.XXXXXX")"
source "$root/tests/kill_repeatedly.sh"
cleanup() {
  my_stop || true
  rm -rf "$work"
}
trap cleanup EXIT
my_setup
my_start
run_cases MySQL "$@"
