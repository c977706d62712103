#include "sluice/connectors/file/file_source.h"

#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <fmt/format.h>
#include <glob.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <numeric>

#include "sluice/common/logging.h"
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

int64_t FileSize(const std::string& path) {
  std::error_code error;
  auto size = std::filesystem::file_size(path, error);
  return error ? 0 : static_cast<int64_t>(size);
}

/// The dead letter of a file that cannot be read at all, with on_unreadable: skip.
exec::DeadLetter UnreadableFile(const std::string& path, const Status& error) {
  exec::DeadLetter letter;
  letter.reason = fmt::format("the file cannot be read: {}", error.message());
  letter.origin = path;
  letter.skipped_bytes = FileSize(path);
  return letter;
}

/// Reads the files of a glob. Each file is a partition of the source with a watermark of its own
/// (PushFromPartition), as a Kafka partition is: a file not read yet holds the watermark back,
/// so that rows of a later file are never late just because an earlier file moved time on.
/// Without event time the files are read one after another, in sorted order. With event time
/// they are read side by side, in event-time order: the next batch always comes from the file
/// that is furthest behind, so the window state stays bounded by the time the files overlap
/// (plus up to one batch per file), not by the input. The factory opens the first readable file
/// (to know the schema before the run) and checks every later file's columns against it; every
/// later file is conformed to that schema, so a value that does not fit becomes a dead letter
/// rather than a schema change mid-run. A file that cannot be opened, or damaged input a reader
/// cannot get past, fails the run or (on_unreadable: skip) is a counted dead letter.
/// progress() may be called from any thread.
class FileSource final : public exec::Source {
 public:
  /// How many files of a glob are open at once when they are read side by side.
  static constexpr size_t kMaxOpenFiles = 256;

  FileSource(std::string name, std::vector<std::string> paths, Format format,
             formats::ReadOptions read_options, int64_t batch_size, size_t first_index,
             std::unique_ptr<RecordReader> first, int64_t bytes_total, std::string event_time)
      : name_(std::move(name)),
        first_index_(first_index),
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
      if (index == first_index_ && first_) {
        file.reader = std::move(first_);
      } else {
        auto opened = RecordReader::Open(path, format_, read_options_);
        if (!opened.ok()) {
          // A file that cannot be read is lost input: it fails the run, or is counted.
          if (!read_options_.skip_damaged) return Unreadable(path, opened.status());
          Reject(out, UnreadableFile(path, opened.status()));
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
        // Damage the reader could not get past (its own skips come as dead letters above).
        if (!read_options_.skip_damaged) return batch.status();
        exec::DeadLetter letter;
        letter.reason =
            fmt::format("the rest of the file is unreadable: {}", batch.status().message());
        letter.origin = fmt::format("{}:byte {}", path, file.reader->bytes_read());
        letter.skipped_bytes = std::max<int64_t>(FileSize(path) - file.reader->bytes_read(), 0);
        Reject(out, std::move(letter));
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

  static Status Unreadable(const std::string& path, const Status& error) {
    return Status::IOError(fmt::format(
        "cannot read '{}': {}; set on_unreadable: skip to count unreadable files as dead "
        "letters and read on",
        path, error.message()));
  }

  std::string name_;
  /// The file `first_` reads: the first one that could be opened.
  size_t first_index_;
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
  auto logger = ComponentLogger(fmt::format("source {}", context.name));

  // Every file is opened at start, so that one whose columns differ from the others' is found
  // before the run rather than after the files before it. One that cannot be opened is left to
  // the run, where on_unreadable decides (fail: exit 1 naming it; skip: a dead letter).
  auto schema_error = [&](const Status& error) {
    return config::ConfigError(options.LocationOf("path"), error.message());
  };
  std::unique_ptr<RecordReader> first;
  size_t first_index = 0;
  Status first_error;
  for (; first_index < paths.size(); ++first_index) {
    auto opened = RecordReader::Open(paths[first_index], format, read_options);
    if (opened.ok()) {
      first = *std::move(opened);
      break;
    }
    // A schema that does not fit the data (TypeError) is an error whatever on_unreadable says.
    if (opened.status().IsTypeError()) return schema_error(opened.status());
    if (first_error.ok()) first_error = opened.status();
  }
  if (!first) {
    return config::ConfigError(
        options.LocationOf("path"),
        paths.size() == 1
            ? fmt::format("cannot read '{}' as {}: {}", paths.front(), formats::FormatName(format),
                          first_error.message())
            : fmt::format("none of the {} files matching '{}' can be read as {}: {}", paths.size(),
                          pattern, formats::FormatName(format), first_error.message()));
  }
  for (const auto& warning : first->warnings()) logger->warn("{}", warning);
  // The later files: their own fields, against the schema of the first (declared or inferred).
  formats::ReadOptions probe = read_options;
  probe.schema = first->schema();
  probe.missing_fields_null = true;
  const std::vector<std::string> first_fields = first->input_fields();
  arrow::FieldVector added;  // columns only later files have, with missing_fields: null
  for (size_t i = first_index + 1; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    auto opened = RecordReader::Open(path, format, probe);
    if (!opened.ok()) {
      if (opened.status().IsTypeError()) return schema_error(opened.status());
      continue;
    }
    for (const auto& warning : (*opened)->warnings()) {
      if (warning.find("missing_fields") == std::string::npos) logger->warn("{}", warning);
    }
    std::vector<std::string> fields = (*opened)->input_fields();
    if (fields.empty() && first_fields.empty()) continue;  // JSON lines: no header
    std::vector<std::string> missing;
    std::vector<std::string> extra;
    const auto wanted = read_options.schema ? read_options.schema->field_names() : first_fields;
    for (const auto& field : wanted)
      if (std::find(fields.begin(), fields.end(), field) == fields.end()) missing.push_back(field);
    if (!read_options.schema) {
      for (const auto& field : fields)
        if (std::find(first_fields.begin(), first_fields.end(), field) == first_fields.end())
          extra.push_back(field);
    }
    if (missing.empty() && extra.empty()) continue;
    std::string differences;
    if (!missing.empty()) differences = fmt::format("it lacks {}", fmt::join(missing, ", "));
    if (!extra.empty())
      differences +=
          fmt::format("{}it adds {}", differences.empty() ? "" : " and ", fmt::join(extra, ", "));
    const std::string against = read_options.schema
                                    ? "the declared schema"
                                    : fmt::format("'{}', the first file", paths[first_index]);
    if (!read_options.missing_fields_null) {
      return config::ConfigError(
          options.LocationOf("path"),
          fmt::format("the columns of '{}' differ from {}: {}", path, against, differences),
          "make the files agree, or set missing_fields: null to read the columns a file lacks "
          "as null");
    }
    logger->warn(
        "the columns of '{}' differ from {}: {}; read as null where missing "
        "(missing_fields: null)",
        path, against, differences);
    if (extra.empty()) continue;
    // Types of the added columns come from the file that has them.
    formats::ReadOptions own = read_options;
    own.schema = nullptr;
    auto reader = RecordReader::Open(path, format, own);
    if (!reader.ok()) return schema_error(reader.status());
    for (const auto& field : extra) {
      bool known = std::any_of(added.begin(), added.end(),
                               [&](const auto& other) { return other->name() == field; });
      if (!known) added.push_back((*reader)->schema()->GetFieldByName(field));
    }
  }
  if (!added.empty()) {
    // The columns of every file: the first file is read again as the union.
    arrow::FieldVector fields = first->schema()->fields();
    fields.insert(fields.end(), added.begin(), added.end());
    formats::ReadOptions united = read_options;
    united.schema = arrow::schema(std::move(fields));
    united.missing_fields_null = true;
    SLUICE_ASSIGN_OR_RAISE(first, RecordReader::Open(paths[first_index], format, united));
  }
  int64_t bytes_total = 0;
  for (const auto& path : paths) bytes_total += FileSize(path);
  std::string event_time;
  if (options.Has("event_time")) event_time = options.GetSection("event_time").GetString("field");
  return std::make_unique<FileSource>(context.name, std::move(paths), format,
                                      std::move(read_options), batch_size, first_index,
                                      std::move(first), bytes_total, std::move(event_time));
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
      "memory. Records that cannot be decoded become dead letters with their file and line; "
      "damaged "
      "input (a span that cannot be decoded, a file that cannot be opened) fails the run or, "
      "with on_unreadable: skip, is skipped alone and counted. Every file of a glob is checked "
      "at start against the schema and the first file's columns (see missing_fields).";
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
      // Regular files, and links to nothing: a match that cannot be read is reported when it
      // is read, not silently left out.
      std::error_code error;
      const std::filesystem::path match(matches.gl_pathv[i]);
      if (std::filesystem::is_regular_file(match, error) ||
          (std::filesystem::is_symlink(match, error) && !std::filesystem::exists(match, error)))
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
