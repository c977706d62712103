#include "sluice/connectors/file/file_sink.h"

#include <arrow/record_batch.h>
#include <arrow/util/io_util.h>
#include <fmt/format.h>

#include <cstring>

#include "sluice/common/file_system.h"
#include "sluice/config/location.h"
#include "sluice/connectors/file/object_output.h"
#include "sluice/connectors/file/format_options.h"
#include "sluice/connectors/file/output_target.h"
#include "sluice/connectors/file/rolling_file_sink.h"
#include "sluice/connectors/stdio/stdout_sink.h"
#include "sluice/formats/format.h"
#include "sluice/formats/record_writer.h"

namespace sluice::connectors {
namespace {

using formats::Format;

/// Writes through an OutputTarget: a regular file is staged beside the target and renamed into
/// place by Publish(), after every sink of the run has closed, so a reader sees the previous file
/// or the whole new one; a device, FIFO or /dev/stdout is written in place. A failed or
/// interrupted run aborts: the staged file goes, the previous output stays. Pipeline thread only.
class FileSink final : public exec::Sink {
 public:
  FileSink(std::string path, Format format, formats::WriteOptions options)
      : path_(std::move(path)), format_(format), options_(options) {}

  Status Open(const std::shared_ptr<arrow::Schema>& schema) override {
    std::shared_ptr<arrow::io::OutputStream> stream;
    if (IsUri(path_)) {
      SLUICE_ASSIGN_OR_RAISE(object_, ObjectOutput::Open(path_));
      stream = object_->stream();
    } else {
      SLUICE_ASSIGN_OR_RAISE(target_, OutputTarget::Open(path_));
      stream = target_->stream();
    }
    auto writer = formats::RecordWriter::Open(std::move(stream), format_, schema, options_);
    if (!writer.ok()) return Described(writer.status());
    writer_ = *std::move(writer);
    return Status::OK();
  }

  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    if (!writer_) return Status::Invalid("file sink: Write() before Open() or after Close()");
    return Described(writer_->Write(*batch));
  }

  Status Close() override {
    if (!writer_) return Status::OK();
    Status closed = writer_->Close();
    writer_.reset();
    return Described(closed);
  }

  Status Publish() override {
    if (object_ != nullptr) return object_->Publish();
    return target_ == nullptr ? Status::OK() : target_->Publish();
  }

  void Abort() override {
    writer_.reset();
    if (target_ != nullptr) target_->Abort();
    if (object_ != nullptr) object_->Abort();
  }

 private:
  Status Described(const Status& status) const {
    return DescribeWriteError(status, "write", path_);
  }

  std::string path_;
  Format format_;
  formats::WriteOptions options_;
  std::unique_ptr<OutputTarget> target_;
  /// Instead of target_, for a URI (s3://bucket/key).
  std::unique_ptr<ObjectOutput> object_;
  std::unique_ptr<formats::RecordWriter> writer_;
};

Result<std::unique_ptr<exec::Sink>> MakeFileSink(const exec::ConnectorContext& context,
                                                 const config::Options& options) {
  std::string path = options.GetString("path");
  if (path == "-" && options.Has("roll")) {
    return config::ConfigError(options.LocationOf("roll"),
                               "roll writes part files, which standard output cannot hold",
                               "give path a file template, e.g. out/part-{part}.jsonl");
  }
  if (path == "-") return MakeStdoutSink(context, options);
  if (IsUri(path)) {
    // file:///x is the local file /x, written as any local file is (staged, renamed into place).
    if (path.rfind("file://", 0) == 0) {
      path.erase(0, 7);
      if (path.empty() || path.front() != '/') {
        return config::ConfigError(options.LocationOf("path"),
                                   "a file:// URI needs an absolute path (file:///out/x.csv)");
      }
    } else if (options.Has("roll") && path.rfind("s3://", 0) != 0) {
      return config::ConfigError(
          options.LocationOf("roll"),
          fmt::format("roll does not write to '{}': rolling part files go to s3:// or local "
                      "paths",
                      path),
          "write one object per run without roll, or roll into a local folder");
    } else if (auto checked = ResolveUri(path); !checked.ok()) {
      return config::ConfigError(options.LocationOf("path"), checked.status().message());
    }
  }
  SLUICE_ASSIGN_OR_RAISE(Format format, FormatFromOptions(options, path));
  SLUICE_ASSIGN_OR_RAISE(formats::WriteOptions write_options, WriteOptionsFromConfig(options));
  if (options.Has("roll")) return MakeRollingFileSink(context, options, format, write_options);
  return std::make_unique<FileSink>(std::move(path), format, write_options);
}

config::PluginSpec FileSinkSpec() {
  using config::OptionSpec;
  using config::OptionType;
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSink;
  spec.name = "file";
  spec.doc =
      "Writes CSV, JSON lines, Parquet (zstd) or Arrow IPC. Output goes to a hidden temporary "
      "file renamed into place when the run ends and every sink succeeded, so a reader never "
      "sees half a file and a failed run leaves the previous file; parent directories are "
      "created. A device, FIFO or /dev/stdout is written in place. With roll, it writes a "
      "sequence of part files, optionally one directory per value of some columns (Hive "
      "partitions), and takes part in checkpoints (exactly-once).";
  OptionSpec path = config::MakeOption(
      "path", OptionType::kString,
      "The file to write; replaced when the run completes (a symlink's target is replaced). A "
      "URI such as s3://bucket/key.parquet writes one object, made visible only when the run "
      "completes; with roll, s3://bucket/out/part-{part}.parquet writes part objects. - "
      "writes to standard output, as the stdout sink does. With roll, a template of part "
      "files: {part} is the part id, {field} a column's value.");
  path.required = true;
  spec.options = {path, FormatOptionSpec("The file format; inferred from the extension when "
                                         "left out (and required for -).")};
  for (auto& option : WriteFormatOptionSpecs()) spec.options.push_back(std::move(option));
  spec.options.push_back(RollOptionSpec());
  spec.example =
      "sinks:\n"
      "  archive: {connector: file, path: out/analytics.parquet}\n"
      "  daily:\n"
      "    connector: file\n"
      "    path: out/date={date}/part-{part}.parquet\n"
      "    roll: {size: 128MB, interval: 10m}\n";
  return spec;
}

}  // namespace

void RegisterFileSink(exec::Registry* registry) {
  registry->AddSink(FileSinkSpec(), MakeFileSink);
  // `s3` is the same sink, for users who look for it by that name.
  config::PluginSpec s3 = FileSinkSpec();
  s3.name = "s3";
  s3.doc = "The file sink under another name: writes an s3:// object (or a local file) as the "
           "file sink does; the object appears only when the run completes. Endpoint and "
           "credentials come from storage: {s3: ...} or the AWS environment.";
  s3.example = "sinks:\n  lake: {connector: s3, path: s3://lake/daily/summary.parquet}\n";
  registry->AddSink(std::move(s3), MakeFileSink);
}

}  // namespace sluice::connectors
