#include "sluice/connectors/file/rolling_file_sink.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/compute/exec.h>
#include <arrow/compute/row/grouper.h>
#include <arrow/filesystem/filesystem.h>
#include <arrow/io/interfaces.h>
#include <arrow/util/byte_size.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>

#include "sluice/common/file_system.h"
#include "sluice/common/logging.h"
#include "sluice/config/location.h"
#include "sluice/connectors/common/s3_multipart.h"
#include "sluice/connectors/file/output_target.h"
#include "sluice/connectors/file/part_output.h"
#include "sluice/connectors/file/part_template.h"
#include "sluice/connectors/file/pending_parts.h"
#include "sluice/exec/source.h"

namespace sluice::connectors {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

/// The smallest `roll.size`: a smaller part would hold little more than its format's header.
constexpr int64_t kMinimumRollBytes = 1024;

/// When a part is closed; a limit of zero is no limit.
struct RollLimits {
  int64_t bytes = 0;
  int64_t rows = 0;
  Duration interval{0};
};

/// "128MB", "1.5GiB", "4096": bytes, with B, KB, MB, GB and TB (and KiB ... TiB) as powers of
/// 1024, as Fluent Bit and the JVM read them.
Result<int64_t> ParseByteSize(std::string_view text) {
  size_t digits_end = 0;
  while (digits_end < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits_end])) || text[digits_end] == '.')) {
    ++digits_end;
  }
  std::string_view number = text.substr(0, digits_end);
  std::string unit(text.substr(digits_end));
  std::erase(unit, ' ');
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  double value = 0;
  auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || error != std::errc() || end != number.data() + number.size()) {
    return Status::Invalid("'", text, "' is not a size (expected e.g. 512KB, 128MB, 1GB)");
  }
  static const std::map<std::string, int> kExponents = {
      {"", 0},   {"B", 0},    {"K", 1},  {"KB", 1},   {"KIB", 1}, {"M", 2},   {"MB", 2},
      {"MIB", 2}, {"G", 3},   {"GB", 3}, {"GIB", 3},  {"T", 4},   {"TB", 4},  {"TIB", 4}};
  auto exponent = kExponents.find(unit);
  if (exponent == kExponents.end()) {
    return Status::Invalid("'", text, "' has an unknown unit (B, KB, MB, GB or TB)");
  }
  const double bytes = value * std::pow(1024.0, exponent->second);
  if (!std::isfinite(bytes) || bytes > 9.0e18) return Status::Invalid("'", text, "' is too large");
  return static_cast<int64_t>(std::llround(bytes));
}

Result<RollLimits> RollLimitsFromOptions(const config::Options& roll) {
  RollLimits limits;
  if (roll.Has("size")) {
    auto bytes = ParseByteSize(roll.GetString("size"));
    if (!bytes.ok()) {
      return config::ConfigError(roll.LocationOf("size"),
                                 fmt::format("roll.size: {}", bytes.status().message()));
    }
    if (*bytes < kMinimumRollBytes) {
      return config::ConfigError(
          roll.LocationOf("size"),
          fmt::format("roll.size must be at least 1KB (got {})", roll.GetString("size")));
    }
    limits.bytes = *bytes;
  }
  if (roll.Has("rows")) limits.rows = roll.GetInteger("rows");
  if (roll.Has("interval")) limits.interval = roll.GetDuration("interval");
  return limits;
}

/// One part file being written.
struct OpenPart {
  std::unique_ptr<PartOutput> target;
  /// Declared after the target, so that it is destroyed first.
  std::unique_ptr<formats::RecordWriter> writer;
  int64_t rows = 0;
  /// The bytes the file has taken, and the in-memory size of the batches written since that
  /// last grew: a Parquet writer holds a row group in memory until it is complete.
  int64_t position = 0;
  int64_t buffered_bytes = 0;
  Clock::time_point opened;
};

/// Writes rolling part files (see MakeRollingFileSink). Without field placeholders every batch
/// goes to the one open part; with them each batch is grouped by the partition columns (an
/// Arrow Grouper) and each group goes to its partition's open part.
///
/// Parts move from open (being written) to finished (closed, footer written, still under
/// their temporary name or in their unfinished upload, discarded by Abort()) to published
/// (renamed into place, upload completed), or, with checkpoints, to prepared (synced or wholly
/// uploaded, and handed to the checkpoint, which commits or aborts them by their description
/// alone, so they survive Abort() and the process). An s3:// template writes each part as a
/// multipart upload to its key (PartOutput). Pipeline thread only.
class RollingFileSink final : public exec::Sink {
 public:
  RollingFileSink(std::string name, PartTemplate path, std::string bucket, formats::Format format,
                  formats::WriteOptions write_options, RollLimits limits)
      : logger_(ComponentLogger(fmt::format("sink {}", name))),
        template_(std::move(path)),
        bucket_(std::move(bucket)),
        format_(format),
        write_options_(write_options),
        limits_(limits) {}

  Status Open(const std::shared_ptr<arrow::Schema>& schema) override {
    SLUICE_ASSIGN_OR_RAISE(field_indices_, template_.Bind(*schema));
    if (!bucket_.empty()) {
      SLUICE_ASSIGN_OR_RAISE(client_, S3MultipartClient::Make(bucket_));
    }
    schema_ = schema;
    if (field_indices_.empty()) {
      whole_ = template_.Fill({});
    } else {
      std::vector<arrow::TypeHolder> key_types;
      for (int index : field_indices_) key_types.emplace_back(schema->field(index)->type());
      SLUICE_ASSIGN_OR_RAISE(grouper_, arrow::compute::Grouper::Make(key_types));
    }
    // Part ids go on after every part already there (and every temporary one), so that a new
    // run never replaces the parts of an earlier one.
    int64_t highest = 0;
    if (client_ != nullptr) {
      SLUICE_ASSIGN_OR_RAISE(highest, HighestObjectPart());
    } else {
      template_.FindFiles([&highest](const PartTemplate::Found& found) {
        highest = std::max(highest, found.part_id);
      });
    }
    next_part_ = std::max(next_part_, highest + 1);
    return Status::OK();
  }

  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    if (schema_ == nullptr) return Status::Invalid("file sink: Write() before Open()");
    if (!strays_removed_) {
      // Without checkpoints nothing else removes the parts of killed runs. (With them,
      // recovery keeps those a checkpoint holds and removes the rest before the first write.)
      SLUICE_RETURN_NOT_OK(RemoveStrays({}));
    }
    if (batch->num_rows() == 0) return Status::OK();
    if (field_indices_.empty()) return WritePartition(whole_, whole_part_, batch);
    return WritePartitioned(batch);
  }

  Status Commit(const exec::InputDone& done) override {
    if (done.source != nullptr && !done.source->bounded()) unbounded_ = true;
    SLUICE_RETURN_NOT_OK(FinishParts(/*aged_only=*/true));
    // An unbounded run has no end at which to publish: a part is published once it is rolled.
    if (!unbounded_ || checkpointing_) return Status::OK();
    return PublishFinished();
  }

  Status Close() override { return FinishParts(/*aged_only=*/false); }

  Status Publish() override { return PublishFinished(); }

  void Abort() override {
    auto discard = [](std::unique_ptr<OpenPart>& part) {
      if (part == nullptr) return;
      part->writer.reset();
      part->target->Abort();
      part.reset();
    };
    discard(whole_part_);
    for (auto& [key, part] : open_) discard(part);
    open_.clear();
    for (auto& target : finished_) target->Abort();
    finished_.clear();
  }

  exec::CheckpointRole checkpoint_role() const override {
    return exec::CheckpointRole::kTwoPhase;
  }

  Result<std::string> PrepareCheckpoint(int64_t id) override {
    (void)id;
    checkpointing_ = true;
    SLUICE_RETURN_NOT_OK(FinishParts(/*aged_only=*/false));
    std::vector<PendingPart> parts;
    for (const auto& target : finished_) {
      SLUICE_ASSIGN_OR_RAISE(PendingPart part, target->Prepare());
      parts.push_back(std::move(part));
    }
    for (auto& target : finished_) target->Release();
    finished_.clear();
    prepared_.insert(prepared_.end(), parts.begin(), parts.end());
    return PendingParts{prepared_, next_part_}.ToJson();
  }

  Status CommitCheckpoint(int64_t id, const std::string& pending) override {
    checkpointing_ = true;
    strays_removed_ = true;  // recovery calls RemoveStrays() itself, with what to keep
    SLUICE_ASSIGN_OR_RAISE(PendingParts parts, PendingParts::FromJson(pending));
    // One sync per directory, after all its renames.
    std::map<std::string, std::string> directories;
    for (const auto& part : parts.parts) {
      SLUICE_RETURN_NOT_OK(CommitPendingPart(part, client_.get()));
      if (!part.is_object()) {
        directories.emplace(fs::path(part.final_path).parent_path().string(), part.final_path);
      }
    }
    for (const auto& [directory, file] : directories) SLUICE_RETURN_NOT_OK(SyncDirectoryOf(file));
    Forget(parts);
    logger_->debug("checkpoint {}: committed {} part files", id,
                                   parts.parts.size());
    return Status::OK();
  }

  Status AbortCheckpoint(int64_t id, const std::string& pending) override {
    (void)id;
    checkpointing_ = true;
    strays_removed_ = true;
    SLUICE_ASSIGN_OR_RAISE(PendingParts parts, PendingParts::FromJson(pending));
    for (const auto& part : parts.parts) {
      SLUICE_RETURN_NOT_OK(AbortPendingPart(part, client_.get()));
    }
    Forget(parts);
    return Status::OK();
  }

  Status RemoveStrays(const std::vector<std::string>& keep) override {
    strays_removed_ = true;
    std::set<std::string> kept;
    for (const auto& description : keep) {
      SLUICE_ASSIGN_OR_RAISE(PendingParts parts, PendingParts::FromJson(description));
      for (const auto& part : parts.parts) kept.insert(part.Identity());
    }
    for (const auto& part : prepared_) kept.insert(part.Identity());
    for (const auto& target : finished_) kept.insert(target->Identity());
    if (whole_part_ != nullptr) kept.insert(whole_part_->target->Identity());
    for (const auto& [key, part] : open_) kept.insert(part->target->Identity());
    if (client_ != nullptr) return AbortStrayUploads(kept);
    Status status;
    template_.FindFiles([&](const PartTemplate::Found& found) {
      if (!found.writer || !WriterGone(*found.writer) ||
          kept.count(PendingPart{found.path, {}}.Identity())) {
        return;
      }
      std::error_code error;
      if (fs::remove(found.path, error)) {
        logger_->info("removed '{}', a part file left by a killed run", found.path);
      } else if (error && status.ok()) {
        status = Status::IOError(fmt::format("cannot remove '{}': {}", found.path,
                                             error.message()));
      }
    });
    return status;
  }

 private:
  Status WritePartitioned(const std::shared_ptr<arrow::RecordBatch>& batch) {
    std::vector<arrow::Datum> keys;
    for (int index : field_indices_) keys.emplace_back(batch->column(index));
    arrow::compute::ExecBatch key_batch(std::move(keys), batch->num_rows());
    SLUICE_RETURN_NOT_OK(grouper_->Reset());
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum ids,
                           grouper_->Consume(arrow::compute::ExecSpan(key_batch)));
    SLUICE_ASSIGN_OR_RAISE(arrow::compute::ExecBatch uniques, grouper_->GetUniques());
    const uint32_t groups = grouper_->num_groups();
    // Each partition value as text, for the path.
    std::vector<std::shared_ptr<arrow::LargeStringArray>> texts;
    arrow::compute::CastOptions cast_options = arrow::compute::CastOptions::Safe();
    cast_options.allow_invalid_utf8 = true;  // binary values: EscapePathValue escapes the bytes
    for (const auto& unique : uniques.values) {
      SLUICE_ASSIGN_OR_RAISE(arrow::Datum text,
                             arrow::compute::Cast(unique, arrow::large_utf8(), cast_options));
      texts.push_back(std::static_pointer_cast<arrow::LargeStringArray>(text.make_array()));
    }
    std::shared_ptr<arrow::ListArray> groupings;
    if (groups > 1) {
      SLUICE_ASSIGN_OR_RAISE(groupings, arrow::compute::Grouper::MakeGroupings(
                                            *ids.array_as<arrow::UInt32Array>(), groups));
    }
    std::vector<std::optional<std::string_view>> values(texts.size());
    for (uint32_t group = 0; group < groups; ++group) {
      for (size_t field = 0; field < texts.size(); ++field) {
        values[field] = texts[field]->IsNull(group)
                            ? std::nullopt
                            : std::optional<std::string_view>(texts[field]->GetView(group));
      }
      PartTemplate::Partition names = template_.Fill(values);
      std::shared_ptr<arrow::RecordBatch> rows = batch;
      if (groups > 1) {
        SLUICE_ASSIGN_OR_RAISE(arrow::Datum taken,
                               arrow::compute::Take(batch, groupings->value_slice(group)));
        rows = taken.record_batch();
      }
      std::string key = names.before_part + '\0' + names.after_part;
      auto& part = open_[key];
      Status status = WritePartition(names, part, rows);
      if (part == nullptr) open_.erase(key);
      SLUICE_RETURN_NOT_OK(status);
    }
    return Status::OK();
  }

  /// Writes `batch` to the open part of one partition (`part`, null when none is open),
  /// starting parts as needed and splitting the batch at `roll.rows`.
  Status WritePartition(const PartTemplate::Partition& names, std::unique_ptr<OpenPart>& part,
                        const std::shared_ptr<arrow::RecordBatch>& batch) {
    const int64_t rows = batch->num_rows();
    for (int64_t offset = 0; offset < rows;) {
      if (part != nullptr && Aged(*part)) SLUICE_RETURN_NOT_OK(FinishPart(part));
      if (part == nullptr) {
        SLUICE_ASSIGN_OR_RAISE(part, StartPart(names.Path(next_part_++)));
      }
      int64_t take = rows - offset;
      if (limits_.rows > 0) take = std::min(take, limits_.rows - part->rows);
      SLUICE_RETURN_NOT_OK(WriteToPart(*part, take == rows ? batch : batch->Slice(offset, take)));
      offset += take;
      if (Full(*part)) SLUICE_RETURN_NOT_OK(FinishPart(part));
    }
    return Status::OK();
  }

  Result<std::unique_ptr<OpenPart>> StartPart(const std::string& path) {
    auto part = std::make_unique<OpenPart>();
    SLUICE_ASSIGN_OR_RAISE(part->target, PartOutput::Start(path, client_.get()));
    auto writer =
        formats::RecordWriter::Open(part->target->stream(), format_, schema_, write_options_);
    if (!writer.ok()) return DescribeWriteError(writer.status(), "write", path);
    part->writer = *std::move(writer);
    part->opened = Clock::now();
    return part;
  }

  Status WriteToPart(OpenPart& part, const std::shared_ptr<arrow::RecordBatch>& batch) {
    SLUICE_RETURN_NOT_OK(
        DescribeWriteError(part.writer->Write(*batch), "write", part.target->final_path()));
    part.rows += batch->num_rows();
    auto position = part.target->stream()->Tell();
    if (position.ok() && *position > part.position) {
      part.position = *position;
      part.buffered_bytes = 0;
    } else {
      auto bytes = arrow::util::ReferencedBufferSize(*batch);
      part.buffered_bytes += bytes.ok() ? *bytes : 0;
    }
    return Status::OK();
  }

  bool Aged(const OpenPart& part) const {
    return limits_.interval.count() > 0 && Clock::now() - part.opened >= limits_.interval;
  }

  bool Full(const OpenPart& part) const {
    return (limits_.rows > 0 && part.rows >= limits_.rows) ||
           (limits_.bytes > 0 && part.position + part.buffered_bytes >= limits_.bytes) ||
           Aged(part);
  }

  /// Closes `part` (its writer writes the footer) and keeps it as finished.
  Status FinishPart(std::unique_ptr<OpenPart>& part) {
    Status closed = part->writer->Close();
    std::unique_ptr<PartOutput> target = std::move(part->target);
    part.reset();
    if (!closed.ok()) return DescribeWriteError(closed, "write", target->final_path());
    finished_.push_back(std::move(target));
    return Status::OK();
  }

  /// Finishes every open part, or only those older than `roll.interval`.
  Status FinishParts(bool aged_only) {
    if (whole_part_ != nullptr && (!aged_only || Aged(*whole_part_)))
      SLUICE_RETURN_NOT_OK(FinishPart(whole_part_));
    for (auto it = open_.begin(); it != open_.end();) {
      if (aged_only && !Aged(*it->second)) {
        ++it;
        continue;
      }
      Status status = FinishPart(it->second);
      it = open_.erase(it);
      SLUICE_RETURN_NOT_OK(status);
    }
    return Status::OK();
  }

  /// Renames every finished part into place, in the order they were finished.
  Status PublishFinished() {
    size_t published = 0;
    Status status;
    for (; published < finished_.size() && status.ok(); ++published)
      status = finished_[published]->Publish();
    finished_.erase(finished_.begin(), finished_.begin() + published);
    return status;
  }

  /// Drops the parts of a committed or aborted checkpoint from those this sink holds, and
  /// continues the part ids after the checkpoint's.
  void Forget(const PendingParts& parts) {
    std::set<std::string> done;
    for (const auto& part : parts.parts) done.insert(part.Identity());
    std::erase_if(prepared_,
                  [&done](const PendingPart& part) { return done.count(part.Identity()) > 0; });
    next_part_ = std::max(next_part_, parts.next_part);
  }

  /// The key prefix before the template's first placeholder, in the bucket (s3:// only).
  std::string KeyPrefix() const { return template_.FixedPrefix().substr(5 + bucket_.size() + 1); }

  /// The highest part id among the objects and the uploads in progress the template could have
  /// made, so that a new run never overwrites the parts of an earlier one.
  Result<int64_t> HighestObjectPart() {
    int64_t highest = 0;
    const std::string prefix = template_.FixedPrefix();
    SLUICE_ASSIGN_OR_RAISE(FileLocation location, ResolveUri(prefix));
    arrow::fs::FileSelector selector;
    const size_t slash = location.path.rfind('/');
    selector.base_dir = location.path.substr(0, slash);
    selector.recursive = true;
    selector.allow_not_found = true;
    auto listed = location.filesystem->GetFileInfo(selector);
    if (!listed.ok()) {
      return Status::IOError(fmt::format("cannot list '{}': {}", prefix, listed.status().message()));
    }
    for (const auto& info : *listed) {
      if (auto id = template_.PartIdOf("s3://" + info.path())) highest = std::max(highest, *id);
    }
    SLUICE_ASSIGN_OR_RAISE(auto uploads, client_->ListUploads(KeyPrefix()));
    for (const auto& upload : uploads) {
      if (auto id = template_.PartIdOf(ObjectUri(upload.key))) highest = std::max(highest, *id);
    }
    return highest;
  }

  /// Aborts the uploads in progress under the template's prefix that it could have made and
  /// that `kept` (part identities) does not name: parts of killed runs, which no checkpoint
  /// holds.
  Status AbortStrayUploads(const std::set<std::string>& kept) {
    SLUICE_ASSIGN_OR_RAISE(auto uploads, client_->ListUploads(KeyPrefix()));
    for (const auto& upload : uploads) {
      const std::string uri = ObjectUri(upload.key);
      PendingPart part;
      part.upload_id = upload.upload_id;
      if (!template_.PartIdOf(uri) || kept.count(part.Identity())) continue;
      SLUICE_RETURN_NOT_OK(client_->Abort(upload.key, upload.upload_id));
      logger_->info("aborted the upload of '{}', left by a run that was killed", uri);
    }
    return Status::OK();
  }

  std::string ObjectUri(const std::string& key) const {
    return fmt::format("s3://{}/{}", bucket_, key);
  }

  const std::shared_ptr<spdlog::logger> logger_;
  const PartTemplate template_;
  /// The bucket of an s3:// template; empty for local paths.
  const std::string bucket_;
  /// Speaks to the bucket (made by Open()); null for local paths.
  std::unique_ptr<S3MultipartClient> client_;
  const formats::Format format_;
  const formats::WriteOptions write_options_;
  const RollLimits limits_;

  std::shared_ptr<arrow::Schema> schema_;
  /// The input columns the template's fields name; empty without partitions.
  std::vector<int> field_indices_;
  std::unique_ptr<arrow::compute::Grouper> grouper_;
  /// Without partitions: the template's one partition and its open part.
  PartTemplate::Partition whole_;
  std::unique_ptr<OpenPart> whole_part_;
  /// With partitions: the open part of each partition, keyed by its filled template.
  std::unordered_map<std::string, std::unique_ptr<OpenPart>> open_;
  /// Closed parts not yet published or prepared, in the order they were closed.
  std::vector<std::unique_ptr<PartOutput>> finished_;
  /// Parts handed to checkpoints that have not been committed yet.
  std::vector<PendingPart> prepared_;
  int64_t next_part_ = 1;
  /// A source of the run is unbounded (seen at Commit()).
  bool unbounded_ = false;
  /// The pipeline takes checkpoints: parts become visible only by CommitCheckpoint().
  bool checkpointing_ = false;
  /// Temporary parts of killed runs were removed, or recovery is in charge of them.
  bool strays_removed_ = false;
};

}  // namespace

config::OptionSpec RollOptionSpec() {
  using config::MakeOption;
  using config::OptionType;
  config::OptionSpec roll = MakeOption(
      "roll", OptionType::kSection,
      "Write a sequence of part files instead of one file. path is then a template: {part} is "
      "the part id, zero-padded and increasing across runs (out/part-{part}.parquet), and "
      "{field} is the value of an input column, one directory per value "
      "(out/date={date}/part-{part}.parquet). A part is closed when any limit is reached, at "
      "each checkpoint and at the end, and becomes visible by rename (on S3, by completing its "
      "multipart upload): with checkpoint, when the checkpoint completes (exactly-once); "
      "without, at the end of a bounded run, or once rolled in an unbounded one.");
  config::OptionSpec size = MakeOption(
      "size", OptionType::kString,
      "Close a part once it holds this many bytes: 512KB, 128MB, 1GB (powers of 1024). "
      "Parquet rows still buffered for their row group count at their in-memory size.");
  size.min = static_cast<double>(kMinimumRollBytes);
  config::OptionSpec interval = MakeOption(
      "interval", OptionType::kDuration,
      "Close a part this long after it was begun (checked as rows arrive and after each input "
      "batch).");
  interval.min = 1;
  config::OptionSpec rows = MakeOption(
      "rows", OptionType::kInteger,
      "Close a part once it holds this many rows; a batch is split so that every part but the "
      "last holds exactly this many.");
  rows.min = 1;
  roll.fields = {size, interval, rows};
  return roll;
}

Result<std::unique_ptr<exec::Sink>> MakeRollingFileSink(
    const exec::ConnectorContext& context, const config::Options& options, formats::Format format,
    const formats::WriteOptions& write_options) {
  SLUICE_ASSIGN_OR_RAISE(RollLimits limits, RollLimitsFromOptions(options.GetSection("roll")));
  SLUICE_ASSIGN_OR_RAISE(PartTemplate path, PartTemplate::Parse(options.GetText("path")));
  // Known before the run in a pipeline, so that `validate` reports a field the input lacks.
  if (context.input_schema != nullptr) SLUICE_RETURN_NOT_OK(path.Bind(*context.input_schema).status());
  std::string bucket;
  const std::string& text = options.GetString("path");
  if (text.starts_with("s3://")) {
    bucket = text.substr(5, text.find('/', 5) - 5);  // PartTemplate::Parse() checked the form
  }
  return std::make_unique<RollingFileSink>(context.name, std::move(path), std::move(bucket),
                                           format, write_options, limits);
}

}  // namespace sluice::connectors
