#!/usr/bin/env bash
# The metrics and health integration tests as one ctest case: runs live pipelines with
# `sluice run --http`, scrapes them with prometheus_client's text-format parser (and a real
# Prometheus server and promtool when installed), and sends hostile clients meanwhile.
#   run_tests.sh SLUICE_BINARY [CASE...]   (cases by function name; all when none given)
set -euo pipefail
export LC_ALL=C
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
sluice="$(realpath "$1")"
shift
python="$root/.deps/venv/bin/python"
[ -x "$python" ] || python=python3
if ! "$python" -c "import prometheus_client" 2> /dev/null; then
  echo "SKIPPED: the Python package prometheus-client is not installed (scripts/bootstrap.sh)"
  exit 77
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-metrics.XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$python" "$here/check_metrics.py" "$sluice" "$work" "$@"
