#include "sluice/connectors/stdio/stdout_sink.h"

#include <arrow/record_batch.h>

#include "sluice/connectors/file/format_options.h"
#include "sluice/connectors/stdio/standard_streams.h"
#include "sluice/formats/record_writer.h"

namespace sluice::connectors {
namespace {

/// Writes each batch to standard output as it comes, so that the next program in the pipe sees
/// rows while the run goes on (for Parquet, only at Close(), which writes its footer).
/// Pipeline thread only.
class StdoutSink final : public exec::Sink {
 public:
  StdoutSink(formats::Format format, formats::WriteOptions options)
      : format_(format), options_(options) {}

  Status Open(const std::shared_ptr<arrow::Schema>& schema) override {
    SLUICE_ASSIGN_OR_RAISE(
        writer_, formats::RecordWriter::Open(std::make_shared<DescriptorOutputStream>(), format_,
                                             schema, options_));
    return Status::OK();
  }

  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    if (!writer_) return Status::Invalid("stdout sink: Write() before Open() or after Close()");
    return writer_->Write(*batch);
  }

  /// Rows are written as they come: after a restart, those after the last checkpoint are
  /// written again.
  exec::CheckpointRole checkpoint_role() const override {
    return exec::CheckpointRole::kAtLeastOnce;
  }
  Status Close() override {
    if (!writer_) return Status::OK();
    Status closed = writer_->Close();
    writer_.reset();
    return closed;
  }

 private:
  formats::Format format_;
  formats::WriteOptions options_;
  std::unique_ptr<formats::RecordWriter> writer_;
};

config::PluginSpec StdoutSinkSpec() {
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSink;
  spec.name = "stdout";
  spec.doc =
      "Writes CSV, JSON lines, Arrow IPC (the stream format, which a reader takes batch by "
      "batch) or Parquet to standard output, batch by batch; the file sink's path: - is the "
      "same. Logs and the progress line go to stderr, so stdout holds only the data.";
  spec.options = {
      FormatOptionSpec("csv, jsonl, arrow, avro or parquet: a pipe has no extension to "
                       "tell it by.")};
  spec.options.front().required = true;
  for (auto& option : WriteFormatOptionSpecs()) spec.options.push_back(std::move(option));
  spec.example =
      "sinks:\n"
      "  out: {connector: stdout, format: jsonl}\n";
  return spec;
}

}  // namespace

Result<std::unique_ptr<exec::Sink>> MakeStdoutSink(const exec::ConnectorContext&,
                                                   const config::Options& options) {
  SLUICE_ASSIGN_OR_RAISE(formats::Format format, FormatFromOptions(options, ""));
  SLUICE_ASSIGN_OR_RAISE(formats::WriteOptions write_options, WriteOptionsFromConfig(options));
  write_options.arrow_stream = true;
  return std::make_unique<StdoutSink>(format, write_options);
}

void RegisterStdoutSink(exec::Registry* registry) {
  registry->AddSink(StdoutSinkSpec(), MakeStdoutSink);
}

}  // namespace sluice::connectors
