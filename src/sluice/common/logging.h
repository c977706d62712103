#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace sluice {

/// The logger of one component ("pipeline", "source quotes"), writing to stderr. Loggers are
/// created once and shared; spdlog checks the level before formatting.
std::shared_ptr<spdlog::logger> ComponentLogger(std::string_view component);

/// Sets the level of every logger ("trace", "debug", "info", "warn", "error", "off").
void SetLogLevel(std::string_view level);

}  // namespace sluice
