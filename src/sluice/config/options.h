#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/common/duration.h"
#include "sluice/common/status.h"
#include "sluice/config/location.h"
#include "sluice/config/option_spec.h"

namespace sluice::config {

/// A plugin's options after validation against its PluginSpec: every value has the declared
/// shape and type and is within bounds, environment variables are substituted, and defaults
/// apply to what was left out. Getters therefore cannot fail; asking for an option the spec
/// does not declare is a programming error (it returns an empty value).
class Options {
 public:
  Options() = default;

  /// Where the plugin was declared in the file.
  const Location& where() const { return where_; }
  /// The plugin's name (e.g. "filter", "file").
  const std::string& plugin() const { return plugin_; }

  /// Whether the user gave the option (defaults do not count).
  bool Has(std::string_view name) const;
  /// Where the option's value stands, or where the plugin stands when the option was left out.
  Location LocationOf(std::string_view name) const;

  std::string GetString(std::string_view name) const;
  LocatedText GetText(std::string_view name) const;
  int64_t GetInteger(std::string_view name) const;
  double GetDouble(std::string_view name) const;
  bool GetBool(std::string_view name) const;
  Duration GetDuration(std::string_view name) const;
  std::vector<std::string> GetStringList(std::string_view name) const;
  /// Map entries in file order; each value keeps its location (for expressions).
  std::vector<std::pair<std::string, LocatedText>> GetMap(std::string_view name) const;
  /// The raw YAML of a kAny option.
  YAML::Node GetNode(std::string_view name) const;
  /// The validated sub-options of a kSection option (their defaults when it was left out).
  const Options& GetSection(std::string_view name) const;

 private:
  friend Result<Options> ValidateOptions(const PluginSpec&, const YAML::Node&, const std::string&,
                                         const std::vector<std::string>&);
  struct Value {
    LocatedText scalar;
    std::vector<LocatedText> list;
    std::vector<std::pair<std::string, LocatedText>> map;
    YAML::Node node;
    std::shared_ptr<const Options> section;
  };
  /// Validates the value of `option` and keeps it; `key_where` is where its key stands.
  Status AddValue(const PluginSpec& spec, const OptionSpec& option, const Location& key_where,
                  const YAML::Node& value_node, const std::string& file);
  const Value* Find(std::string_view name) const;
  const OptionSpec* Spec(std::string_view name) const;

  const PluginSpec* spec_ = nullptr;
  /// The declarations of sections, owned here so that spec_ of a section stays valid.
  std::map<std::string, std::shared_ptr<const PluginSpec>, std::less<>> section_specs_;
  std::map<std::string, std::shared_ptr<const Options>, std::less<>> default_sections_;
  std::string plugin_;
  Location where_;
  std::map<std::string, Value, std::less<>> values_;
};

/// The location of a YAML node in `file`, or the command-line argument that gave it (see
/// CommandLineValues).
Location LocationOfNode(const YAML::Node& node, const std::string& file);

/// The YAML nodes that `--set` arguments put into a pipeline's tree, with the argument each
/// came from, so that errors about them name the argument rather than a place in the file.
/// While one lives, LocationOfNode on its thread consults it (the newest one, when they nest).
/// Not copyable; the loader holds one for the time it validates a file.
class CommandLineValues {
 public:
  CommandLineValues();
  ~CommandLineValues();
  CommandLineValues(const CommandLineValues&) = delete;
  CommandLineValues& operator=(const CommandLineValues&) = delete;

  /// Records `node` and everything under it as given by `argument`. The nodes must have no
  /// mark (built in code, not parsed): their marks would otherwise point into the argument.
  void Add(const YAML::Node& node, const std::string& argument);

  /// The argument that gave `node`, from the innermost live CommandLineValues, or null.
  static const std::string* ArgumentOf(const YAML::Node& node);

 private:
  std::vector<std::pair<YAML::Node, std::string>> nodes_;
  CommandLineValues* enclosing_;
};

/// Replaces ${VAR} and ${VAR:-default} from the environment. An unset variable without a
/// default is a configuration error at `where`. "$${" stands for a literal "${".
Result<std::string> InterpolateEnvironment(const LocatedText& text);

/// Validates `node` (the plugin's YAML value) against `spec`: unknown keys are rejected with a
/// "did you mean" hint, types and bounds are checked, required options must be present.
/// Keys listed in `ignored_keys` (e.g. "connector") are skipped.
Result<Options> ValidateOptions(const PluginSpec& spec, const YAML::Node& node,
                                const std::string& file,
                                const std::vector<std::string>& ignored_keys = {});

}  // namespace sluice::config
