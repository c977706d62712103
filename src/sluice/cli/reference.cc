#include "sluice/cli/reference.h"

#include <fmt/format.h>

#include <algorithm>

#include "sluice/config/pipeline_config.h"

namespace sluice::cli {
namespace {

using config::PluginKind;
using config::PluginSpec;

/// The accepted values or range of an option; `separator` goes between enum choices.
std::string Bounds(const config::OptionSpec& option, std::string_view separator = " | ") {
  std::string text;
  if (!option.choices.empty()) {
    for (size_t i = 0; i < option.choices.size(); ++i)
      text += (i ? std::string(separator) : "") + option.choices[i];
    return text;
  }
  if (option.min && option.max) {
    return fmt::format("{} to {}", config::FormatBound(option, *option.min),
                       config::FormatBound(option, *option.max));
  }
  if (option.min) return fmt::format("at least {}", config::FormatBound(option, *option.min));
  if (option.max) return fmt::format("at most {}", config::FormatBound(option, *option.max));
  return text;
}

std::string KindHeading(PluginKind kind) {
  switch (kind) {
    case PluginKind::kSource:
      return "Sources";
    case PluginKind::kProcessor:
      return "Processors";
    case PluginKind::kSink:
      return "Sinks";
  }
  return "";
}

void AppendTextOption(const config::OptionSpec& option, const std::string& name, std::string* out) {
  std::string details = std::string(config::OptionTypeName(option.type));
  if (option.required) details += ", required";
  if (!option.default_value.empty()) details += ", default " + option.default_value;
  if (std::string bounds = Bounds(option); !bounds.empty()) details += ", " + bounds;
  *out += fmt::format("  {:<14} {}\n  {:<14} ({})\n", name, option.doc, "", details);
}

void AppendText(const PluginSpec& spec, std::string* out) {
  *out += fmt::format("{} {}\n  {}\n", config::PluginKindName(spec.kind), spec.name, spec.doc);
  for (const auto& option : spec.options) {
    AppendTextOption(option, option.name, out);
    for (const auto& field : option.fields)
      AppendTextOption(field, option.name + "." + field.name, out);
  }
  if (!spec.example.empty()) {
    *out += "  example:\n";
    size_t start = 0;
    while (start <= spec.example.size()) {
      size_t end = spec.example.find('\n', start);
      if (end == std::string::npos) end = spec.example.size();
      *out += "    " + spec.example.substr(start, end - start) + "\n";
      start = end + 1;
    }
  }
  *out += "\n";
}

void AppendMarkdownRow(const config::OptionSpec& option, const std::string& name,
                       std::string* out) {
  std::string default_value = option.required ? "required" : option.default_value;
  *out += fmt::format("| `{}` | {} | {} | {} | {} |\n", name, config::OptionTypeName(option.type),
                      default_value.empty() ? "" : "`" + default_value + "`", Bounds(option, ", "),
                      option.doc);
}

void AppendMarkdown(const PluginSpec& spec, std::string* out) {
  std::string title = spec.kind == PluginKind::kProcessor
                          ? fmt::format("`{}`", spec.name)
                          : fmt::format("`connector: {}`", spec.name);
  *out += fmt::format("### {}\n\n{}\n\n", title, spec.doc);
  if (!spec.options.empty()) {
    *out += "| option | type | default | bounds | description |\n|---|---|---|---|---|\n";
    for (const auto& option : spec.options) {
      std::string name = option.name;
      if (spec.value_option == option.name) name += " (short form)";
      AppendMarkdownRow(option, name, out);
      for (const auto& field : option.fields)
        AppendMarkdownRow(field, option.name + "." + field.name, out);
    }
    *out += "\n";
  }
  if (!spec.value_option.empty()) {
    *out += fmt::format("The short form gives `{}` directly as the processor's value.\n\n",
                        spec.value_option);
  }
  if (!spec.example.empty()) {
    std::string_view example = spec.example;
    while (!example.empty() && example.back() == '\n') example.remove_suffix(1);
    *out += fmt::format("```yaml\n{}\n```\n\n", example);
  }
}

/// The first sentence of `doc` (without its full stop).
std::string_view FirstSentence(std::string_view doc) {
  size_t end = doc.find(". ");
  if (end == std::string_view::npos) end = doc.find('\n');
  if (end == std::string_view::npos) end = doc.size();
  std::string_view sentence = doc.substr(0, end);
  if (!sentence.empty() && sentence.back() == '.') sentence.remove_suffix(1);
  return sentence;
}

/// Every plugin's declaration, sources first, then processors, sinks and the emit section.
std::vector<const PluginSpec*> AllSpecs(const exec::Registry& registry) {
  std::vector<const PluginSpec*> specs;
  for (PluginKind kind : {PluginKind::kSource, PluginKind::kProcessor, PluginKind::kSink}) {
    for (const PluginSpec* spec : registry.Specs(kind)) specs.push_back(spec);
  }
  specs.push_back(&config::EmitSpec());
  specs.push_back(&config::CheckpointSpec());
  specs.push_back(&config::StorageSpec());
  specs.push_back(&config::HttpSpec());
  return specs;
}

}  // namespace

std::string PluginList(const exec::Registry& registry) {
  std::string out;
  for (const PluginSpec* spec : AllSpecs(registry)) {
    out += fmt::format("{:<9} {:<16} {}\n", config::PluginKindName(spec->kind), spec->name,
                       FirstSentence(spec->doc));
  }
  return out;
}

std::vector<std::string> PluginNames(const exec::Registry& registry) {
  std::vector<std::string> names;
  for (const PluginSpec* spec : AllSpecs(registry)) {
    if (std::find(names.begin(), names.end(), spec->name) == names.end())
      names.push_back(spec->name);
  }
  return names;
}

std::string PluginReferenceText(const exec::Registry& registry, const std::string& name) {
  std::string out;
  for (const PluginSpec* spec : AllSpecs(registry)) {
    if (name.empty() || spec->name == name) AppendText(*spec, &out);
  }
  return out;
}

std::string PluginReferenceMarkdown(const exec::Registry& registry) {
  std::string out =
      "# Pipeline reference\n\n"
      "<!-- Generated by `sluice plugins --markdown` from the option declarations; do not edit by "
      "hand. -->\n\n"
      "A pipeline file has the top-level keys `name`, `sources`, `pipeline`, `emit`, `sinks` and\n"
      "`dead_letters`. Durations are written `500ms`, `5s`, `2m`, `1h`. `${VAR}` and "
      "`${VAR:-default}`\n"
      "are replaced from the environment, and `--set path.to.key=value` overrides any key.\n\n"
      "## Streams\n\n"
      "A pipeline is a graph of named streams. Each source is a stream named after it (a source\n"
      "with several kinds of record, like `nexmark`, has one stream per kind: `nexmark.person`,\n"
      "`nexmark.auction`, `nexmark.bid`). A step reads the previous step's output (the first "
      "step:\n"
      "every source's rows together) unless it names its input with `input:`; `name:` makes its\n"
      "output a stream of its own. A `join` reads the two streams named by `left` and `right`.\n"
      "A sink writes the last step's output (after `emit`) unless it names a stream with\n"
      "`input:`. A step reads only sources and the steps above it, so the graph has no cycles;\n"
      "a stream may feed any number of steps and sinks.\n\n"
      "```yaml\n"
      "pipeline:\n"
      "  - {name: big, input: trades, filter: \"volume > 1000\"}\n"
      "  - {name: per_symbol, input: trades, window: {tumbling: 1m, group_by: [symbol]}}\n"
      "  - join: {left: big, right: per_symbol, on: {symbol: symbol}, ttl: 5m}\n"
      "sinks:\n"
      "  alerts: {connector: console, input: big}\n"
      "  joined: {connector: file, path: out/joined.parquet}\n"
      "```\n\n";
  for (PluginKind kind : {PluginKind::kSource, PluginKind::kProcessor, PluginKind::kSink}) {
    out += fmt::format("## {}\n\n", KindHeading(kind));
    for (const PluginSpec* spec : registry.Specs(kind)) AppendMarkdown(*spec, &out);
  }
  out += "## The `emit` section\n\n";
  AppendMarkdown(config::EmitSpec(), &out);
  out += "## The `checkpoint` section\n\n";
  AppendMarkdown(config::CheckpointSpec(), &out);
  out +=
      "See docs/checkpoints.md for what a checkpoint holds and how a run resumes. Beside it, "
      "`max_state: 4GB` (top level) is the most state the steps may hold together; a run that "
      "needs more fails with a message naming the step. Default: 60 % of the machine's "
      "memory.\n\n";
  out += "## The `storage` section\n\n";
  AppendMarkdown(config::StorageSpec(), &out);
  out += "See docs/connectors/files-and-s3.md for paths that are URIs.\n\n";
  out += "## The `http` section\n\n";
  AppendMarkdown(config::HttpSpec(), &out);
  out += "See docs/metrics.md for every metric it serves.\n\n";
  out +=
      "## The `dead_letters` section\n\n"
      "A sink (any sink connector) that receives every rejected record with the columns "
      "`rejected_at`,\n"
      "`reason`, `stage`, `source`, `origin` and `record`. Without it, dead letters are counted in "
      "the\n"
      "run summary and the first ones are logged. Every column is valid UTF-8: a `record` that is "
      "not\n"
      "(undecodable input) is written with each bad byte as `\\xNN` and each backslash as "
      "`\\\\`, which\n"
      "loses nothing, and its reason says so. No sink may write the dead letters' file "
      "(docs/connectors/file.md).\n";
  return out;
}

}  // namespace sluice::cli
