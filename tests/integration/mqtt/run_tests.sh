#!/usr/bin/env bash
# The MQTT integration tests as one ctest case: starts one Mosquitto broker (lib.sh), runs every
# case of cases_*.sh against it with the `sluice` binary, mosquitto_pub and mosquitto_sub, and
# stops the broker by its PID. Exits 77 (skipped) only when mosquitto is not installed.
#   run_tests.sh SLUICE_BINARY [CASE...]   (cases by function name; all when none given)
set -euo pipefail
export LC_ALL=C
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
sluice="$(realpath "$1")"
shift
python="$root/.deps/venv/bin/python"
[ -x "$python" ] || python=python3
for tool in mosquitto mosquitto_pub mosquitto_sub mosquitto_passwd openssl; do
  if ! command -v "$tool" > /dev/null; then
    echo "SKIPPED: $tool is not installed (Debian packages mosquitto, mosquitto-clients)"
    exit 77
  fi
done
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-mqtt.XXXXXX")"
source "$here/lib.sh"
source "$root/tests/integration/cases.sh"
source "$root/tests/kill_repeatedly.sh"
cleanup() {
  broker_stop
  rm -rf "$work"
}
trap cleanup EXIT
broker_setup
broker_start
run_cases MQTT "$@"
