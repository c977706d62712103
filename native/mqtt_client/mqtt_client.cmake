# The MQTT client of the mqtt connector: a Rust static library (rumqttc behind a C ABI,
# include/sluice_mqtt_client.h) built by cargo into the build folder. Linked into sluice_core with
# OpenSSL, which its TLS uses (src/CMakeLists.txt links it before Arrow: see there). cargo comes from rustup (scripts/bootstrap.sh checks for it).
find_program(SLUICE_CARGO cargo HINTS "$ENV{CARGO_HOME}/bin" "$ENV{HOME}/.cargo/bin" REQUIRED)
find_package(OpenSSL REQUIRED)

set(SLUICE_MQTT_CLIENT_DIR "${CMAKE_CURRENT_LIST_DIR}")
set(SLUICE_MQTT_CLIENT_TARGET_DIR "${CMAKE_BINARY_DIR}/cargo")
set(SLUICE_MQTT_CLIENT_LIBRARY "${SLUICE_MQTT_CLIENT_TARGET_DIR}/release/libsluice_mqtt_client.a")
file(GLOB SLUICE_MQTT_CLIENT_SOURCES CONFIGURE_DEPENDS "${SLUICE_MQTT_CLIENT_DIR}/src/*.rs")
add_custom_command(
  OUTPUT "${SLUICE_MQTT_CLIENT_LIBRARY}"
  COMMAND ${CMAKE_COMMAND} -E env "CARGO_TARGET_DIR=${SLUICE_MQTT_CLIENT_TARGET_DIR}"
          "${SLUICE_CARGO}" build --release --locked --quiet
          --manifest-path "${SLUICE_MQTT_CLIENT_DIR}/Cargo.toml"
  DEPENDS ${SLUICE_MQTT_CLIENT_SOURCES} "${SLUICE_MQTT_CLIENT_DIR}/Cargo.toml"
          "${SLUICE_MQTT_CLIENT_DIR}/Cargo.lock"
  COMMENT "Building the MQTT client (cargo)"
  USES_TERMINAL VERBATIM)
add_custom_target(sluice_mqtt_client_build DEPENDS "${SLUICE_MQTT_CLIENT_LIBRARY}")

add_library(sluice_mqtt_client STATIC IMPORTED GLOBAL)
set_target_properties(sluice_mqtt_client PROPERTIES
  IMPORTED_LOCATION "${SLUICE_MQTT_CLIENT_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${SLUICE_MQTT_CLIENT_DIR}/include")
target_link_libraries(sluice_mqtt_client INTERFACE OpenSSL::SSL OpenSSL::Crypto ${CMAKE_DL_LIBS}
                                                   Threads::Threads m)
add_dependencies(sluice_mqtt_client sluice_mqtt_client_build)
