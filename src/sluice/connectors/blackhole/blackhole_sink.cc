#include "sluice/connectors/blackhole/blackhole_sink.h"

#include <arrow/record_batch.h>
#include <fmt/format.h>

#include <string>

#include "sluice/common/logging.h"

namespace sluice::connectors {
namespace {

/// The `blackhole` sink. Called from the pipeline thread only. It keeps no reference to the
/// batches it is given, so they are freed as soon as the pipeline lets go of them.
class BlackholeSink : public exec::Sink {
 public:
  explicit BlackholeSink(std::string component) : component_(std::move(component)) {}

  Status Open(const std::shared_ptr<arrow::Schema>&) override { return Status::OK(); }

  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    num_rows_ += batch->num_rows();
    ++num_batches_;
    return Status::OK();
  }

  /// Nothing is kept, so nothing is lost or repeated that anyone could see.
  exec::CheckpointRole checkpoint_role() const override {
    return exec::CheckpointRole::kAtLeastOnce;
  }
  Status Close() override {
    // At debug level only: the run summary already reports rows out.
    ComponentLogger(component_)->debug("discarded {} rows in {} batches", num_rows_, num_batches_);
    return Status::OK();
  }

 private:
  const std::string component_;
  int64_t num_rows_ = 0;
  int64_t num_batches_ = 0;
};

config::PluginSpec BlackholeSpec() {
  config::PluginSpec spec;
  spec.name = "blackhole";
  spec.doc = "Discards every row, counting them; for benchmarks that should not pay for output.";
  spec.example =
      "sinks:\n"
      "  sink:\n"
      "    connector: blackhole\n";
  return spec;
}

Result<std::unique_ptr<exec::Sink>> MakeBlackholeSink(const exec::ConnectorContext& context,
                                                      const config::Options&) {
  return std::make_unique<BlackholeSink>(
      fmt::format("{} sink {}", context.pipeline_name, context.name));
}

}  // namespace

void RegisterBlackholeSink(exec::Registry* registry) {
  registry->AddSink(BlackholeSpec(), MakeBlackholeSink);
}

}  // namespace sluice::connectors
