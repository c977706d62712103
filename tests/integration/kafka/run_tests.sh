#!/usr/bin/env bash
# The Kafka integration tests as one ctest case: starts a broker of its own (broker.sh), runs
# the test binary against it and stops the broker. Exits 77 (reported by ctest as skipped)
# only when Java is not installed; any other problem fails the case.
#   run_tests.sh TEST_BINARY [gtest arguments...]
# With SLUICE_BINARY set, recovery.sh (a pipeline killed 20 times) then runs against the same
# broker.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
binary="$1"
shift
if ! command -v java >/dev/null; then
  echo "SKIPPED: java is not installed; the Kafka integration tests need it to run a broker"
  exit 77
fi
SLUICE_KAFKA_INSTANCE="$(mktemp -d "${TMPDIR:-/tmp}/sluice-kafka-instance.XXXXXX")"
export SLUICE_KAFKA_INSTANCE
cleanup() {
  bash "$here/broker.sh" stop || true
  rm -rf "$SLUICE_KAFKA_INSTANCE"
}
trap cleanup EXIT
address="$(bash "$here/broker.sh" start | tail -n 1)"
SLUICE_KAFKA_BOOTSTRAP="$address" "$binary" "$@"
if [ -n "${SLUICE_BINARY:-}" ]; then
  SLUICE_KAFKA_BOOTSTRAP="$address" bash "$here/recovery.sh" "$SLUICE_BINARY"
fi
