#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sluice/common/duration.h"
#include "sluice/common/file_system.h"
#include "sluice/common/status.h"
#include "sluice/config/location.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"

namespace sluice::config {

/// A reference to a named stream: a source (`quotes`), one stream of a source with several
/// (`nexmark.bid`), or a pipeline step's `name`.
struct StreamRef {
  std::string name;
  Location where;
};

/// One source, processor or sink of a pipeline file, validated against its declaration.
struct ComponentConfig {
  /// The user's name for a source or sink (`quotes`), or "pipeline[2]" for a processor.
  std::string id;
  /// The plugin: a connector name for sources and sinks, a processor name otherwise.
  std::string plugin;
  Options options;
  /// The streams a step or sink reads: its `input`, or a join's `left` and `right`. Empty: the
  /// previous step's output (for the first step, the sources'); for a sink, the pipeline's
  /// output (the last step's, after `emit`).
  std::vector<StreamRef> inputs;
  /// A step's `name`: its output is a stream other steps and sinks can read. Empty if unnamed.
  std::string output;
  /// Where the step's `name` stands.
  Location output_where;
  Location where;
  /// The component's YAML with map keys sorted, as written (before `${VAR}` substitution): a
  /// checkpoint records it, so that a restore can tell whether a stage's configuration changed.
  std::string canonical;
};

/// The top-level `checkpoint` section.
struct CheckpointConfig {
  /// A folder or a URI (`s3://bucket/prefix`).
  std::string dir;
  Duration interval = std::chrono::seconds(10);
  int retain = 3;
  Location where;
};

/// The top-level `http` section: the embedded server of metrics and health.
struct HttpConfig {
  /// host:port to listen on.
  std::string address;
  /// How long the server goes on answering after the run ended, so that a last scrape sees
  /// the final counts of a bounded run.
  Duration linger = std::chrono::seconds(0);
  Location where;
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
  /// `checkpoint:`; unset when the pipeline takes no checkpoints.
  std::optional<CheckpointConfig> checkpoint;
  /// `http:`; unset when the pipeline serves no metrics.
  std::optional<HttpConfig> http;
  /// `max_state`: the most bytes of state the stages may hold together; unset for the default
  /// (derived from the machine's memory).
  std::optional<int64_t> max_state;
  Location max_state_where;
  /// `storage: {s3: {...}}`: how s3:// paths reach their server; unset fields (and an absent
  /// block) fall back to the AWS environment.
  S3Settings s3;
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
/// The declaration of the top-level `checkpoint` section (dir, interval, retain).
const PluginSpec& CheckpointSpec();
/// The declaration of the top-level `http` section (address, linger).
const PluginSpec& HttpSpec();
/// The declaration of the top-level `storage` section (s3: endpoint, region, credentials).
const PluginSpec& StorageSpec();

/// Loads and validates a pipeline. Errors are ConfigError ("file:line:col: error: ...").
/// Besides each component's options it checks what would lose rows without a word: a key given
/// twice in one YAML map (a source or sink defined twice), a step named like another stream,
/// two sinks (or a sink and the dead letters) writing one file or both standard output, and a
/// sink path that is a directory.
Result<PipelineConfig> LoadPipelineFile(const std::string& path,
                                        const std::vector<Override>& overrides,
                                        const SpecCatalog& catalog);
/// The same from text; `file` names it in error messages. All the errors found in one pass are
/// reported together, one per line (each "file:line:col: error: ...", maybe with a hint line).
Result<PipelineConfig> LoadPipelineText(const std::string& text, const std::string& file,
                                        const std::vector<Override>& overrides,
                                        const SpecCatalog& catalog);

/// Warnings about a valid pipeline that probably does not do what was meant: a step whose
/// output nothing reads. Each is "file:line:col: warning: ..." (with a hint line).
std::vector<std::string> PipelineWarnings(const PipelineConfig& config);

}  // namespace sluice::config
