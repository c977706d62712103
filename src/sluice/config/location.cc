#include "sluice/config/location.h"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::config {

std::string Location::ToString() const {
  if (!argument.empty()) return argument;
  if (!known()) return file.empty() ? std::string("<command line>") : file;
  return fmt::format("{}:{}:{}", file, line, column);
}

namespace {

std::string Diagnostic(const Location& where, std::string_view severity, std::string_view message,
                       std::string_view hint) {
  std::string text = fmt::format("{}: {}: {}", where.ToString(), severity, message);
  if (!hint.empty()) text += fmt::format("\n  hint: {}", hint);
  return text;
}

}  // namespace

Status ConfigError(const Location& where, std::string_view message, std::string_view hint) {
  return Status::Invalid(Diagnostic(where, "error", message, hint));
}

std::string ConfigWarning(const Location& where, std::string_view message, std::string_view hint) {
  return Diagnostic(where, "warning", message, hint);
}

bool ConfigErrors::Keep(const Status& status) {
  if (status.ok()) return true;
  // The same error can be reached twice (an option shared by two checks): report it once.
  if (std::find(messages_.begin(), messages_.end(), status.message()) == messages_.end())
    messages_.push_back(status.message());
  return false;
}

Status ConfigErrors::ToStatus() const {
  if (messages_.empty()) return Status::OK();
  std::string text;
  for (const auto& message : messages_) text += (text.empty() ? "" : "\n") + message;
  return Status::Invalid(text);
}

}  // namespace sluice::config
