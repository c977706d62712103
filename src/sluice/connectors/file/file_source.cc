#include "sluice/connectors/file/file_source.h"

#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <fmt/format.h>
#include <glob.h>

#include <algorithm>
#include <atomic>
#include <filesystem>

#include "sluice/config/location.h"
#include "sluice/connectors/file/format_options.h"
#include "sluice/connectors/stdio/stdin_source.h"
#include "sluice/formats/format.h"
#include "sluice/formats/record_reader.h"

namespace sluice::connectors {
namespace {

using formats::Format;
using formats::RecordReader;

/// Reads its files one after another on the source thread. The first file is opened by the
/// factory (to know the schema before the run); every later file is conformed to that schema,
/// so a value that does not fit becomes a dead letter rather than a schema change mid-run.
/// progress() may be called from any thread.
class FileSource final : public exec::Source {
 public:
  FileSource(std::string name, std::vector<std::string> paths, Format format,
             formats::ReadOptions read_options, int64_t batch_size,
             std::unique_ptr<RecordReader> first, int64_t bytes_total)
      : name_(std::move(name)),
        paths_(std::move(paths)),
        format_(format),
        read_options_(std::move(read_options)),
        batch_size_(batch_size),
        first_(std::move(first)),
        schema_(first_->schema()),
        bytes_total_(bytes_total) {
    read_options_.schema = schema_;
  }

  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  bool bounded() const override { return true; }

  Status Run(exec::SourceOutput& out) override {
    for (size_t i = 0; i < paths_.size(); ++i) {
      if (out.stopping()) return Status::OK();
      std::unique_ptr<RecordReader> reader;
      if (i == 0 && first_) {
        reader = std::move(first_);
      } else {
        auto opened = RecordReader::Open(paths_[i], format_, read_options_);
        if (!opened.ok()) {
          // A file that cannot be read is lost input, reported like any other rejected record.
          Reject(out, {opened.status().message(), "", "", paths_[i], ""});
          bytes_done_ += FileSize(paths_[i]);
          continue;
        }
        reader = *std::move(opened);
      }
      SLUICE_ASSIGN_OR_RAISE(bool finished, ReadFile(*reader, paths_[i], out));
      bytes_done_ += reader->bytes_total();
      current_bytes_ = 0;
      if (!finished) return Status::OK();
    }
    return Status::OK();
  }

  exec::SourceProgress progress() const override {
    return {bytes_done_.load() + current_bytes_.load(), bytes_total_};
  }

 private:
  /// Reads one file to its end; false when the run is stopping.
  Result<bool> ReadFile(RecordReader& reader, const std::string& path, exec::SourceOutput& out) {
    std::vector<exec::DeadLetter> rejected;
    while (!out.stopping()) {
      rejected.clear();
      auto batch = reader.Next(&rejected);
      for (auto& letter : rejected) Reject(out, std::move(letter));
      if (!batch.ok()) {
        Reject(out,
               {fmt::format("the rest of the file is unreadable: {}", batch.status().message()), "",
                "", path, ""});
        return true;
      }
      current_bytes_ = reader.bytes_read();
      if (*batch == nullptr) return true;
      for (int64_t offset = 0; offset < (*batch)->num_rows(); offset += batch_size_) {
        if (out.stopping()) return false;
        Status pushed = out.Push((*batch)->Slice(offset, batch_size_));
        if (pushed.IsCancelled()) return false;
        SLUICE_RETURN_NOT_OK(pushed);
      }
    }
    return false;
  }

  void Reject(exec::SourceOutput& out, exec::DeadLetter letter) {
    letter.stage = "source";
    letter.source = name_;
    out.Reject(std::move(letter));
  }

  static int64_t FileSize(const std::string& path) {
    std::error_code error;
    auto size = std::filesystem::file_size(path, error);
    return error ? 0 : static_cast<int64_t>(size);
  }

  std::string name_;
  std::vector<std::string> paths_;
  Format format_;
  formats::ReadOptions read_options_;
  int64_t batch_size_;
  std::unique_ptr<RecordReader> first_;
  std::shared_ptr<arrow::Schema> schema_;
  int64_t bytes_total_;
  std::atomic<int64_t> bytes_done_{0};
  std::atomic<int64_t> current_bytes_{0};
};

Result<std::unique_ptr<exec::Source>> MakeFileSource(const exec::ConnectorContext& context,
                                                     const config::Options& options) {
  std::string pattern = options.GetString("path");
  if (pattern == "-") return MakeStdinSource(context, options);
  std::vector<std::string> paths = ExpandFilePattern(pattern);
  if (paths.empty()) {
    return config::ConfigError(options.LocationOf("path"),
                               fmt::format("no file matches '{}'", pattern),
                               fmt::format("paths are relative to the working directory ({})",
                                           std::filesystem::current_path().string()));
  }
  SLUICE_ASSIGN_OR_RAISE(Format format, FormatFromOptions(options, paths.front()));
  SLUICE_ASSIGN_OR_RAISE(formats::ReadOptions read_options, ReadOptionsFromConfig(options));
  int64_t batch_size = read_options.batch_rows;

  auto first = RecordReader::Open(paths.front(), format, read_options);
  if (!first.ok()) {
    return config::ConfigError(options.LocationOf("path"),
                               fmt::format("cannot read '{}' as {}: {}", paths.front(),
                                           formats::FormatName(format), first.status().message()));
  }
  int64_t bytes_total = 0;
  for (const auto& path : paths) {
    std::error_code error;
    auto size = std::filesystem::file_size(path, error);
    if (!error) bytes_total += static_cast<int64_t>(size);
  }
  return std::make_unique<FileSource>(context.name, std::move(paths), format,
                                      std::move(read_options), batch_size, *std::move(first),
                                      bytes_total);
}

config::PluginSpec FileSourceSpec() {
  using config::OptionSpec;
  using config::OptionType;
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSource;
  spec.name = "file";
  spec.doc =
      "Reads CSV, JSON lines, Parquet or Arrow files as a bounded stream, in batches, never a "
      "whole file in "
      "memory. Records that cannot be decoded become dead letters with their file and line.";
  OptionSpec path = config::MakeOption(
      "path", OptionType::kString,
      "The file to read, or a glob (data/quotes-*.csv) whose matches are read in sorted order; "
      "- reads standard input, as the stdin source does.");
  path.required = true;
  spec.options = {path, FormatOptionSpec("The file format; inferred from the extension when "
                                         "left out (and required for -).")};
  for (auto& option : ReadFormatOptionSpecs()) spec.options.push_back(std::move(option));
  spec.example =
      "sources:\n"
      "  quotes:\n"
      "    connector: file\n"
      "    path: data/quotes-*.csv\n"
      "    schema: {symbol: string, bid: double, ask: double, ts: timestamp}\n";
  return spec;
}

}  // namespace

std::vector<std::string> ExpandFilePattern(const std::string& pattern) {
  std::vector<std::string> paths;
  glob_t matches{};
  if (glob(pattern.c_str(), 0, nullptr, &matches) == 0) {
    for (size_t i = 0; i < matches.gl_pathc; ++i) {
      std::error_code error;
      if (std::filesystem::is_regular_file(matches.gl_pathv[i], error))
        paths.emplace_back(matches.gl_pathv[i]);
    }
  }
  globfree(&matches);
  std::sort(paths.begin(), paths.end());
  return paths;
}

void RegisterFileSource(exec::Registry* registry) {
  registry->AddSource(FileSourceSpec(), MakeFileSource);
}

}  // namespace sluice::connectors
