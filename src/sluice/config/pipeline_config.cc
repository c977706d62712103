#include "sluice/config/pipeline_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "sluice/common/spelling.h"

namespace sluice::config {
namespace {

const std::vector<std::string> kTopLevelKeys = {"name", "sources", "pipeline",
                                                "emit", "sinks",   "dead_letters"};

Status ApplyOverride(YAML::Node root, const Override& override_value) {
  std::vector<std::string> parts;
  std::stringstream stream(override_value.path);
  for (std::string part; std::getline(stream, part, '.');) {
    if (part.empty()) return Status::Invalid("--set ", override_value.path, ": empty key in path");
    parts.push_back(part);
  }
  if (parts.empty())
    return Status::Invalid("--set needs a key path, e.g. --set sources.quotes.path=data.csv");
  // yaml-cpp nodes are handles: walking with operator[] on a non-const node creates the path.
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node current = chain.back();
    const std::string& part = parts[i];
    if (current.IsSequence()) {
      size_t index = 0;
      auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), index);
      if (error != std::errc() || end != part.data() + part.size() || index >= current.size()) {
        return Status::Invalid("--set ", override_value.path, ": '", part,
                               "' is not an index of the list");
      }
      chain.push_back(current[index]);
    } else {
      chain.push_back(current[part]);
    }
  }
  YAML::Node parent = chain.back();
  YAML::Node value = YAML::Load(override_value.value);
  if (parent.IsSequence()) {
    size_t index = 0;
    auto [end, error] =
        std::from_chars(parts.back().data(), parts.back().data() + parts.back().size(), index);
    if (error != std::errc() || index >= parent.size()) {
      return Status::Invalid("--set ", override_value.path, ": '", parts.back(),
                             "' is not an index of the list");
    }
    parent[index] = value;
  } else {
    parent[parts.back()] = value;
  }
  return Status::OK();
}

std::string RequireScalarOrEmpty(const YAML::Node& node) {
  return node.IsScalar() ? node.Scalar() : std::string();
}

/// The keys a pipeline step or sink may carry besides its own options: they wire it into the
/// pipeline's graph of streams.
constexpr const char* kInputKey = "input";
constexpr const char* kNameKey = "name";

/// Reads a step's or sink's `input: <stream>`.
Result<std::vector<StreamRef>> LoadInput(const YAML::Node& node, const std::string& file) {
  std::vector<StreamRef> inputs;
  YAML::Node input = node[kInputKey];
  if (!input.IsDefined() || input.IsNull()) return inputs;
  if (!input.IsScalar() || input.Scalar().empty()) {
    return ConfigError(LocationOfNode(input, file), "'input' must name one stream",
                       "a source (quotes), a source's stream (nexmark.bid) or a step's name");
  }
  inputs.push_back(StreamRef{input.Scalar(), LocationOfNode(input, file)});
  return inputs;
}

/// Checks a step's `name`: a word that can be written in `input:` and read in messages.
Result<std::string> LoadStreamName(const YAML::Node& node, const std::string& file) {
  YAML::Node name = node[kNameKey];
  if (!name.IsDefined() || name.IsNull()) return std::string();
  const bool valid = name.IsScalar() && !name.Scalar().empty() &&
                     std::all_of(name.Scalar().begin(), name.Scalar().end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
                     });
  if (!valid) {
    return ConfigError(LocationOfNode(name, file),
                       "a step's 'name' must be a word of letters, digits, '_' and '-'",
                       "e.g. 'name: hot_items'");
  }
  return name.Scalar();
}

/// Validates one `name: {connector: x, ...}` entry of `sources` or `sinks`.
Result<ComponentConfig> LoadConnector(PluginKind kind, const std::string& id,
                                      const YAML::Node& node, const std::string& file,
                                      const SpecCatalog& catalog) {
  Location where = LocationOfNode(node, file);
  if (!node.IsMap()) {
    return ConfigError(where, fmt::format("{} '{}' must be a map with a 'connector' key",
                                          PluginKindName(kind), id));
  }
  YAML::Node connector = node["connector"];
  if (!connector.IsDefined() || !connector.IsScalar()) {
    return ConfigError(where, fmt::format("{} '{}' needs a 'connector'", PluginKindName(kind), id),
                       fmt::format("one of: {}", fmt::join(catalog.Names(kind), ", ")));
  }
  SLUICE_ASSIGN_OR_RAISE(std::string name, InterpolateEnvironment(LocatedText{
                                               connector.Scalar(), LocationOfNode(connector, file),
                                               connector.Tag() == "!"}));
  const PluginSpec* spec = catalog.FindSpec(kind, name);
  if (spec == nullptr) {
    return ConfigError(LocationOfNode(connector, file),
                       fmt::format("unknown {} connector '{}'", PluginKindName(kind), name),
                       SpellingHint(name, catalog.Names(kind)));
  }
  // A sink may read a named stream instead of the pipeline's output.
  std::vector<std::string> reserved = {"connector"};
  if (kind == PluginKind::kSink) reserved.push_back(kInputKey);
  SLUICE_ASSIGN_OR_RAISE(Options options, ValidateOptions(*spec, node, file, reserved));
  ComponentConfig component{id, name, std::move(options)};
  component.where = where;
  if (kind == PluginKind::kSink) {
    SLUICE_ASSIGN_OR_RAISE(component.inputs, LoadInput(node, file));
  }
  return component;
}

Result<std::vector<ComponentConfig>> LoadConnectorMap(PluginKind kind, const YAML::Node& node,
                                                      const std::string& file,
                                                      const SpecCatalog& catalog) {
  std::vector<ComponentConfig> components;
  if (!node.IsDefined() || node.IsNull()) return components;
  if (!node.IsMap()) {
    return ConfigError(LocationOfNode(node, file),
                       fmt::format("'{}s' must be a map of names to {} definitions",
                                   PluginKindName(kind), PluginKindName(kind)));
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    SLUICE_ASSIGN_OR_RAISE(auto component,
                           LoadConnector(kind, it->first.Scalar(), it->second, file, catalog));
    components.push_back(std::move(component));
  }
  return components;
}

Result<std::vector<ComponentConfig>> LoadProcessors(const YAML::Node& node, const std::string& file,
                                                    const SpecCatalog& catalog) {
  std::vector<ComponentConfig> processors;
  if (!node.IsDefined() || node.IsNull()) return processors;
  if (!node.IsSequence()) {
    return ConfigError(LocationOfNode(node, file), "'pipeline' must be a list of processors",
                       "write each processor as a list item, e.g. '- filter: \"x > 1\"'");
  }
  for (size_t i = 0; i < node.size(); ++i) {
    YAML::Node entry = node[i];
    Location where = LocationOfNode(entry, file);
    // A step is one processor key, optionally with `input` (the stream it reads) and `name`
    // (the name of the stream it produces).
    std::optional<YAML::const_iterator> processor;
    size_t processor_keys = 0;
    if (entry.IsMap()) {
      for (auto it = entry.begin(); it != entry.end(); ++it) {
        const std::string key = it->first.Scalar();
        if (key == kInputKey || key == kNameKey) continue;
        ++processor_keys;
        if (!processor) processor = it;
      }
    }
    if (!entry.IsMap() || processor_keys != 1) {
      return ConfigError(
          where,
          "each pipeline step must be a map with exactly one processor key (and "
          "optionally 'input' and 'name')",
          "e.g. '- filter: \"x > 1\"' or '- {input: quotes, derive: {y: \"x * 2\"}}'");
    }
    auto it = *processor;
    const std::string name = it->first.Scalar();
    const PluginSpec* spec = catalog.FindSpec(PluginKind::kProcessor, name);
    if (spec == nullptr) {
      return ConfigError(LocationOfNode(it->first, file),
                         fmt::format("unknown processor '{}'", name),
                         SpellingHint(name, catalog.Names(PluginKind::kProcessor)));
    }
    SLUICE_ASSIGN_OR_RAISE(Options options, ValidateOptions(*spec, it->second, file));
    ComponentConfig step{fmt::format("pipeline[{}] {}", i, name), name, std::move(options)};
    step.where = where;
    SLUICE_ASSIGN_OR_RAISE(step.inputs, LoadInput(entry, file));
    SLUICE_ASSIGN_OR_RAISE(step.output, LoadStreamName(entry, file));
    if (!spec->input_options.empty()) {
      // A processor with several inputs (join) names them in its own options.
      if (!step.inputs.empty()) {
        return ConfigError(step.inputs.front().where,
                           fmt::format("'{}' reads the streams named by {}, not 'input'", name,
                                       fmt::join(spec->input_options, " and ")));
      }
      for (const auto& option : spec->input_options) {
        step.inputs.push_back(
            StreamRef{step.options.GetString(option), step.options.LocationOf(option)});
      }
    }
    processors.push_back(std::move(step));
  }
  return processors;
}

}  // namespace

Result<Override> ParseOverride(const std::string& text) {
  size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    return Status::Invalid("--set expects key.path=value, got '", text, "'");
  }
  return Override{text.substr(0, equals), text.substr(equals + 1)};
}

const PluginSpec& EmitSpec() {
  static const PluginSpec spec = [] {
    PluginSpec emit;
    emit.kind = PluginKind::kProcessor;
    emit.name = "emit";
    emit.doc =
        "The final projection of the pipeline's output: which columns reach the sinks, and a "
        "filter on them.";
    emit.options = {
        {"select", OptionType::kString,
         "A SQL-style select list: 'a, b, a - b AS gap'. Default: every column.", "", false},
        {"having", OptionType::kExpression,
         "A condition on the selected columns; rows for which it is not true are dropped.", "",
         false},
    };
    emit.example = "emit:\n  select: \"symbol, ask - bid AS spread\"\n  having: \"spread > 0.05\"";
    return emit;
  }();
  return spec;
}

Result<PipelineConfig> LoadPipelineFile(const std::string& path,
                                        const std::vector<Override>& overrides,
                                        const SpecCatalog& catalog) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Invalid(path, ": error: cannot open the pipeline file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return LoadPipelineText(buffer.str(), path, overrides, catalog);
}

Result<PipelineConfig> LoadPipelineText(const std::string& text, const std::string& file,
                                        const std::vector<Override>& overrides,
                                        const SpecCatalog& catalog) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& error) {
    Location where{file, error.mark.is_null() ? 0 : error.mark.line + 1,
                   error.mark.is_null() ? 0 : error.mark.column + 1};
    return ConfigError(where, fmt::format("invalid YAML: {}", error.msg));
  }
  if (!root.IsMap()) {
    return ConfigError(Location{file, 1, 1},
                       "a pipeline file must be a map with 'sources', 'pipeline' and 'sinks'");
  }
  try {
    for (const auto& override_value : overrides)
      SLUICE_RETURN_NOT_OK(ApplyOverride(root, override_value));

    for (auto it = root.begin(); it != root.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (std::find(kTopLevelKeys.begin(), kTopLevelKeys.end(), key) == kTopLevelKeys.end()) {
        return ConfigError(LocationOfNode(it->first, file),
                           fmt::format("unknown top-level key '{}'", key),
                           SpellingHint(key, kTopLevelKeys));
      }
    }

    PipelineConfig config;
    config.file = file;
    config.name = RequireScalarOrEmpty(root["name"]);
    if (config.name.empty()) config.name = "pipeline";

    SLUICE_ASSIGN_OR_RAISE(config.sources,
                           LoadConnectorMap(PluginKind::kSource, root["sources"], file, catalog));
    if (config.sources.empty()) {
      return ConfigError(Location{file, 1, 1}, "the pipeline has no sources",
                         "add e.g. 'sources: {quotes: {connector: generator, count: 1000}}'");
    }
    SLUICE_ASSIGN_OR_RAISE(config.processors, LoadProcessors(root["pipeline"], file, catalog));
    if (YAML::Node emit = root["emit"]; emit.IsDefined() && !emit.IsNull()) {
      SLUICE_ASSIGN_OR_RAISE(Options options, ValidateOptions(EmitSpec(), emit, file));
      config.emit = ComponentConfig{"emit", "emit", std::move(options)};
    }
    SLUICE_ASSIGN_OR_RAISE(config.sinks,
                           LoadConnectorMap(PluginKind::kSink, root["sinks"], file, catalog));
    if (config.sinks.empty()) {
      return ConfigError(Location{file, 1, 1}, "the pipeline has no sinks",
                         "add e.g. 'sinks: {screen: {connector: console}}'");
    }
    if (YAML::Node dead = root["dead_letters"]; dead.IsDefined() && !dead.IsNull()) {
      SLUICE_ASSIGN_OR_RAISE(auto component,
                             LoadConnector(PluginKind::kSink, "dead_letters", dead, file, catalog));
      config.dead_letters = std::move(component);
    }
    return config;
  } catch (const YAML::Exception& error) {
    Location where{file, error.mark.is_null() ? 0 : error.mark.line + 1,
                   error.mark.is_null() ? 0 : error.mark.column + 1};
    return ConfigError(where, fmt::format("invalid pipeline structure: {}", error.msg));
  }
}

}  // namespace sluice::config
