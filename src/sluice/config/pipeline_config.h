#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/location.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"

namespace sluice::config {

/// One source, processor or sink of a pipeline file, validated against its declaration.
struct ComponentConfig {
  /// The user's name for a source or sink (`quotes`), or "pipeline[2]" for a processor.
  std::string id;
  /// The plugin: a connector name for sources and sinks, a processor name otherwise.
  std::string plugin;
  Options options;
};

/// A pipeline file (DESIGN.md §2), parsed and validated.
struct PipelineConfig {
  std::string name;
  std::string file;
  std::vector<ComponentConfig> sources;
  std::vector<ComponentConfig> processors;
  std::optional<ComponentConfig> emit;
  std::vector<ComponentConfig> sinks;
  std::optional<ComponentConfig> dead_letters;
};

/// A `--set path.to.key=value` override, applied to the YAML tree before validation.
struct Override {
  std::string path;
  std::string value;
};

/// Parses "path.to.key=value".
Result<Override> ParseOverride(const std::string& text);

/// The declaration of the top-level `emit` section (select, having).
const PluginSpec& EmitSpec();

/// Loads and validates a pipeline. Errors are ConfigError ("file:line:col: error: ...").
Result<PipelineConfig> LoadPipelineFile(const std::string& path,
                                        const std::vector<Override>& overrides,
                                        const SpecCatalog& catalog);
/// The same from text; `file` names it in error messages.
Result<PipelineConfig> LoadPipelineText(const std::string& text, const std::string& file,
                                        const std::vector<Override>& overrides,
                                        const SpecCatalog& catalog);

}  // namespace sluice::config
