#include "sluice/common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace sluice {
namespace {

std::shared_ptr<spdlog::sinks::sink> SharedSink() {
  static auto sink = [] {
    auto stderr_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    stderr_sink->set_pattern("%^[%l]%$ %n: %v");
    return stderr_sink;
  }();
  return sink;
}

spdlog::level::level_enum& CurrentLevel() {
  static spdlog::level::level_enum level = spdlog::level::info;
  return level;
}

}  // namespace

std::shared_ptr<spdlog::logger> ComponentLogger(std::string_view component) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::string name(component);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, SharedSink());
  logger->set_level(CurrentLevel());
  spdlog::register_logger(logger);
  return logger;
}

void SetLogLevel(std::string_view level) {
  CurrentLevel() = spdlog::level::from_str(std::string(level));
  spdlog::set_level(CurrentLevel());
}

}  // namespace sluice
