#include "sluice/config/option_spec.h"

#include <fmt/format.h>

#include <chrono>

#include "sluice/common/duration.h"

namespace sluice::config {

std::string_view OptionTypeName(OptionType type) {
  switch (type) {
    case OptionType::kString:
      return "string";
    case OptionType::kInteger:
      return "integer";
    case OptionType::kDouble:
      return "number";
    case OptionType::kBool:
      return "bool";
    case OptionType::kDuration:
      return "duration";
    case OptionType::kEnum:
      return "enum";
    case OptionType::kExpression:
      return "expression";
    case OptionType::kStringList:
      return "list of strings";
    case OptionType::kStringMap:
      return "map of strings";
    case OptionType::kExpressionMap:
      return "map of field to expression";
    case OptionType::kSection:
      return "map of options";
    case OptionType::kAny:
      return "any";
  }
  return "unknown";
}

std::string FormatBound(const OptionSpec& option, double bound) {
  if (option.type == OptionType::kDuration) {
    return FormatDuration(std::chrono::duration_cast<Duration>(
        std::chrono::duration<double, std::milli>(bound)));
  }
  return fmt::format("{}", bound);
}

OptionSpec MakeOption(std::string name, OptionType type, std::string doc,
                      std::string default_value) {
  OptionSpec option;
  option.name = std::move(name);
  option.type = type;
  option.doc = std::move(doc);
  option.default_value = std::move(default_value);
  return option;
}

std::string_view PluginKindName(PluginKind kind) {
  switch (kind) {
    case PluginKind::kSource:
      return "source";
    case PluginKind::kProcessor:
      return "processor";
    case PluginKind::kSink:
      return "sink";
  }
  return "unknown";
}

const OptionSpec* PluginSpec::FindOption(std::string_view option_name) const {
  for (const auto& option : options) {
    if (option.name == option_name) return &option;
  }
  return nullptr;
}

}  // namespace sluice::config
