#!/usr/bin/env bash
# The AMQP integration tests as one ctest case: starts one RabbitMQ node (broker.sh), runs the
# test binary against it, then, with SLUICE_BINARY set, the scripts that run `sluice` itself
# (equivalence.sh, recovery.sh, restart.sh), and stops the node. Exits 77 (reported by ctest as
# skipped) only when RabbitMQ is not installed.
#   run_tests.sh TEST_BINARY [gtest arguments...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
binary="$1"
shift
if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  echo "SKIPPED: rabbitmq-server is not installed; the AMQP integration tests need it"
  exit 77
fi
SLUICE_AMQP_INSTANCE="$(mktemp -d "${TMPDIR:-/tmp}/sluice-amqp-instance.XXXXXX")"
export SLUICE_AMQP_INSTANCE
cleanup() { bash "$here/broker.sh" stop || true; }
trap cleanup EXIT
started=$SECONDS
SLUICE_AMQP_URL="$(bash "$here/broker.sh" start | tail -n 1)"
export SLUICE_AMQP_URL
# The certificate names localhost, which rabbitmq-c checks (it does not match IP addresses).
SLUICE_AMQPS_URL="amqps://guest:guest@localhost:$(cat "$SLUICE_AMQP_INSTANCE/tls_port")/"
SLUICE_AMQP_CA="$SLUICE_AMQP_INSTANCE/tls/ca.pem"
export SLUICE_AMQPS_URL SLUICE_AMQP_CA
echo "RabbitMQ ready in $((SECONDS - started))s at $SLUICE_AMQP_URL"
"$binary" "$@"
if [ -n "${SLUICE_BINARY:-}" ]; then
  for script in equivalence.sh recovery.sh restart.sh; do
    started=$SECONDS
    bash "$here/$script" "$SLUICE_BINARY"
    echo "$script passed in $((SECONDS - started))s"
  done
fi
