#include "sluice/connectors/file/file_sink.h"

#include <arrow/record_batch.h>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>

#include "sluice/config/location.h"
#include "sluice/connectors/file/format_options.h"
#include "sluice/connectors/stdio/stdout_sink.h"
#include "sluice/formats/format.h"
#include "sluice/formats/record_writer.h"

namespace sluice::connectors {
namespace {

using formats::Format;

/// Writes to "<path>.tmp-<pid>" and renames it to `path` at Close(): a rename within a
/// directory is atomic, so the target is either the old file or the whole new one. A sink
/// destroyed without Close() (a failed run) removes its temporary file. Pipeline thread only.
class FileSink final : public exec::Sink {
 public:
  FileSink(std::string path, Format format, formats::WriteOptions options)
      : path_(std::move(path)), format_(format), options_(options) {}

  ~FileSink() override {
    if (writer_) {
      writer_.reset();
      std::error_code ignored;
      std::filesystem::remove(temporary_path_, ignored);
    }
  }

  Status Open(const std::shared_ptr<arrow::Schema>& schema) override {
    std::filesystem::path target(path_);
    if (target.has_parent_path()) {
      std::error_code error;
      std::filesystem::create_directories(target.parent_path(), error);
      if (error) {
        return Status::IOError(fmt::format("cannot create directory '{}': {}",
                                           target.parent_path().string(), error.message()));
      }
    }
    temporary_path_ = fmt::format("{}.tmp-{}", path_, getpid());
    SLUICE_ASSIGN_OR_RAISE(writer_,
                           formats::RecordWriter::Open(temporary_path_, format_, schema, options_));
    return Status::OK();
  }

  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    if (!writer_) return Status::Invalid("file sink: Write() before Open() or after Close()");
    return writer_->Write(*batch);
  }

  Status Close() override {
    if (!writer_) return Status::OK();
    SLUICE_RETURN_NOT_OK(writer_->Close());
    writer_.reset();
    std::error_code error;
    std::filesystem::rename(temporary_path_, path_, error);
    if (error) {
      return Status::IOError(
          fmt::format("cannot rename '{}' to '{}': {}", temporary_path_, path_, error.message()));
    }
    return Status::OK();
  }

 private:
  std::string path_;
  Format format_;
  formats::WriteOptions options_;
  std::string temporary_path_;
  std::unique_ptr<formats::RecordWriter> writer_;
};

Result<std::unique_ptr<exec::Sink>> MakeFileSink(const exec::ConnectorContext& context,
                                                 const config::Options& options) {
  std::string path = options.GetString("path");
  if (path == "-") return MakeStdoutSink(context, options);
  SLUICE_ASSIGN_OR_RAISE(Format format, FormatFromOptions(options, path));
  SLUICE_ASSIGN_OR_RAISE(formats::WriteOptions write_options, WriteOptionsFromConfig(options));
  return std::make_unique<FileSink>(std::move(path), format, write_options);
}

config::PluginSpec FileSinkSpec() {
  using config::OptionSpec;
  using config::OptionType;
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSink;
  spec.name = "file";
  spec.doc =
      "Writes CSV, JSON lines, Parquet (zstd) or Arrow IPC. Output goes to a temporary file "
      "renamed into place "
      "when the run ends, so a reader never sees half a file; parent directories are created.";
  OptionSpec path = config::MakeOption(
      "path", OptionType::kString,
      "The file to write; replaced when the run completes. - writes to standard output, as the "
      "stdout sink does.");
  path.required = true;
  spec.options = {path, FormatOptionSpec("The file format; inferred from the extension when "
                                         "left out (and required for -).")};
  for (auto& option : WriteFormatOptionSpecs()) spec.options.push_back(std::move(option));
  spec.example =
      "sinks:\n"
      "  archive: {connector: file, path: out/analytics.parquet}\n";
  return spec;
}

}  // namespace

void RegisterFileSink(exec::Registry* registry) { registry->AddSink(FileSinkSpec(), MakeFileSink); }

}  // namespace sluice::connectors
