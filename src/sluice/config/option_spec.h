#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::config {

/// The type of a declared option; the loader checks a value's YAML shape and content against it.
enum class OptionType {
  kString,         ///< a scalar
  kInteger,        ///< a whole number, within [min, max] when given
  kDouble,         ///< a number, within [min, max] when given
  kBool,           ///< true / false
  kDuration,       ///< "500ms", "5s", "2m", "1h"; bounds are in milliseconds
  kEnum,           ///< one of `choices`
  kExpression,     ///< an expression string, compiled against the input schema
  kStringList,     ///< a sequence of scalars (a single scalar is taken as a list of one)
  kStringMap,      ///< a map of scalar to scalar, order kept
  kExpressionMap,  ///< a map of field name to expression, order kept
  kSection,        ///< a map of sub-options, declared in `fields` (e.g. event_time)
  kAny,            ///< free-form YAML, checked by the plugin itself
};

std::string_view OptionTypeName(OptionType type);

/// One option of a plugin, declared once: the loader validates against it and the reference
/// documentation (`sluice plugins`, docs/pipeline-reference.md) is generated from it.
struct OptionSpec {
  std::string name;
  OptionType type = OptionType::kString;
  /// One line for the reference documentation.
  std::string doc;
  /// The default as it would be written in YAML; empty when there is none.
  std::string default_value;
  bool required = false;
  std::optional<double> min;
  std::optional<double> max;
  /// The accepted values of a kEnum option.
  std::vector<std::string> choices;
  /// The sub-options of a kSection option.
  std::vector<OptionSpec> fields;
  /// For a kSection: the sub-option a plain scalar stands for (`event_time: ts` is
  /// `event_time: {field: ts}`); empty when the section must be a map.
  std::string short_field;
};

/// A bound of `option` (its min or max) as a user writes it: "10ms" for a duration (whose bounds
/// are in milliseconds), the number otherwise.
std::string FormatBound(const OptionSpec& option, double bound);

/// An option declaration with its name, type, one-line doc and default; set bounds, choices or
/// `required` on the result.
OptionSpec MakeOption(std::string name, OptionType type, std::string doc,
                      std::string default_value = {});

enum class PluginKind { kSource, kProcessor, kSink };

std::string_view PluginKindName(PluginKind kind);

/// The declaration of a source, processor or sink: its name, what it does and its options.
struct PluginSpec {
  PluginKind kind = PluginKind::kProcessor;
  std::string name;
  std::string doc;
  std::vector<OptionSpec> options;
  /// For a processor written in short form (`filter: "a > 1"`, `select: [a, b]`,
  /// `derive: {x: "a + 1"}`): the option that receives the processor's whole YAML value.
  /// Empty when the value is a map of options.
  std::string value_option;
  /// A short YAML example for the reference documentation.
  std::string example;
  /// For a processor with several inputs (join: left, right): the string options that name
  /// its input streams, in input order. Empty for a processor that reads one stream (the
  /// previous step's output, or the stream its step names with `input`).
  std::vector<std::string> input_options;

  const OptionSpec* FindOption(std::string_view option_name) const;
};

/// Looks up plugin declarations by kind and name; implemented by the plugin registry.
class SpecCatalog {
 public:
  virtual ~SpecCatalog() = default;
  virtual const PluginSpec* FindSpec(PluginKind kind, std::string_view name) const = 0;
  virtual std::vector<std::string> Names(PluginKind kind) const = 0;
};

}  // namespace sluice::config
