#include "sluice/connectors/file/file_source.h"

#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <fmt/format.h>
#include <glob.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <numeric>

#include "sluice/config/location.h"
#include "sluice/connectors/file/format_options.h"
#include "sluice/connectors/stdio/stdin_source.h"
#include "sluice/exec/time.h"
#include "sluice/formats/format.h"
#include "sluice/formats/record_reader.h"

namespace sluice::connectors {
namespace {

using formats::Format;
using formats::RecordReader;

/// Reads the files of a glob. Each file is a partition of the source with a watermark of its own
/// (PushFromPartition), as a Kafka partition is: a file not read yet holds the watermark back,
/// so that rows of a later file are never late just because an earlier file moved time on.
/// Without event time the files are read one after another, in sorted order. With event time
/// they are read side by side, in event-time order: the next batch always comes from the file
/// that is furthest behind, so the window state stays bounded by the time the files overlap
/// (plus up to one batch per file), not by the input. The first file is opened by the factory
/// (to know the schema before the run); every later file is conformed to that schema, so a value
/// that does not fit becomes a dead letter rather than a schema change mid-run.
/// progress() may be called from any thread.
class FileSource final : public exec::Source {
 public:
  /// How many files of a glob are open at once when they are read side by side.
  static constexpr size_t kMaxOpenFiles = 256;

  FileSource(std::string name, std::vector<std::string> paths, Format format,
             formats::ReadOptions read_options, int64_t batch_size,
             std::unique_ptr<RecordReader> first, int64_t bytes_total, std::string event_time)
      : name_(std::move(name)),
        paths_(std::move(paths)),
        format_(format),
        read_options_(std::move(read_options)),
        batch_size_(batch_size),
        first_(std::move(first)),
        schema_(first_->schema()),
        bytes_total_(bytes_total),
        event_time_index_(event_time.empty() ? -1 : schema_->GetFieldIndex(event_time)) {
    read_options_.schema = schema_;
  }

  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  bool bounded() const override { return true; }

  Status Run(exec::SourceOutput& out) override {
    std::vector<int32_t> partitions(paths_.size());
    std::iota(partitions.begin(), partitions.end(), 0);
    out.AssignPartitions(partitions);
    files_.resize(paths_.size());
    if (event_time_index_ < 0) {
      for (size_t i = 0; i < paths_.size(); ++i) {
        while (true) {
          SLUICE_ASSIGN_OR_RAISE(bool more, ReadNext(i, out));
          if (!more) break;
        }
        if (out.stopping()) return Status::OK();
      }
      return Status::OK();
    }
    // Side by side: files not started yet come first (they hold the watermark back), then
    // always the one whose latest event time is the earliest. At most kMaxOpenFiles are open at
    // once; beyond that the open ones are read on first. That costs memory (their rows wait in
    // the window state while unread files hold the watermark back), never correctness.
    std::vector<size_t> open(paths_.size());
    std::iota(open.begin(), open.end(), 0);
    size_t started = 0;
    while (!open.empty() && !out.stopping()) {
      const bool may_start = started < kMaxOpenFiles;
      auto earlier = [&](size_t a, size_t b) {
        bool a_ready = may_start || files_[a].reader != nullptr;
        bool b_ready = may_start || files_[b].reader != nullptr;
        if (a_ready != b_ready) return a_ready;
        return files_[a].latest < files_[b].latest;
      };
      auto next = std::min_element(open.begin(), open.end(), earlier);
      if (files_[*next].reader == nullptr) ++started;
      SLUICE_ASSIGN_OR_RAISE(bool more, ReadNext(*next, out));
      if (!more) {
        --started;
        open.erase(next);
      }
    }
    return Status::OK();
  }

  exec::SourceProgress progress() const override {
    return {bytes_done_.load() + current_bytes_.load(), bytes_total_};
  }

 private:
  /// A file being read: its reader, the batch being sliced, and where it stands.
  struct OpenFile {
    std::unique_ptr<RecordReader> reader;
    std::shared_ptr<arrow::RecordBatch> batch;
    int64_t offset = 0;
    /// Rows delivered so far, which names the next row's origin.
    int64_t rows = 0;
    /// The latest event time delivered (kMinTimestamp before the first batch).
    exec::Timestamp latest = exec::kMinTimestamp;
    int64_t bytes_read = 0;
    bool done = false;
  };

  /// Delivers the next batch of file `index`; false when the file has ended (or the run is
  /// stopping).
  Result<bool> ReadNext(size_t index, exec::SourceOutput& out) {
    OpenFile& file = files_[index];
    const std::string& path = paths_[index];
    const auto partition = static_cast<int32_t>(index);
    if (out.stopping()) return false;
    if (file.reader == nullptr && !file.done) {
      if (index == 0 && first_) {
        file.reader = std::move(first_);
      } else {
        auto opened = RecordReader::Open(path, format_, read_options_);
        if (!opened.ok()) {
          // A file that cannot be read is lost input, reported like any other rejected record.
          Reject(out, {opened.status().message(), "", "", path, ""});
          return EndFile(index, FileSize(path), out);
        }
        file.reader = *std::move(opened);
      }
    }
    while (file.batch == nullptr || file.offset >= file.batch->num_rows()) {
      if (file.done) return false;
      std::vector<exec::DeadLetter> rejected;
      auto batch = file.reader->Next(&rejected);
      for (auto& letter : rejected) Reject(out, std::move(letter));
      if (!batch.ok()) {
        Reject(out,
               {fmt::format("the rest of the file is unreadable: {}", batch.status().message()), "",
                "", path, ""});
        return EndFile(index, file.reader->bytes_total(), out);
      }
      // Progress: the files done plus what the open ones have read.
      current_bytes_ += file.reader->bytes_read() - file.bytes_read;
      file.bytes_read = file.reader->bytes_read();
      if (*batch == nullptr) return EndFile(index, file.reader->bytes_total(), out);
      file.batch = *std::move(batch);
      file.offset = 0;
    }
    auto slice = file.batch->Slice(file.offset, batch_size_);
    file.offset += slice->num_rows();
    if (event_time_index_ >= 0) {
      const auto& times =
          static_cast<const arrow::TimestampArray&>(*slice->column(event_time_index_));
      for (int64_t row = 0; row < times.length(); ++row) {
        if (times.IsValid(row)) file.latest = std::max(file.latest, times.Value(row));
      }
    }
    Status pushed = out.PushFromPartition(slice, partition, path, file.rows);
    file.rows += slice->num_rows();
    if (pushed.IsCancelled()) return false;
    SLUICE_RETURN_NOT_OK(pushed);
    return true;
  }

  /// File `index` is read to its end (or given up): it no longer holds the watermark back.
  Result<bool> EndFile(size_t index, int64_t bytes, exec::SourceOutput& out) {
    OpenFile& file = files_[index];
    file.done = true;
    file.reader.reset();
    file.batch.reset();
    current_bytes_ -= file.bytes_read;
    file.bytes_read = 0;
    bytes_done_ += bytes;
    out.EndPartition(static_cast<int32_t>(index));
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
  /// The event-time column, or -1 without event time.
  int event_time_index_;
  std::vector<OpenFile> files_;
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
  std::string event_time;
  if (options.Has("event_time")) event_time = options.GetSection("event_time").GetString("field");
  return std::make_unique<FileSource>(context.name, std::move(paths), format,
                                      std::move(read_options), batch_size, *std::move(first),
                                      bytes_total, std::move(event_time));
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
