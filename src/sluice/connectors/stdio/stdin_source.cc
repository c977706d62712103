#include "sluice/connectors/stdio/stdin_source.h"

#include <arrow/record_batch.h>
#include <fmt/format.h>

#include "sluice/common/logging.h"
#include "sluice/config/location.h"
#include "sluice/connectors/file/format_options.h"
#include "sluice/connectors/stdio/standard_streams.h"
#include "sluice/formats/record_reader.h"

namespace sluice::connectors {
namespace {

/// What dead letters name the input by.
constexpr const char* kInputName = "stdin";

/// Reads standard input on the source thread to its end. The factory opens the reader (which
/// reads the start of the input, to know the schema); Run() reads the rest. progress() may be
/// called from any thread.
class StdinSource final : public exec::Source {
 public:
  StdinSource(std::string name, std::shared_ptr<DescriptorInputStream> input,
              std::unique_ptr<formats::RecordReader> reader, int64_t batch_size, bool skip_damaged)
      : name_(std::move(name)),
        skip_damaged_(skip_damaged),
        input_(std::move(input)),
        reader_(std::move(reader)),
        batch_size_(batch_size) {}

  std::shared_ptr<arrow::Schema> schema() const override { return reader_->schema(); }
  bool bounded() const override { return true; }

  Status Run(exec::SourceOutput& out) override {
    // A producer that goes quiet must not hold up a stop: the input then reads as ended.
    input_->set_stopping([&out] { return out.stopping(); });
    Status status = ReadToEnd(out);
    input_->set_stopping(nullptr);
    return status;
  }

  exec::SourceProgress progress() const override { return {reader_->bytes_read(), std::nullopt}; }

 private:
  Status ReadToEnd(exec::SourceOutput& out) {
    std::vector<exec::DeadLetter> rejected;
    while (!out.stopping()) {
      rejected.clear();
      auto batch = reader_->Next(&rejected);
      for (auto& letter : rejected) Reject(out, std::move(letter));
      if (!batch.ok()) {
        if (!skip_damaged_) return batch.status();
        Reject(out,
               {fmt::format("the rest of the input is unreadable: {}", batch.status().message()),
                "", "", kInputName, ""});
        return Status::OK();
      }
      if (*batch == nullptr) return Status::OK();
      for (int64_t offset = 0; offset < (*batch)->num_rows(); offset += batch_size_) {
        Status pushed = out.Push((*batch)->Slice(offset, batch_size_));
        if (pushed.IsCancelled()) return Status::OK();
        SLUICE_RETURN_NOT_OK(pushed);
      }
    }
    return Status::OK();
  }

  void Reject(exec::SourceOutput& out, exec::DeadLetter letter) {
    letter.stage = "source";
    letter.source = name_;
    out.Reject(std::move(letter));
  }

  std::string name_;
  /// on_unreadable: skip; otherwise input that cannot be read on fails the run.
  bool skip_damaged_;
  std::shared_ptr<DescriptorInputStream> input_;
  std::unique_ptr<formats::RecordReader> reader_;
  int64_t batch_size_;
};

config::PluginSpec StdinSourceSpec() {
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSource;
  spec.name = "stdin";
  spec.doc =
      "Reads CSV, JSON lines or Arrow IPC (stream or file format) from standard input as it "
      "arrives, a bounded stream that ends with the input; the file source's path: - is the "
      "same. Parquet needs a seekable file and is refused. Without a schema the start of the "
      "input is read to infer one before the run. Records that cannot be decoded become dead "
      "letters with their line.";
  spec.options = {FormatOptionSpec(
      "csv, jsonl, arrow or avro: a pipe has no extension to tell it by.")};
  spec.options.front().required = true;
  for (auto& option : ReadFormatOptionSpecs()) spec.options.push_back(std::move(option));
  spec.example =
      "sources:\n"
      "  events:\n"
      "    connector: stdin\n"
      "    format: jsonl\n"
      "    schema: {user: string, ts: timestamp_ms}\n";
  return spec;
}

}  // namespace

Result<std::unique_ptr<exec::Source>> MakeStdinSource(const exec::ConnectorContext& context,
                                                      const config::Options& options) {
  SLUICE_ASSIGN_OR_RAISE(formats::Format format, FormatFromOptions(options, ""));
  if (format == formats::Format::kParquet) {
    return config::ConfigError(
        options.LocationOf("format"),
        "Parquet cannot be read from standard input: its metadata is at the end of the file, so "
        "a reader needs to seek",
        "send csv, jsonl or arrow through the pipe, or read the Parquet file with path: <file>");
  }
  SLUICE_ASSIGN_OR_RAISE(formats::ReadOptions read_options, ReadOptionsFromConfig(options));
  auto input = std::make_shared<DescriptorInputStream>();
  auto reader = formats::RecordReader::OpenStream(input, kInputName, format, read_options);
  if (!reader.ok()) {
    return config::ConfigError(options.where(),
                               fmt::format("cannot read standard input as {}: {}",
                                           formats::FormatName(format), reader.status().message()));
  }
  for (const auto& warning : (*reader)->warnings())
    ComponentLogger(fmt::format("source {}", context.name))->warn("{}", warning);
  return std::make_unique<StdinSource>(context.name, std::move(input), *std::move(reader),
                                       read_options.batch_rows, read_options.skip_damaged);
}

void RegisterStdinSource(exec::Registry* registry) {
  registry->AddSource(StdinSourceSpec(), MakeStdinSource);
}

}  // namespace sluice::connectors
