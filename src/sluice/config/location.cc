#include "sluice/config/location.h"

#include <fmt/format.h>

namespace sluice::config {

std::string Location::ToString() const {
  if (!known()) return file.empty() ? std::string("<command line>") : file;
  return fmt::format("{}:{}:{}", file, line, column);
}

Status ConfigError(const Location& where, std::string_view message, std::string_view hint) {
  std::string text = fmt::format("{}: error: {}", where.ToString(), message);
  if (!hint.empty()) text += fmt::format("\n  hint: {}", hint);
  return Status::Invalid(text);
}

}  // namespace sluice::config
