#include "sluice/connectors/file/file_sink.h"

#include <arrow/record_batch.h>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>

#include "sluice/config/location.h"
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

Result<std::unique_ptr<exec::Sink>> MakeFileSink(const exec::ConnectorContext&,
                                                 const config::Options& options) {
  std::string path = options.GetString("path");
  Format format;
  if (options.Has("format")) {
    SLUICE_ASSIGN_OR_RAISE(format, formats::ParseFormatName(options.GetString("format")));
  } else if (auto inferred = formats::FormatFromPath(path)) {
    format = *inferred;
  } else {
    return config::ConfigError(
        options.LocationOf("path"),
        fmt::format("cannot tell the format of '{}' from its extension", path),
        "add format: csv, jsonl, parquet or arrow");
  }
  formats::WriteOptions write_options;
  std::string delimiter = options.GetString("delimiter");
  if (delimiter == "\\t" || delimiter == "tab") delimiter = "\t";
  if (delimiter.size() != 1 || delimiter == "\"" || delimiter == "\n" || delimiter == "\r") {
    return config::ConfigError(
        options.LocationOf("delimiter"),
        fmt::format("delimiter must be one character other than a quote, not '{}'", delimiter),
        "write tab as \"\\t\"");
  }
  write_options.delimiter = delimiter[0];
  write_options.header = options.GetBool("header");
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
  OptionSpec path = config::MakeOption("path", OptionType::kString,
                                       "The file to write; replaced when the run completes.");
  path.required = true;
  OptionSpec format = config::MakeOption(
      "format", OptionType::kEnum, "The file format; inferred from the extension when left out.");
  format.choices = formats::FormatNames();
  OptionSpec delimiter =
      config::MakeOption("delimiter", OptionType::kString,
                         "CSV: the field delimiter, one character (\"\\t\" for tab).", ",");
  OptionSpec header =
      config::MakeOption("header", OptionType::kBool,
                         "CSV: whether to write a first line naming the columns.", "true");
  spec.options = {path, format, delimiter, header};
  spec.example =
      "sinks:\n"
      "  archive: {connector: file, path: out/analytics.parquet}\n";
  return spec;
}

}  // namespace

void RegisterFileSink(exec::Registry* registry) { registry->AddSink(FileSinkSpec(), MakeFileSink); }

}  // namespace sluice::connectors
