#!/usr/bin/env bash
# Installs every build and test dependency of Sluice, idempotently, on Debian 12.
#   - Debian packages (compilers, yaml-cpp, CLI11, spdlog, simdjson, GoogleTest, ...)
#   - Apache Arrow C++ 26 from the pyarrow==26.0.1 wheel, in the project venv .deps/venv
#   - DuckDB 1.4.4 (C header and libduckdb.so) from npm, in .deps/duckdb
#   - librdkafka 2.0.2 and the Avro C library 1.11 (Debian) for the Kafka connectors; Java 17
#     and Maven, with which the Kafka integration tests fetch and run a real broker (tests/integration/kafka/broker.sh)
# Everything lands in git-ignored folders under .deps/. Safe to run again: finished steps are skipped.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="$root/.deps"
mkdir -p "$deps"

log() { printf '[bootstrap] %s\n' "$*" >&2; }

# --- Debian packages ---------------------------------------------------------------------------
apt_packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev libsimdjson-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev
  python3-venv
  librdkafka-dev libavro-dev
  mosquitto mosquitto-clients rabbitmq-server librabbitmq-dev libssl-dev
  postgresql libpq-dev mariadb-server libmariadb-dev influxdb influxdb-client libcurl4-openssl-dev
  libexpat1-dev
  openjdk-17-jdk-headless maven
  libboost1.81-dev prometheus
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- Apache Arrow C++ (from the pyarrow wheel) -------------------------------------------------
arrow_version="26.0.1"
venv="$deps/venv"
if [ ! -f "$venv/.arrow-$arrow_version" ]; then
  log "installing pyarrow==$arrow_version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "pyarrow==$arrow_version" "duckdb==1.4.4"
  "$venv/bin/python" -c "import pyarrow; pyarrow.create_library_symlinks()"
  touch "$venv/.arrow-$arrow_version"
fi
# The Prometheus text-format parser of the metrics integration tests.
if ! "$venv/bin/python" -c "import prometheus_client" 2>/dev/null; then
  log "installing prometheus-client into $venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "prometheus-client==0.26.0"
fi
# The reference Avro writer and reader of the Avro tests.
if ! "$venv/bin/python" -c "import fastavro" 2>/dev/null; then
  log "installing fastavro into $venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "fastavro==1.9.7"
fi
# The S3 integration tests list in-progress multipart uploads with boto3.
if ! "$venv/bin/python" -c "import boto3" 2>/dev/null; then
  log "installing boto3 into $venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "boto3==1.44.18"
fi

# --- DuckDB C API (from npm) -------------------------------------------------------------------
duckdb_version="1.4.4"
duckdb_dir="$deps/duckdb"
if [ ! -f "$duckdb_dir/.duckdb-$duckdb_version" ]; then
  log "fetching DuckDB $duckdb_version (C header and libduckdb.so) from npm"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "duckdb@$duckdb_version" "@duckdb/node-bindings-linux-x64@$duckdb_version-r.4" >/dev/null 2>&1)
  mkdir -p "$duckdb_dir/include" "$duckdb_dir/lib"
  tar -xzf "$tmp/duckdb-$duckdb_version.tgz" -C "$tmp" package/src/duckdb/src/include/duckdb.h
  cp "$tmp/package/src/duckdb/src/include/duckdb.h" "$duckdb_dir/include/"
  rm -rf "$tmp/package"
  tar -xzf "$tmp"/duckdb-node-bindings-linux-x64-*.tgz -C "$tmp" package/libduckdb.so
  cp "$tmp/package/libduckdb.so" "$duckdb_dir/lib/"
  rm -rf "$tmp"
  touch "$duckdb_dir/.duckdb-$duckdb_version"
fi

# --- Rust (cargo) for the MQTT client library --------------------------------------------------
# native/mqtt_client is a Rust crate (rumqttc) that the build compiles with cargo; its crates come
# from crates.io, pinned by Cargo.lock, and are fetched here so the build itself needs no network.
cargo_bin="$(command -v cargo || true)"
[ -z "$cargo_bin" ] && [ -x "$HOME/.cargo/bin/cargo" ] && cargo_bin="$HOME/.cargo/bin/cargo"
if [ -z "$cargo_bin" ]; then
  log "cargo not found: install Rust 1.75 or newer (rustup) for the MQTT client in native/mqtt_client"
  exit 1
fi
"$cargo_bin" fetch --locked --quiet --manifest-path "$root/native/mqtt_client/Cargo.toml"

# --- versitygw, an S3-compatible server for the S3 integration tests (from the Go module proxy) --
versitygw_version="v1.8.0"
go_dir="$deps/go"
if [ ! -x "$go_dir/bin/versitygw" ] || [ ! -f "$go_dir/.versitygw-$versitygw_version" ]; then
  if command -v go >/dev/null 2>&1; then
    log "building versitygw $versitygw_version into $go_dir/bin (about 2 minutes)"
    mkdir -p "$go_dir"
    GOPATH="$go_dir" GOMODCACHE="$go_dir/pkg/mod" GOCACHE="$go_dir/cache" GOFLAGS=-modcacherw \
      go install "github.com/versity/versitygw/cmd/versitygw@$versitygw_version"
    touch "$go_dir/.versitygw-$versitygw_version"
  else
    log "go not found: the S3 integration tests will be skipped (install Debian's golang-go)"
  fi
fi

# --- Paths for CMake ---------------------------------------------------------------------------
arrow_include="$("$venv/bin/python" -c 'import pyarrow; print(pyarrow.get_include())')"
arrow_lib="$("$venv/bin/python" -c 'import pyarrow; print(pyarrow.get_library_dirs()[0])')"
cat > "$deps/paths.cmake.tmp" <<CMAKE
set(SLUICE_ARROW_INCLUDE_DIR "$arrow_include")
set(SLUICE_ARROW_LIB_DIR "$arrow_lib")
set(SLUICE_DUCKDB_INCLUDE_DIR "$duckdb_dir/include")
set(SLUICE_DUCKDB_LIB_DIR "$duckdb_dir/lib")
set(SLUICE_PYTHON "$venv/bin/python")
CMAKE
if ! cmp -s "$deps/paths.cmake.tmp" "$deps/paths.cmake" 2>/dev/null; then
  mv "$deps/paths.cmake.tmp" "$deps/paths.cmake"
else
  rm "$deps/paths.cmake.tmp"
fi
log "dependencies ready"
