# Locates Sluice's dependencies. A system Arrow (find_package) is used when present; otherwise the
# paths written by scripts/bootstrap.sh (.deps/paths.cmake) point at the pyarrow wheel's C++ SDK.
if(EXISTS "${PROJECT_SOURCE_DIR}/.deps/paths.cmake")
  include("${PROJECT_SOURCE_DIR}/.deps/paths.cmake")
endif()

find_package(Arrow QUIET CONFIG)
find_package(Parquet QUIET CONFIG)
find_package(ArrowCompute QUIET CONFIG)
if(Arrow_FOUND AND Parquet_FOUND AND ArrowCompute_FOUND)
  message(STATUS "Arrow: system package ${Arrow_VERSION}")
  add_library(sluice_arrow INTERFACE)
  target_link_libraries(sluice_arrow INTERFACE Arrow::arrow_shared ArrowCompute::arrow_compute_shared
                                               Parquet::parquet_shared)
else()
  if(NOT SLUICE_ARROW_INCLUDE_DIR)
    message(FATAL_ERROR "Apache Arrow not found: run scripts/bootstrap.sh first")
  endif()
  message(STATUS "Arrow: ${SLUICE_ARROW_LIB_DIR}")
  add_library(sluice_arrow INTERFACE)
  target_include_directories(sluice_arrow SYSTEM INTERFACE "${SLUICE_ARROW_INCLUDE_DIR}")
  target_link_directories(sluice_arrow INTERFACE "${SLUICE_ARROW_LIB_DIR}")
  target_link_libraries(sluice_arrow INTERFACE arrow arrow_compute parquet)
  target_link_options(sluice_arrow INTERFACE "-Wl,-rpath,${SLUICE_ARROW_LIB_DIR}")
endif()

if(NOT SLUICE_DUCKDB_INCLUDE_DIR)
  message(FATAL_ERROR "DuckDB not found: run scripts/bootstrap.sh first")
endif()
add_library(sluice_duckdb_c INTERFACE)
target_include_directories(sluice_duckdb_c SYSTEM INTERFACE "${SLUICE_DUCKDB_INCLUDE_DIR}")
target_link_directories(sluice_duckdb_c INTERFACE "${SLUICE_DUCKDB_LIB_DIR}")
target_link_libraries(sluice_duckdb_c INTERFACE duckdb)
target_link_options(sluice_duckdb_c INTERFACE "-Wl,-rpath,${SLUICE_DUCKDB_LIB_DIR}")

# librdkafka (C++ API) for the Kafka connectors. Debian 12's 2.0.2 works with Kafka 4.x brokers
# (docs/connectors/kafka.md says how that was checked); a build of a newer one installed into
# .deps/librdkafka by a future bootstrap step, if present, is preferred.
set(SLUICE_RDKAFKA_PREFIX "${PROJECT_SOURCE_DIR}/.deps/librdkafka")
if(EXISTS "${SLUICE_RDKAFKA_PREFIX}/include/librdkafka/rdkafkacpp.h")
  message(STATUS "librdkafka: ${SLUICE_RDKAFKA_PREFIX}")
  add_library(sluice_rdkafka INTERFACE)
  target_include_directories(sluice_rdkafka SYSTEM INTERFACE "${SLUICE_RDKAFKA_PREFIX}/include")
  target_link_directories(sluice_rdkafka INTERFACE "${SLUICE_RDKAFKA_PREFIX}/lib")
  target_link_libraries(sluice_rdkafka INTERFACE rdkafka++ rdkafka)
  target_link_options(sluice_rdkafka INTERFACE "-Wl,-rpath,${SLUICE_RDKAFKA_PREFIX}/lib")
else()
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka++ rdkafka)
  message(STATUS "librdkafka: system package ${RDKAFKA_rdkafka_VERSION}")
  add_library(sluice_rdkafka INTERFACE)
  target_link_libraries(sluice_rdkafka INTERFACE PkgConfig::RDKAFKA)
endif()

# The Avro C library (Debian libavro-dev, pkg-config module avro-c) for the Kafka connectors
# `format: avro`.
find_package(PkgConfig REQUIRED)
pkg_check_modules(AVRO REQUIRED IMPORTED_TARGET avro-c)
message(STATUS "avro-c: system package ${AVRO_VERSION}")
add_library(sluice_avro INTERFACE)
target_link_libraries(sluice_avro INTERFACE PkgConfig::AVRO)

# rabbitmq-c (Debian librabbitmq-dev, pkg-config module librabbitmq) for the AMQP connectors.
pkg_check_modules(RABBITMQ REQUIRED IMPORTED_TARGET librabbitmq)
message(STATUS "rabbitmq-c: system package ${RABBITMQ_VERSION}")
add_library(sluice_rabbitmq INTERFACE)
target_link_libraries(sluice_rabbitmq INTERFACE PkgConfig::RABBITMQ)

find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(simdjson REQUIRED)
find_package(Threads REQUIRED)
if(SLUICE_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(SLUICE_BUILD_BENCH)
  find_package(benchmark QUIET)
endif()

# Database and HTTP client libraries (Debian): libpq for PostgreSQL, libmariadb (the MySQL C
# API) for MySQL and MariaDB, libcurl for HTTP clients (InfluxDB's write API).
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(MARIADB REQUIRED IMPORTED_TARGET libmariadb)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
message(STATUS "libpq ${PQ_VERSION}, libmariadb ${MARIADB_VERSION}, libcurl ${CURL_VERSION}")
add_library(sluice_sql_clients INTERFACE)
target_link_libraries(sluice_sql_clients INTERFACE PkgConfig::PQ PkgConfig::MARIADB PkgConfig::CURL)
# libexpat parses the XML answers of S3's multipart upload API.
pkg_check_modules(EXPAT REQUIRED IMPORTED_TARGET expat)
