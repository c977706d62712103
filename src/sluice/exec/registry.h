#pragma once

#include <arrow/type.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"
#include "sluice/exec/processor.h"
#include "sluice/exec/sink.h"
#include "sluice/exec/source.h"

namespace sluice::exec {

/// What a source or sink factory gets besides its options.
struct ConnectorContext {
  std::string pipeline_name;
  /// The user's name for this source or sink.
  std::string name;
  /// Where a sink puts records it could not deliver (stage "sink:<name>"); set by the pipeline,
  /// null in tests that build a connector alone. Thread-safe.
  DeadLetterQueue* dead_letters = nullptr;
  /// For a sink of the pipeline's output: the connector of each source, and the stages that keep
  /// state between batches ("pipeline[2] window"). A sink that commits its input's position
  /// with its output (exactly-once) needs a pipeline where that position is well-defined, and
  /// refuses the others. Both empty for the dead-letter sink.
  std::vector<std::string> source_connectors;
  std::vector<std::string> stateful_stages;
  /// Whether the pipeline takes checkpoints (`checkpoint:`): then a sink commits its output with
  /// checkpoints (Sink::PrepareCheckpoint) instead of after each input batch, and a source is
  /// restored from a position (Source::RestorePosition).
  bool checkpoints = false;
  /// Whether every source of the pipeline is bounded (its input ends by itself).
  bool bounded = true;
  /// For a sink: the schema of the stream it writes, so that its factory can check options
  /// that name fields; null in tests that build a sink alone, and for the dead-letter sink.
  std::shared_ptr<arrow::Schema> input_schema;
  /// The pipeline file, for a source that keeps a file beside it (a watched folder's state);
  /// empty in tests that build a connector alone.
  std::string pipeline_file;
};

using SourceFactory =
    std::function<Result<std::unique_ptr<Source>>(const ConnectorContext&, const config::Options&)>;
using ProcessorFactory = std::function<Result<std::unique_ptr<Processor>>(
    const ProcessorContext&, const config::Options&,
    const std::shared_ptr<arrow::Schema>& input_schema)>;
using SinkFactory =
    std::function<Result<std::unique_ptr<Sink>>(const ConnectorContext&, const config::Options&)>;

/// Maps (kind, name) to a plugin's declaration and factory. Filled by explicit Register*()
/// calls from one list (builtins.cc); there is no static-initialiser registration.
class Registry : public config::SpecCatalog {
 public:
  void AddSource(config::PluginSpec spec, SourceFactory factory);
  void AddProcessor(config::PluginSpec spec, ProcessorFactory factory);
  void AddSink(config::PluginSpec spec, SinkFactory factory);

  const config::PluginSpec* FindSpec(config::PluginKind kind, std::string_view name) const override;
  std::vector<std::string> Names(config::PluginKind kind) const override;
  /// Every declaration of a kind, in name order.
  std::vector<const config::PluginSpec*> Specs(config::PluginKind kind) const;

  const SourceFactory* FindSource(std::string_view name) const;
  const ProcessorFactory* FindProcessor(std::string_view name) const;
  const SinkFactory* FindSink(std::string_view name) const;

 private:
  template <typename Factory>
  struct Entry {
    config::PluginSpec spec;
    Factory factory;
  };
  std::map<std::string, Entry<SourceFactory>, std::less<>> sources_;
  std::map<std::string, Entry<ProcessorFactory>, std::less<>> processors_;
  std::map<std::string, Entry<SinkFactory>, std::less<>> sinks_;
};

/// The registry holding every built-in processor and connector (see builtins.cc).
const Registry& BuiltinRegistry();

/// Options every source accepts, appended to each source's declaration.
std::vector<config::OptionSpec> CommonSourceOptions();

/// Micro-batch cutting settings shared by sources, read from CommonSourceOptions().
struct BatchingOptions {
  /// Rows per micro-batch at most.
  int64_t batch_size = 65536;
  /// How long a source may hold rows back to fill a batch before it sends a smaller one.
  std::chrono::nanoseconds linger = std::chrono::milliseconds(100);

  static BatchingOptions FromOptions(const config::Options& options);

  /// Whether a batch holding `rows` rows, the first taken at `started`, must go now: it is full
  /// or has lingered.
  bool Due(int64_t rows, std::chrono::steady_clock::time_point started) const {
    return rows >= batch_size ||
           (rows > 0 && std::chrono::steady_clock::now() - started >= linger);
  }

  /// `wait`, shortened so that a source waiting for its next record wakes up when a batch of
  /// `rows` rows started at `started` has lingered long enough to go.
  std::chrono::milliseconds Wait(int64_t rows, std::chrono::steady_clock::time_point started,
                                 std::chrono::milliseconds wait) const {
    if (rows == 0) return wait;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        linger - (std::chrono::steady_clock::now() - started));
    return std::clamp(left, std::chrono::milliseconds(0), wait);
  }
};

}  // namespace sluice::exec
