#include "sluice/config/pipeline_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string_view>
#include <vector>

#include "sluice/common/byte_size.h"
#include "sluice/common/spelling.h"
#include "sluice/http/http_server.h"

namespace sluice::config {
namespace {

const std::vector<std::string> kTopLevelKeys = {"name",         "sources",    "pipeline",
                                                "emit",         "sinks",      "dead_letters",
                                                "checkpoint",   "max_state",  "storage",
                                                "http"};

/// `node` as YAML text with the keys of every map sorted, so that two spellings of one
/// configuration compare equal.
void AppendCanonical(const YAML::Node& node, std::string* out) {
  if (node.IsMap()) {
    // Sort (key, index) pairs, never the nodes: assigning a YAML::Node (as a sort would)
    // rewrites the node it refers to, in the pipeline's own tree.
    std::vector<YAML::Node> values;
    std::vector<std::pair<std::string, size_t>> keys;
    for (auto it = node.begin(); it != node.end(); ++it) {
      keys.emplace_back(it->first.Scalar(), values.size());
      values.push_back(it->second);
    }
    std::sort(keys.begin(), keys.end());
    *out += "{";
    for (size_t i = 0; i < keys.size(); ++i) {
      if (i > 0) *out += ", ";
      *out += YAML::Dump(YAML::Node(keys[i].first)) + ": ";
      AppendCanonical(values[keys[i].second], out);
    }
    *out += "}";
  } else if (node.IsSequence()) {
    *out += "[";
    for (size_t i = 0; i < node.size(); ++i) {
      if (i > 0) *out += ", ";
      AppendCanonical(node[i], out);
    }
    *out += "]";
  } else if (node.IsScalar()) {
    *out += YAML::Dump(YAML::Node(node.Scalar()));
  } else {
    *out += "null";
  }
}

std::string Canonical(const YAML::Node& node) {
  std::string out;
  AppendCanonical(node, &out);
  return out;
}

/// A copy of `node` built in code, so that it has no marks: a value parsed from a --set
/// argument would otherwise carry positions inside the argument, which read as positions in the
/// file.
YAML::Node CopyWithoutMarks(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: {
      YAML::Node copy(node.Scalar());
      copy.SetTag(node.Tag());
      return copy;
    }
    case YAML::NodeType::Sequence: {
      YAML::Node copy(YAML::NodeType::Sequence);
      for (const auto& element : node) copy.push_back(CopyWithoutMarks(element));
      return copy;
    }
    case YAML::NodeType::Map: {
      YAML::Node copy(YAML::NodeType::Map);
      for (auto it = node.begin(); it != node.end(); ++it)
        copy[CopyWithoutMarks(it->first)] = CopyWithoutMarks(it->second);
      return copy;
    }
    default:
      return YAML::Node(YAML::NodeType::Null);
  }
}

/// The key node of `map` whose text is `key`, if it has one.
std::optional<YAML::Node> KeyNode(const YAML::Node& map, const std::string& key) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->first;
  }
  return std::nullopt;
}

Result<size_t> ListIndex(const YAML::Node& list, const std::string& part, const Location& where) {
  size_t index = 0;
  auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), index);
  if (error != std::errc() || end != part.data() + part.size() || index >= list.size()) {
    return ConfigError(where, fmt::format("'{}' is not an index of the list", part),
                       fmt::format("the list has {} item(s), numbered from 0", list.size()));
  }
  return index;
}

/// Applies one --set to the YAML tree. A key that the path walks through (not the last one) and
/// that the file lacks is created, unless it looks like a misspelling of a key the file has:
/// `sources.quote.count` with a source `quotes` is an error, not a new source.
Status ApplyOverride(YAML::Node root, const Override& override_value, const std::string& file,
                     CommandLineValues& command_line) {
  const std::string argument =
      fmt::format("--set {}={}", override_value.path, override_value.value);
  const Location where{file, 0, 0, argument};
  std::vector<std::string> parts;
  std::stringstream stream(override_value.path);
  for (std::string part; std::getline(stream, part, '.');) {
    if (part.empty()) return ConfigError(where, "empty key in the path");
    parts.push_back(part);
  }
  if (parts.empty()) {
    return ConfigError(where, "--set needs a key path", "e.g. --set sources.quotes.path=data.csv");
  }
  YAML::Node value;
  try {
    // A lone "-" is YAML's block-list marker, but on a command line it means standard input or
    // output (path=-): a list would be written [a, b].
    value = override_value.value == "-" ? YAML::Node("-")
                                        : CopyWithoutMarks(YAML::Load(override_value.value));
  } catch (const YAML::Exception& error) {
    return ConfigError(where, fmt::format("the value is not valid YAML: {}", error.msg),
                       "quote it for the shell and for YAML, e.g. --set 'a.b=\"x: y\"'");
  }
  // yaml-cpp nodes are handles: walking with operator[] on a non-const node creates the path.
  // (Walk with reset(): assigning one Node to another rewrites what the first refers to.)
  YAML::Node current = root;
  std::string walked;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    const bool last = i + 1 == parts.size();
    if (current.IsSequence()) {
      SLUICE_ASSIGN_OR_RAISE(size_t index, ListIndex(current, part, where));
      if (last) {
        current[index] = value;
      } else {
        current.reset(current[index]);
      }
    } else {
      if (current.IsDefined() && !current.IsNull() && !current.IsMap()) {
        return ConfigError(where,
                           fmt::format("'{}' is a single value, so it has no '{}'", walked, part));
      }
      if (!last && current.IsMap() && !KeyNode(current, part)) {
        std::vector<std::string> keys;
        for (auto it = current.begin(); it != current.end(); ++it) {
          if (it->first.IsScalar()) keys.push_back(it->first.Scalar());
        }
        if (auto closest = ClosestSpelling(part, keys)) {
          return ConfigError(
              where, fmt::format("no '{}' in {}", part, walked.empty() ? "the file" : walked),
              fmt::format("did you mean '{}'?", *closest));
        }
      }
      if (last) {
        current[part] = value;
      } else {
        current.reset(current[part]);
      }
    }
    walked += (walked.empty() ? "" : ".") + part;
  }
  command_line.Add(value, argument);
  // Keys the argument created have no mark either: errors about them name the argument too.
  YAML::Node node = root;
  for (const auto& part : parts) {
    if (!node.IsMap()) {
      if (!node.IsSequence()) break;
      node.reset(node[std::stoul(part)]);
      continue;
    }
    std::optional<YAML::Node> key = KeyNode(node, part);
    if (key && key->Mark().is_null()) {
      command_line.Add(*key, argument);
      command_line.Add(node[part], argument);
      break;
    }
    node.reset(node[part]);
  }
  return Status::OK();
}

/// The plain YAML value around line[at], as far as a flow collection's separators.
std::string_view PlainValueAround(std::string_view line, size_t at) {
  size_t start = at;
  while (start > 0 && std::string_view(" \t,[{").find(line[start - 1]) == std::string_view::npos)
    --start;
  size_t end = line.find('}', at);
  end = end == std::string_view::npos ? line.size() : end + 1;
  while (end < line.size() && std::string_view(" \t,]}").find(line[end]) == std::string_view::npos)
    ++end;
  return line.substr(start, end - start);
}

/// A YAML syntax error, with advice for the mistakes people make most: indenting with tabs,
/// and `${VAR}` unquoted inside `{...}`, where YAML reads its braces as a nested map.
Status YamlSyntaxError(std::string_view text, const std::string& file,
                       const YAML::Exception& error) {
  std::vector<std::string> lines;
  std::istringstream stream{std::string(text)};
  for (std::string line; std::getline(stream, line);) lines.push_back(std::move(line));
  const int error_line = error.mark.is_null() ? -1 : error.mark.line;
  const int last_line = error_line >= 0 && error_line < static_cast<int>(lines.size())
                            ? error_line
                            : static_cast<int>(lines.size()) - 1;
  // A tab in the indentation of a line up to the error. yaml-cpp says so only sometimes: often
  // it reports what the tab broke ("illegal map value").
  const bool about_tabs = error.msg.find("tab") != std::string::npos;
  for (int number = 0; number <= last_line; ++number) {
    std::string_view line = lines[number];
    size_t indent = line.find_first_not_of(' ');
    if (indent == std::string_view::npos || line[indent] != '\t') continue;
    if (indent > 0 && !about_tabs) continue;  // maybe a tab inside a block of text
    return ConfigError(Location{file, number + 1, static_cast<int>(indent) + 1},
                       "invalid YAML: a tab indents this line, but YAML is indented with spaces "
                       "only (tabs cannot indent YAML)",
                       "replace the tab with spaces");
  }
  Location where{file, error_line + 1, error.mark.is_null() ? 0 : error.mark.column + 1};
  if (error_line >= 0 && error_line < static_cast<int>(lines.size())) {
    std::string_view line = lines[error_line];
    size_t variable = line.find("${");
    size_t flow = line.find_first_of("{[");
    if (variable != std::string_view::npos && flow < variable) {
      return ConfigError(Location{file, error_line + 1, static_cast<int>(variable) + 1},
                         fmt::format("invalid YAML: {}", error.msg),
                         fmt::format("inside {{...}} or [...], YAML reads the braces of ${{...}} "
                                     "as a nested map: quote the value, \"{}\"",
                                     PlainValueAround(line, variable)));
    }
  }
  return ConfigError(where, fmt::format("invalid YAML: {}", error.msg));
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
  ConfigErrors errors;
  auto options = ValidateOptions(*spec, node, file, reserved);
  errors.Keep(options.status());
  ComponentConfig component{id, name, options.ok() ? std::move(*options) : Options()};
  component.where = where;
  component.canonical = Canonical(node);
  if (kind == PluginKind::kSink) {
    auto inputs = LoadInput(node, file);
    if (errors.Keep(inputs.status())) component.inputs = std::move(*inputs);
  }
  SLUICE_RETURN_NOT_OK(errors.ToStatus());
  return component;
}

/// Loads every entry of `sources` or `sinks`; the errors of each go to `errors`, and the
/// entries without errors are returned.
std::vector<ComponentConfig> LoadConnectorMap(PluginKind kind, const YAML::Node& node,
                                              const std::string& file, const SpecCatalog& catalog,
                                              ConfigErrors& errors) {
  std::vector<ComponentConfig> components;
  if (!node.IsDefined() || node.IsNull()) return components;
  if (!node.IsMap()) {
    errors.Keep(ConfigError(LocationOfNode(node, file),
                            fmt::format("'{}s' must be a map of names to {} definitions",
                                        PluginKindName(kind), PluginKindName(kind))));
    return components;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    auto component = LoadConnector(kind, it->first.Scalar(), it->second, file, catalog);
    if (errors.Keep(component.status())) components.push_back(std::move(*component));
  }
  return components;
}

/// Loads step `i` of `pipeline`.
Result<ComponentConfig> LoadStep(const YAML::Node& entry, size_t i, const std::string& file,
                                 const SpecCatalog& catalog) {
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
    return ConfigError(where,
                       "each pipeline step must be a map with exactly one processor key (and "
                       "optionally 'input' and 'name')",
                       "e.g. '- filter: \"x > 1\"' or '- {input: quotes, derive: {y: \"x * 2\"}}'");
  }
  auto it = *processor;
  const std::string name = it->first.Scalar();
  const PluginSpec* spec = catalog.FindSpec(PluginKind::kProcessor, name);
  if (spec == nullptr) {
    return ConfigError(LocationOfNode(it->first, file), fmt::format("unknown processor '{}'", name),
                       SpellingHint(name, catalog.Names(PluginKind::kProcessor)));
  }
  ConfigErrors errors;
  auto options = ValidateOptions(*spec, it->second, file);
  errors.Keep(options.status());
  ComponentConfig step{fmt::format("pipeline[{}] {}", i, name), name,
                       options.ok() ? std::move(*options) : Options()};
  step.where = where;
  step.canonical = Canonical(it->second);
  auto inputs = LoadInput(entry, file);
  if (errors.Keep(inputs.status())) step.inputs = std::move(*inputs);
  auto output = LoadStreamName(entry, file);
  if (errors.Keep(output.status())) step.output = std::move(*output);
  if (!step.output.empty()) step.output_where = LocationOfNode(entry[kNameKey], file);
  SLUICE_RETURN_NOT_OK(errors.ToStatus());
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
  return step;
}

/// Loads every step of `pipeline`; as LoadConnectorMap, errors go to `errors`.
std::vector<ComponentConfig> LoadProcessors(const YAML::Node& node, const std::string& file,
                                            const SpecCatalog& catalog, ConfigErrors& errors) {
  std::vector<ComponentConfig> processors;
  if (!node.IsDefined() || node.IsNull()) return processors;
  if (!node.IsSequence()) {
    errors.Keep(ConfigError(LocationOfNode(node, file), "'pipeline' must be a list of processors",
                            "write each processor as a list item, e.g. '- filter: \"x > 1\"'"));
    return processors;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    auto step = LoadStep(node[i], i, file, catalog);
    if (errors.Keep(step.status())) processors.push_back(std::move(*step));
  }
  return processors;
}

/// The 1-based line of `node`, or 0 when it has none (a --set value).
int LineOf(const YAML::Node& node) { return node.Mark().is_null() ? 0 : node.Mark().line + 1; }

/// What the keys of a map name, for the message about a key given twice.
enum class MapRole { kTopLevel, kSources, kSinks, kOther };

Status DuplicateKeyError(MapRole role, const YAML::Node& key, int first_line,
                         const std::string& file) {
  const Location where = LocationOfNode(key, file);
  const std::string& name = key.Scalar();
  switch (role) {
    case MapRole::kSources:
    case MapRole::kSinks: {
      const char* kind = role == MapRole::kSources ? "source" : "sink";
      return ConfigError(
          where, fmt::format("{} '{}' is defined twice (first on line {})", kind, name, first_line),
          fmt::format("give each {} its own name", kind));
    }
    case MapRole::kTopLevel:
      return ConfigError(where,
                         fmt::format("'{}' is given twice (first on line {})", name, first_line),
                         "YAML keeps one value per key, so one of them would be ignored: merge "
                         "them into one");
    case MapRole::kOther:
      break;
  }
  return ConfigError(
      where,
      fmt::format("key '{}' is given twice in this map (first on line {})", name, first_line),
      "YAML keeps one value per key, so one of them would be ignored: remove or rename one");
}

/// Reports every key given twice in one map, at any depth of `node`. yaml-cpp keeps both
/// entries and a lookup finds only the first, so the second would be ignored (or, for a source
/// or sink, run under the same name as the first) without a word.
void CheckDuplicateKeys(const YAML::Node& node, MapRole role, const std::string& file,
                        ConfigErrors& errors) {
  if (node.IsSequence()) {
    for (const auto& element : node) CheckDuplicateKeys(element, MapRole::kOther, file, errors);
    return;
  }
  if (!node.IsMap()) return;
  std::map<std::string, int> first_lines;
  for (auto it = node.begin(); it != node.end(); ++it) {
    MapRole child = MapRole::kOther;
    if (it->first.IsScalar()) {
      const std::string& key = it->first.Scalar();
      auto [first, inserted] = first_lines.emplace(key, LineOf(it->first));
      if (!inserted) errors.Keep(DuplicateKeyError(role, it->first, first->second, file));
      if (role == MapRole::kTopLevel && key == "sources") child = MapRole::kSources;
      if (role == MapRole::kTopLevel && key == "sinks") child = MapRole::kSinks;
    }
    CheckDuplicateKeys(it->second, child, file, errors);
  }
}

/// "line 7" for a place in the file, or the --set argument that gave the value.
std::string LineOrArgument(const Location& where) {
  return where.line > 0 ? fmt::format("line {}", where.line) : where.ToString();
}

/// Checks that each step's `name` is a stream name of its own: a source's or an earlier step's
/// name would make `input:` ambiguous.
void CheckStreamNames(const PipelineConfig& config, ConfigErrors& errors) {
  std::map<std::string, std::string> owners;  // stream name -> what has it, for the message
  for (const auto& source : config.sources)
    owners.emplace(source.id,
                   fmt::format("source '{}' ({})", source.id, LineOrArgument(source.where)));
  for (const auto& step : config.processors) {
    if (step.output.empty()) continue;
    auto [owner, inserted] = owners.emplace(
        step.output, fmt::format("the step on {}", LineOrArgument(step.output_where)));
    if (!inserted) {
      errors.Keep(ConfigError(
          step.output_where,
          fmt::format("a stream named '{}' already exists: {}", step.output, owner->second),
          "give this step another name"));
    }
  }
}

/// Standard output, as a sink's output target.
constexpr std::string_view kStandardOutput = "-";

/// `path` made absolute (paths are relative to the working directory) and normal, with the
/// symbolic links of its existing part resolved, so that two spellings of one file compare
/// equal: out/a.csv and ./out/../out/a.csv.
std::string NormalPath(const std::string& path) {
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(path, error);
  if (error) return std::filesystem::path(path).lexically_normal().string();
  std::filesystem::path canonical = std::filesystem::weakly_canonical(absolute, error);
  return (error ? absolute.lexically_normal() : canonical).string();
}

/// What a sink writes: the file its `path` option names (every sink that writes a file calls
/// the option so), normalised, or kStandardOutput for `path: -`, the stdout connector and a
/// console printing to stdout. Empty for a sink that writes no file (Kafka, blackhole).
std::string SinkTarget(const ComponentConfig& sink) {
  if (sink.plugin == "stdout") return std::string(kStandardOutput);
  if (sink.plugin == "console")
    return sink.options.GetString("stream") == "stdout" ? std::string(kStandardOutput) : "";
  if (!sink.options.Has("path")) return "";
  const std::string path = sink.options.GetString("path");
  return path == kStandardOutput ? path : NormalPath(path);
}

/// Checks that no two sinks, the dead letters' included, write one file or both standard
/// output (one would replace the other's rows, or their rows would mix), and that no sink path
/// is a directory.
void CheckSinkTargets(const PipelineConfig& config, ConfigErrors& errors) {
  struct Writer {
    std::string label;  // "sink 'out'" or "the dead letters"
    std::string line;   // "line 7"
  };
  std::vector<std::pair<const ComponentConfig*, std::string>> sinks;
  for (const auto& sink : config.sinks)
    sinks.emplace_back(&sink, fmt::format("sink '{}'", sink.id));
  if (config.dead_letters) sinks.emplace_back(&*config.dead_letters, "the dead letters");
  std::map<std::string, Writer> writers;  // target -> the first sink that writes it
  for (const auto& [sink, label] : sinks) {
    const std::string target = SinkTarget(*sink);
    if (target.empty()) continue;
    const bool has_path = sink->options.Has("path");
    const Location where = has_path ? sink->options.LocationOf("path") : sink->where;
    const std::string path = has_path ? sink->options.GetString("path") : "";
    if (target != kStandardOutput) {
      std::error_code error;
      if (std::filesystem::is_directory(path, error)) {
        errors.Keep(ConfigError(where, fmt::format("'{}' is a directory", path),
                                fmt::format("name a file in it, e.g. {}/output.jsonl",
                                            path.substr(0, path.find_last_not_of('/') + 1))));
        continue;
      }
      if (!path.empty() && path.back() == '/') {
        errors.Keep(ConfigError(where,
                                fmt::format("'{}' names a directory (it ends with '/')", path),
                                "name a file, e.g. output.jsonl in it"));
        continue;
      }
    }
    auto [first, inserted] = writers.emplace(target, Writer{label, LineOrArgument(where)});
    if (inserted) continue;
    if (target == kStandardOutput) {
      errors.Keep(ConfigError(
          where,
          fmt::format("{} ({}) and {} both write to standard output, where their rows would "
                      "mix",
                      first->second.label, first->second.line, label),
          "give one of them a file path (a console sink can print to stderr: stream: stderr)"));
    } else {
      errors.Keep(ConfigError(where,
                              fmt::format("{} ({}) and {} both write '{}': one would replace "
                                          "the other's rows",
                                          first->second.label, first->second.line, label, path),
                              "give each its own path"));
    }
  }
}

}  // namespace

Result<Override> ParseOverride(const std::string& text) {
  size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    return ConfigError(Location{"", 0, 0, "--set " + text}, "--set expects KEY=VALUE",
                       "e.g. --set sources.quotes.path=data.csv");
  }
  return Override{text.substr(0, equals), text.substr(equals + 1)};
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
    return YamlSyntaxError(text, file, error);
  }
  if (!root.IsMap()) {
    return ConfigError(Location{file, 1, 1},
                       "a pipeline file must be a map with 'sources', 'pipeline' and 'sinks'");
  }
  CommandLineValues command_line;
  try {
    ConfigErrors errors;
    // A key given twice makes the file mean two things; checking further would guess which.
    CheckDuplicateKeys(root, MapRole::kTopLevel, file, errors);
    SLUICE_RETURN_NOT_OK(errors.ToStatus());
    for (const auto& override_value : overrides)
      errors.Keep(ApplyOverride(root, override_value, file, command_line));
    // A failed --set leaves the tree unlike what the user asked for: checking it would report
    // errors that are not theirs.
    SLUICE_RETURN_NOT_OK(errors.ToStatus());

    for (auto it = root.begin(); it != root.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (std::find(kTopLevelKeys.begin(), kTopLevelKeys.end(), key) == kTopLevelKeys.end()) {
        errors.Keep(ConfigError(LocationOfNode(it->first, file),
                                fmt::format("unknown top-level key '{}'", key),
                                SpellingHint(key, kTopLevelKeys)));
      }
    }

    PipelineConfig config;
    config.file = file;
    config.name = RequireScalarOrEmpty(root["name"]);
    if (config.name.empty()) config.name = "pipeline";

    // "No sources" only when none was given, not when every one given is wrong.
    size_t errors_before = errors.size();
    config.sources = LoadConnectorMap(PluginKind::kSource, root["sources"], file, catalog, errors);
    if (config.sources.empty() && errors.size() == errors_before) {
      errors.Keep(ConfigError(Location{file, 1, 1}, "the pipeline has no sources",
                              "add e.g. 'sources: {quotes: {connector: generator, count: 1000}}'"));
    }
    config.processors = LoadProcessors(root["pipeline"], file, catalog, errors);
    if (YAML::Node emit = root["emit"]; emit.IsDefined() && !emit.IsNull()) {
      auto options = ValidateOptions(EmitSpec(), emit, file);
      if (errors.Keep(options.status()))
        config.emit = ComponentConfig{"emit", "emit", std::move(*options)};
    }
    errors_before = errors.size();
    config.sinks = LoadConnectorMap(PluginKind::kSink, root["sinks"], file, catalog, errors);
    if (config.sinks.empty() && errors.size() == errors_before) {
      errors.Keep(ConfigError(Location{file, 1, 1}, "the pipeline has no sinks",
                              "add e.g. 'sinks: {screen: {connector: console}}'"));
    }
    if (YAML::Node dead = root["dead_letters"]; dead.IsDefined() && !dead.IsNull()) {
      auto component = LoadConnector(PluginKind::kSink, "dead_letters", dead, file, catalog);
      if (errors.Keep(component.status())) config.dead_letters = std::move(*component);
    }
    if (YAML::Node checkpoint = root["checkpoint"];
        checkpoint.IsDefined() && !checkpoint.IsNull()) {
      auto options = ValidateOptions(CheckpointSpec(), checkpoint, file);
      if (errors.Keep(options.status())) {
        CheckpointConfig settings;
        settings.dir = options->GetString("dir");
        settings.interval = options->GetDuration("interval");
        settings.retain = static_cast<int>(options->GetInteger("retain"));
        settings.where = options->where();
        if (settings.dir.empty()) {
          errors.Keep(ConfigError(options->LocationOf("dir"), "checkpoint.dir is empty",
                                  "name a folder, e.g. dir: state/"));
        }
        config.checkpoint = std::move(settings);
      }
    }
    if (YAML::Node storage = root["storage"]; storage.IsDefined() && !storage.IsNull()) {
      auto options = ValidateOptions(StorageSpec(), storage, file);
      if (errors.Keep(options.status()) && options->Has("s3")) {
        const Options& s3 = options->GetSection("s3");
        auto text = [&](const char* name) { return s3.Has(name) ? s3.GetString(name) : ""; };
        config.s3.endpoint = text("endpoint");
        config.s3.region = text("region");
        config.s3.access_key_id = text("access_key_id");
        config.s3.secret_access_key = text("secret_access_key");
        if (s3.Has("path_style")) config.s3.path_style = s3.GetBool("path_style");
        if (config.s3.access_key_id.empty() != config.s3.secret_access_key.empty()) {
          errors.Keep(ConfigError(s3.where(),
                                  "storage.s3 needs both access_key_id and secret_access_key",
                                  "or neither, to take them from the AWS environment"));
        }
      }
    }
    if (YAML::Node http = root["http"]; http.IsDefined() && !http.IsNull()) {
      auto options = ValidateOptions(HttpSpec(), http, file);
      if (errors.Keep(options.status())) {
        HttpConfig settings;
        settings.address = options->GetString("address");
        settings.linger = options->GetDuration("linger");
        settings.where = options->where();
        if (auto parsed = http::ParseAddress(settings.address); !parsed.ok()) {
          errors.Keep(ConfigError(options->LocationOf("address"),
                                  fmt::format("http.address: {}", parsed.status().message()),
                                  "e.g. address: 127.0.0.1:9464"));
        }
        config.http = std::move(settings);
      }
    }
    if (YAML::Node max_state = root["max_state"]; max_state.IsDefined()) {
      config.max_state_where = LocationOfNode(max_state, file);
      auto bytes = max_state.IsScalar() ? ParseByteSize(max_state.Scalar())
                                        : Result<int64_t>(Status::Invalid("not a size"));
      if (!bytes.ok()) {
        errors.Keep(ConfigError(config.max_state_where,
                                fmt::format("max_state: {}", bytes.status().message()),
                                "e.g. max_state: 4GB"));
      } else if (*bytes <= 0) {
        errors.Keep(ConfigError(config.max_state_where, "max_state must be more than 0 bytes"));
      } else {
        config.max_state = *bytes;
      }
    }
    CheckStreamNames(config, errors);
    CheckSinkTargets(config, errors);
    SLUICE_RETURN_NOT_OK(errors.ToStatus());
    return config;
  } catch (const YAML::Exception& error) {
    Location where{file, error.mark.is_null() ? 0 : error.mark.line + 1,
                   error.mark.is_null() ? 0 : error.mark.column + 1};
    return ConfigError(where, fmt::format("invalid pipeline structure: {}", error.msg));
  }
}

std::vector<std::string> PipelineWarnings(const PipelineConfig& config) {
  std::vector<std::string> warnings;
  const auto& steps = config.processors;
  auto read_by_name = [&](const std::string& stream) {
    for (const auto& step : steps) {
      for (const auto& input : step.inputs) {
        if (input.name == stream) return true;
      }
    }
    for (const auto& sink : config.sinks) {
      for (const auto& input : sink.inputs) {
        if (input.name == stream) return true;
      }
    }
    return false;
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    // The next step reads a step's output unless it names its own input; after the last step,
    // `emit` and the sinks without an `input` do.
    bool read_next = false;
    if (i + 1 < steps.size()) {
      read_next = steps[i + 1].inputs.empty();
    } else {
      read_next = config.emit.has_value();
      for (const auto& sink : config.sinks) read_next |= sink.inputs.empty();
    }
    const std::string& name = steps[i].output;
    if (read_next || (!name.empty() && read_by_name(name))) continue;
    if (!name.empty()) {
      warnings.push_back(ConfigWarning(
          steps[i].where, fmt::format("nothing reads the stream '{}' of this step", name),
          fmt::format("read it with 'input: {}' in a later step or a sink, or remove the step",
                      name)));
    } else {
      warnings.push_back(ConfigWarning(
          steps[i].where, "nothing reads the output of this step",
          i + 1 < steps.size() ? "the next step names its own 'input'; give this step a 'name' "
                                 "and read it with 'input:', or remove it"
                               : "every sink names its own 'input'; remove the step, or read it"));
    }
  }
  return warnings;
}

}  // namespace sluice::config
