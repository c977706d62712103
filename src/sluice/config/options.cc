#include "sluice/config/options.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "sluice/common/spelling.h"

namespace sluice::config {
namespace {

LocatedText ScalarText(const YAML::Node& node, const std::string& file) {
  // yaml-cpp tags a quoted scalar "!" and a plain one "?"; a quoted scalar's text starts one
  // column after the node's mark.
  return LocatedText{node.Scalar(), LocationOfNode(node, file), node.Tag() == "!"};
}

std::string ShapeName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return fmt::format("'{}'", node.Scalar());
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "an undefined value";
  }
}

Result<LocatedText> InterpolatedScalar(const YAML::Node& node, const std::string& file) {
  LocatedText text = ScalarText(node, file);
  SLUICE_ASSIGN_OR_RAISE(text.text, InterpolateEnvironment(text));
  return text;
}

Status CheckBounds(const OptionSpec& spec, double value, const Location& where,
                   std::string_view shown) {
  if (spec.min && value < *spec.min) {
    return ConfigError(where,
                       fmt::format("{} must be at least {} (got {})", spec.name,
                                   FormatBound(spec, *spec.min), shown));
  }
  if (spec.max && value > *spec.max) {
    return ConfigError(where,
                       fmt::format("{} must be at most {} (got {})", spec.name,
                                   FormatBound(spec, *spec.max), shown));
  }
  return Status::OK();
}

/// Checks a scalar's content against its declared type.
Status CheckScalar(const OptionSpec& spec, const LocatedText& value) {
  const std::string& text = value.text;
  switch (spec.type) {
    case OptionType::kInteger: {
      int64_t parsed = 0;
      auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
      if (error != std::errc() || end != text.data() + text.size()) {
        return ConfigError(value.where,
                           fmt::format("{} must be a whole number, not '{}'", spec.name, text));
      }
      return CheckBounds(spec, static_cast<double>(parsed), value.where, text);
    }
    case OptionType::kDouble: {
      double parsed = 0;
      auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
      if (error != std::errc() || end != text.data() + text.size()) {
        return ConfigError(value.where,
                           fmt::format("{} must be a number, not '{}'", spec.name, text));
      }
      return CheckBounds(spec, parsed, value.where, text);
    }
    case OptionType::kBool:
      if (text != "true" && text != "false") {
        return ConfigError(value.where,
                           fmt::format("{} must be true or false, not '{}'", spec.name, text));
      }
      return Status::OK();
    case OptionType::kDuration: {
      auto parsed = ParseDuration(text);
      if (!parsed.ok())
        return ConfigError(value.where,
                           fmt::format("{}: {}", spec.name, parsed.status().message()));
      double milliseconds = std::chrono::duration<double, std::milli>(*parsed).count();
      return CheckBounds(spec, milliseconds, value.where, text);
    }
    case OptionType::kEnum:
      for (const auto& choice : spec.choices) {
        if (choice == text) return Status::OK();
      }
      return ConfigError(value.where, fmt::format("'{}' is not a valid {}", text, spec.name),
                         SpellingHint(text, spec.choices));
    default:
      return Status::OK();
  }
}

bool IsScalarType(OptionType type) {
  switch (type) {
    case OptionType::kSection:
    case OptionType::kStringList:
    case OptionType::kStringMap:
    case OptionType::kExpressionMap:
    case OptionType::kAny:
      return false;
    default:
      return true;
  }
}

/// Whether `node` is the short form of `spec`: the whole value of its `value_option`. A map is the
/// short form only for map-typed options (`derive: {x: ...}`); otherwise a map holds options
/// by name (`sql: {query: ...}`).
bool IsShortForm(const PluginSpec& spec, const YAML::Node& node) {
  if (spec.value_option.empty()) return false;
  const OptionSpec* option = spec.FindOption(spec.value_option);
  if (option == nullptr) return false;
  if (node.IsMap())
    return option->type == OptionType::kExpressionMap || option->type == OptionType::kStringMap;
  return true;
}

std::shared_ptr<PluginSpec> SectionSpec(const PluginSpec& spec, const OptionSpec& option) {
  auto section_spec = std::make_shared<PluginSpec>();
  section_spec->kind = spec.kind;
  section_spec->name = fmt::format("{}.{}", spec.name, option.name);
  section_spec->options = option.fields;
  return section_spec;
}

}  // namespace

Status Options::AddValue(const PluginSpec& spec, const OptionSpec& option,
                         const Location& key_where, const YAML::Node& value_node,
                         const std::string& file) {
  const std::string& key = option.name;
  Value value;
  value.node = value_node;
  Location value_where = LocationOfNode(value_node, file);
  if (!value_where.known()) value_where = key_where;
  value.scalar.where = value_where;
  const std::string expected = std::string(OptionTypeName(option.type));

  if (option.type == OptionType::kSection) {
    auto section_spec = SectionSpec(spec, option);
    // A short form (`event_time: ts`) stands for a map of its one field. (A new node, not an
    // assignment: yaml-cpp nodes alias, so assigning to a copy would rewrite the original.)
    YAML::Node short_form(YAML::NodeType::Map);
    bool is_short = value_node.IsScalar() && !option.short_field.empty();
    if (is_short) {
      short_form[option.short_field] = value_node;
    } else if (!value_node.IsMap()) {
      return ConfigError(value_where, fmt::format("{} must be a map of options, not {}", key,
                                                  ShapeName(value_node)));
    }
    SLUICE_ASSIGN_OR_RAISE(
        Options section, ValidateOptions(*section_spec, is_short ? short_form : value_node, file));
    section.where_ = value_where;
    value.section = std::make_shared<const Options>(std::move(section));
    section_specs_[key] = section_spec;
  } else if (IsScalarType(option.type) && value_node.IsNull() && option.type == OptionType::kEnum &&
             std::find(option.choices.begin(), option.choices.end(), "null") !=
                 option.choices.end()) {
    // `option: null` is YAML's null, and the choice of that name where an enum has one.
    value.scalar = LocatedText{"null", value_where, false};
  } else if (IsScalarType(option.type)) {
    if (!value_node.IsScalar()) {
      return ConfigError(value_where, fmt::format("{} must be a {}, not {}", key, expected,
                                                  ShapeName(value_node)));
    }
    SLUICE_ASSIGN_OR_RAISE(value.scalar, InterpolatedScalar(value_node, file));
    value.scalar.where = value_where;
    SLUICE_RETURN_NOT_OK(CheckScalar(option, value.scalar));
  } else if (option.type == OptionType::kStringList) {
    if (value_node.IsScalar()) {
      SLUICE_ASSIGN_OR_RAISE(auto item, InterpolatedScalar(value_node, file));
      value.list.push_back(std::move(item));
    } else if (value_node.IsSequence()) {
      for (const auto& element : value_node) {
        if (!element.IsScalar()) {
          return ConfigError(LocationOfNode(element, file),
                             fmt::format("{} must be a list of strings, but an element is {}", key,
                                         ShapeName(element)));
        }
        SLUICE_ASSIGN_OR_RAISE(auto item, InterpolatedScalar(element, file));
        value.list.push_back(std::move(item));
      }
    } else {
      return ConfigError(value_where,
                         fmt::format("{} must be a list, not {}", key, ShapeName(value_node)));
    }
  } else if (option.type == OptionType::kStringMap || option.type == OptionType::kExpressionMap) {
    if (!value_node.IsMap()) {
      return ConfigError(value_where,
                         fmt::format("{} must be a map, not {}", key, ShapeName(value_node)));
    }
    for (auto it = value_node.begin(); it != value_node.end(); ++it) {
      if (!it->second.IsScalar()) {
        return ConfigError(
            LocationOfNode(it->second, file),
            fmt::format("the value of '{}' must be a single {}, not {}", it->first.Scalar(),
                        option.type == OptionType::kExpressionMap ? "expression" : "string",
                        ShapeName(it->second)));
      }
      for (const auto& [existing, unused] : value.map) {
        if (existing == it->first.Scalar()) {
          return ConfigError(LocationOfNode(it->first, file),
                             fmt::format("'{}' is given twice", existing));
        }
      }
      SLUICE_ASSIGN_OR_RAISE(auto item, InterpolatedScalar(it->second, file));
      value.map.emplace_back(it->first.Scalar(), std::move(item));
    }
  }
  values_.emplace(key, std::move(value));
  return Status::OK();
}

namespace {
thread_local CommandLineValues* current_command_line_values = nullptr;
}  // namespace

CommandLineValues::CommandLineValues() : enclosing_(current_command_line_values) {
  current_command_line_values = this;
}

CommandLineValues::~CommandLineValues() { current_command_line_values = enclosing_; }

void CommandLineValues::Add(const YAML::Node& node, const std::string& argument) {
  nodes_.emplace_back(node, argument);
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      Add(it->first, argument);
      Add(it->second, argument);
    }
  } else if (node.IsSequence()) {
    for (const auto& element : node) Add(element, argument);
  }
}

const std::string* CommandLineValues::ArgumentOf(const YAML::Node& node) {
  if (current_command_line_values == nullptr) return nullptr;
  for (const auto& [known, argument] : current_command_line_values->nodes_) {
    if (known.is(node)) return &argument;
  }
  return nullptr;
}

Location LocationOfNode(const YAML::Node& node, const std::string& file) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) {
    if (const std::string* argument = CommandLineValues::ArgumentOf(node))
      return Location{file, 0, 0, *argument};
    return Location{file, 0, 0};
  }
  return Location{file, mark.line + 1, mark.column + 1};
}

Result<std::string> InterpolateEnvironment(const LocatedText& text) {
  const std::string& in = text.text;
  if (in.find('$') == std::string::npos) return in;
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 2;
      continue;
    }
    if (in.compare(i, 2, "${") != 0) {
      out += in[i];
      continue;
    }
    size_t close = in.find('}', i + 2);
    if (close == std::string::npos) {
      return ConfigError(text.At(i), "unterminated '${' in value",
                         "write ${NAME} or ${NAME:-default}");
    }
    std::string body = in.substr(i + 2, close - i - 2);
    std::string name = body;
    std::optional<std::string> fallback;
    if (size_t sep = body.find(":-"); sep != std::string::npos) {
      name = body.substr(0, sep);
      fallback = body.substr(sep + 2);
    }
    if (name.empty()) return ConfigError(text.At(i), "empty variable name in '${}'");
    const char* value = std::getenv(name.c_str());
    if (value != nullptr && (*value != '\0' || !fallback)) {
      out += value;
    } else if (fallback) {
      out += *fallback;
    } else {
      return ConfigError(text.At(i), fmt::format("environment variable '{}' is not set", name),
                         fmt::format("set it, or give a default: ${{{}:-value}}", name));
    }
    i = close;
  }
  return out;
}

Result<Options> ValidateOptions(const PluginSpec& spec, const YAML::Node& node,
                                const std::string& file,
                                const std::vector<std::string>& ignored_keys) {
  Options options;
  options.spec_ = &spec;
  options.plugin_ = spec.name;
  options.where_ = LocationOfNode(node, file);

  // Short form: the whole value belongs to one option.
  std::vector<std::pair<YAML::Node, YAML::Node>> entries;  // key, value
  if (IsShortForm(spec, node)) {
    entries.emplace_back(YAML::Node(spec.value_option), node);
  } else if (node.IsMap()) {
    if (!spec.value_option.empty()) {
      // A processor with a short form, given a map none of whose keys is an option: the user
      // meant the short form, so say what shape it takes rather than "unknown option".
      bool any_known = false;
      for (auto it = node.begin(); it != node.end(); ++it)
        any_known |= spec.FindOption(it->first.Scalar()) != nullptr;
      if (!any_known) {
        return ConfigError(options.where_,
                           fmt::format("{} expects a {}, not a map", spec.name,
                                       OptionTypeName(spec.FindOption(spec.value_option)->type)));
      }
    }
    for (auto it = node.begin(); it != node.end(); ++it)
      entries.emplace_back(it->first, it->second);
  } else if (node.IsNull() || !node.IsDefined()) {
    // No options given.
  } else {
    return ConfigError(options.where_,
                       fmt::format("{} {} expects a map of options, not {}",
                                   PluginKindName(spec.kind), spec.name, ShapeName(node)));
  }

  std::vector<std::string> known;
  for (const auto& option : spec.options) known.push_back(option.name);

  // Every option is checked, so that one pass reports all the bad ones.
  ConfigErrors errors;
  std::vector<std::string> seen;
  for (auto& [key_node, value_node] : entries) {
    const std::string key = key_node.Scalar();
    Location key_where = LocationOfNode(key_node, file);
    if (!key_where.known()) key_where = options.where_;
    if (std::find(ignored_keys.begin(), ignored_keys.end(), key) != ignored_keys.end()) continue;
    const OptionSpec* option = spec.FindOption(key);
    if (option == nullptr) {
      errors.Keep(ConfigError(
          key_where,
          fmt::format("unknown option '{}' for {} {}", key, PluginKindName(spec.kind), spec.name),
          SpellingHint(key, known)));
      continue;
    }
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      errors.Keep(ConfigError(key_where, fmt::format("option '{}' is given twice", key)));
      continue;
    }
    seen.push_back(key);
    errors.Keep(options.AddValue(spec, *option, key_where, value_node, file));
  }

  for (const auto& option : spec.options) {
    if (option.type == OptionType::kSection && !options.values_.count(option.name)) {
      auto section_spec = SectionSpec(spec, option);
      Options section;
      section.spec_ = section_spec.get();
      section.plugin_ = section_spec->name;
      section.where_ = options.where_;
      options.section_specs_[option.name] = section_spec;
      options.default_sections_[option.name] = std::make_shared<const Options>(std::move(section));
    }
    if (option.required && std::find(seen.begin(), seen.end(), option.name) == seen.end()) {
      errors.Keep(ConfigError(options.where_,
                              fmt::format("{} {} needs option '{}' ({})", PluginKindName(spec.kind),
                                          spec.name, option.name, option.doc)));
    }
  }
  SLUICE_RETURN_NOT_OK(errors.ToStatus());
  return options;
}

const Options::Value* Options::Find(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

const OptionSpec* Options::Spec(std::string_view name) const {
  return spec_ == nullptr ? nullptr : spec_->FindOption(name);
}

bool Options::Has(std::string_view name) const { return Find(name) != nullptr; }

Location Options::LocationOf(std::string_view name) const {
  const Value* value = Find(name);
  return value != nullptr ? value->scalar.where : where_;
}

std::string Options::GetString(std::string_view name) const { return GetText(name).text; }

LocatedText Options::GetText(std::string_view name) const {
  if (const Value* value = Find(name)) return value->scalar;
  const OptionSpec* spec = Spec(name);
  return LocatedText{spec != nullptr ? spec->default_value : std::string(), where_, false};
}

int64_t Options::GetInteger(std::string_view name) const {
  std::string text = GetString(name);
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

double Options::GetDouble(std::string_view name) const {
  std::string text = GetString(name);
  double value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

bool Options::GetBool(std::string_view name) const { return GetString(name) == "true"; }

Duration Options::GetDuration(std::string_view name) const {
  auto parsed = ParseDuration(GetString(name));
  return parsed.ok() ? *parsed : Duration(0);
}

std::vector<std::string> Options::GetStringList(std::string_view name) const {
  std::vector<std::string> items;
  if (const Value* value = Find(name)) {
    for (const auto& item : value->list) items.push_back(item.text);
  }
  return items;
}

std::vector<std::pair<std::string, LocatedText>> Options::GetMap(std::string_view name) const {
  const Value* value = Find(name);
  return value != nullptr ? value->map : std::vector<std::pair<std::string, LocatedText>>{};
}

const Options& Options::GetSection(std::string_view name) const {
  if (const Value* value = Find(name); value != nullptr && value->section != nullptr)
    return *value->section;
  auto it = default_sections_.find(name);
  if (it != default_sections_.end()) return *it->second;
  static const Options kEmpty;
  return kEmpty;
}

YAML::Node Options::GetNode(std::string_view name) const {
  const Value* value = Find(name);
  return value != nullptr ? value->node : YAML::Node();
}

}  // namespace sluice::config
