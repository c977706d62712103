#include "sluice/connectors/file/file_source.h"

#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <fmt/format.h>
#include <glob.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>

#include "sluice/common/logging.h"
#include "sluice/config/location.h"
#include "sluice/common/file_system.h"
#include "sluice/connectors/file/file_columns.h"
#include "sluice/connectors/file/file_position.h"
#include "sluice/connectors/file/file_watch.h"
#include "sluice/connectors/file/input_files.h"
#include "sluice/connectors/file/format_options.h"
#include "sluice/connectors/stdio/stdin_source.h"
#include "sluice/exec/source_positions.h"
#include "sluice/exec/time.h"
#include "sluice/formats/format.h"
#include "sluice/formats/record_reader.h"
#include "sluice/formats/utf8_text.h"

namespace sluice::connectors {
namespace {

using formats::Format;
using formats::RecordReader;

/// The dead letter of a file that cannot be read at all, with on_unreadable: skip.
exec::DeadLetter UnreadableFile(const std::string& path, int64_t size, const Status& error) {
  exec::DeadLetter letter;
  letter.reason = fmt::format("the file cannot be read: {}", error.message());
  letter.origin = path;
  letter.skipped_bytes = size;
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
///
/// Checkpoints: the position lists every file of the glob with its partition, whether it is
/// done, and how many rows of it were delivered (with the file's size and modification time).
/// A restored source does not read a done file again, and passes over the delivered rows of a
/// file it was in the middle of: it reads them again without delivering them or raising their
/// dead letters. A row count rather than a byte offset, because not every reader can resume
/// exactly at a byte (CSV and JSON lines infer types from the first block and number lines from
/// the start, Parquet reads whole row groups), while a row count is exact for all of them; it
/// costs decoding again the read part of the files that were open. A file that changed since
/// is an error when it was partly read, a warning when it was done. Files new to the glob get
/// partitions of their own.
///
/// Watching (`watch:`): after the files of the start the glob is listed again and again, and each
/// new complete file (CompletionCheck) is added with a partition of its own and read as the
/// others were. Files are identified by their path: a path read once is never read again. The
/// finished files are in the position; without checkpoints a state file keeps them between runs.
/// `on_done` acts on a file once what was read from it is safe: with checkpoints, once the file
/// is done in a completed checkpoint; without, when the run has ended and the sinks have
/// published (TakeSafeFiles()).
///
/// progress() may be called from any thread, and PositionAfter() and OnBatchesDone() from the
/// pipeline's while Run() goes on.
class FileSource final : public exec::Source {
 public:
  /// How many files of a glob are open at once when they are read side by side.
  static constexpr size_t kMaxOpenFiles = 256;

  /// With `keep_positions`, the position after every push is kept for PositionAfter().
  FileSource(std::string name, InputFiles inputs, Format format,
             formats::ReadOptions read_options, int64_t batch_size, size_t first_index,
             std::unique_ptr<RecordReader> first, std::shared_ptr<arrow::Schema> schema,
             int64_t bytes_total, std::string event_time, std::shared_ptr<spdlog::logger> logger,
             bool keep_positions, std::string pattern, std::optional<WatchOptions> watch,
             std::set<std::string> state_done)
      : name_(std::move(name)),
        first_index_(first_index),
        inputs_(std::move(inputs)),
        paths_(inputs_.paths()),
        format_(format),
        read_options_(std::move(read_options)),
        batch_size_(batch_size),
        first_(std::move(first)),
        schema_(std::move(schema)),
        bytes_total_(bytes_total),
        event_time_index_(event_time.empty() ? -1 : schema_->GetFieldIndex(event_time)),
        logger_(std::move(logger)),
        keep_positions_(keep_positions),
        partitions_(paths_.size()),
        files_(paths_.size()),
        answered_(paths_.size()),
        pattern_(std::move(pattern)),
        watch_(std::move(watch)),
        state_done_(std::move(state_done)),
        answered_paths_(paths_) {
    read_options_.schema = schema_;
    std::iota(partitions_.begin(), partitions_.end(), 0);
    next_partition_ = static_cast<int32_t>(paths_.size());
    for (size_t i = 0; i < paths_.size(); ++i) {
      answered_[i].path = formats::EscapeInvalidUtf8(paths_[i]);
      answered_[i].partition = partitions_[i];
    }
    known_.insert(paths_.begin(), paths_.end());
    known_.insert(state_done_.begin(), state_done_.end());
  }

  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  bool bounded() const override { return !watch_.has_value(); }

  Status Run(exec::SourceOutput& out) override {
    std::vector<int32_t> assigned = partitions_;
    for (const auto& file : gone_) assigned.push_back(file.partition);
    out.AssignPartitions(assigned);
    // After a restore: files done before the checkpoint stay done, and the ones it left partly
    // read are opened and moved past the rows delivered before (side by side they count as
    // started, as they did).
    for (const auto& file : gone_) out.EndPartition(file.partition);
    for (size_t i = 0; i < paths_.size(); ++i) {
      if (files_[i].done) {
        if (i == first_index_) first_.reset();
        out.EndPartition(partitions_[i]);
      } else if (files_[i].skip > 0) {
        SLUICE_ASSIGN_OR_RAISE(bool opened, Open(i, out));
        (void)opened;  // a restored file that cannot be opened is an error
      }
    }
    // Files done in the checkpoint restored from are safe: on_done may act on them now.
    if (watch_) FinishFiles(std::exchange(restored_done_, {}));
    SLUICE_RETURN_NOT_OK(ReadFiles(0, out));
    if (!watch_) return Status::OK();
    return Watch(out);
  }

  /// Reads files `begin` and after to their ends (or until the run stops).
  Status ReadFiles(size_t begin, exec::SourceOutput& out) {
    if (event_time_index_ < 0) {
      for (size_t i = begin; i < paths_.size(); ++i) {
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
    std::vector<size_t> open;
    size_t started = 0;
    for (size_t i = begin; i < paths_.size(); ++i) {
      if (files_[i].done) continue;
      open.push_back(i);
      if (files_[i].reader != nullptr) ++started;
    }
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

  /// Lists the glob every `watch.interval` (sooner when a file may have become complete) and
  /// reads the new complete files, until the run stops. A listing that fails (the server is
  /// away) is reported once and tried again.
  Status Watch(exec::SourceOutput& out) {
    CompletionCheck check(*watch_);
    bool listing_fails = false;
    while (Sleep(out, check.NextCheckIn())) {
      auto listing = InputFiles::Expand(pattern_);
      if (!listing.ok()) {
        if (!listing_fails) {
          logger_->warn("cannot list '{}': {}; trying again", pattern_,
                        listing.status().message());
        }
        listing_fails = true;
        continue;
      }
      if (listing_fails) logger_->info("listing '{}' works again", pattern_);
      listing_fails = false;
      check.Keep(std::set<std::string>(listing->paths().begin(), listing->paths().end()));
      const size_t begin = paths_.size();
      for (size_t i = 0; i < listing->size(); ++i) {
        const std::string& path = listing->paths()[i];
        if (known_.count(path) > 0 || HiddenFromWatch(path)) continue;
        if (check.Complete(path, listing->Stamp(i), listing->Modified(i))) AddFile(*listing, i);
      }
      if (paths_.size() == begin) continue;
      logger_->info("{} new file(s) matching '{}'", paths_.size() - begin, pattern_);
      // Every earlier file has ended: the new ones are the partitions now.
      out.AssignPartitions(std::vector<int32_t>(partitions_.begin() + begin, partitions_.end()));
      SLUICE_RETURN_NOT_OK(ReadFiles(begin, out));
    }
    return Status::OK();
  }

  /// Waits `duration`, waking up for a stop request; false when the run stops.
  static bool Sleep(exec::SourceOutput& out, std::chrono::milliseconds duration) {
    const auto end = std::chrono::steady_clock::now() + duration;
    while (!out.stopping()) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= end) return true;
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(end - now, std::chrono::milliseconds(50)));
    }
    return false;
  }

  /// Adds file `index` of a later listing, with a partition no file had.
  void AddFile(const InputFiles& listing, size_t index) {
    const std::string& path = listing.paths()[index];
    inputs_.Append(listing, index);
    known_.insert(path);
    files_.emplace_back();
    partitions_.push_back(next_partition_++);
    FilePosition position;
    position.path = formats::EscapeInvalidUtf8(path);
    position.partition = partitions_.back();
    std::lock_guard<std::mutex> lock(answered_mutex_);
    answered_.push_back(std::move(position));
    answered_paths_.push_back(path);
  }

  exec::SourceProgress progress() const override {
    if (watch_) return {bytes_done_.load() + current_bytes_.load(), std::nullopt};
    return {bytes_done_.load() + current_bytes_.load(), bytes_total_};
  }

  void OnBatchesDone(int64_t batches, bool end_of_run) override {
    (void)batches;
    if (watch_) FinishFiles(TakeSafeFiles(end_of_run));
  }

  bool checkpointable() const override { return true; }

  Result<std::string> PositionAfter(int64_t batches) override {
    if (!keep_positions_) {
      return Status::Invalid("the file source keeps positions only in a pipeline with checkpoint:");
    }
    std::lock_guard<std::mutex> lock(answered_mutex_);
    for (auto& [key, progress] : positions_.TakeThrough(batches)) {
      FilePosition& file = answered_[progress.index];
      file.rows = progress.rows;
      file.latest = progress.latest;
      file.done = progress.done;
      file.stamp = progress.stamp;
      if (!progress.done) answered_batches_ = key;
      if (progress.done && watch_) done_in_answer_.push_back(answered_paths_[progress.index]);
    }
    if (answered_batches_ != batches) {
      return Status::Invalid("source '", name_, "' has no position after batch ", batches,
                             " (the last one recorded is after batch ", answered_batches_, ")");
    }
    std::vector<FilePosition> files = answered_;
    files.insert(files.end(), gone_.begin(), gone_.end());
    return EncodeFilePositions(files);
  }

  Status RestorePosition(const std::string& position) override {
    SLUICE_ASSIGN_OR_RAISE(std::vector<FilePosition> saved, DecodeFilePositions(position));
    std::map<std::string, size_t> index_of;
    for (size_t i = 0; i < paths_.size(); ++i) index_of[answered_[i].path] = i;
    std::vector<bool> listed(paths_.size(), false);
    int32_t next_partition = 0;
    for (const FilePosition& file : saved) {
      next_partition = std::max(next_partition, file.partition + 1);
      auto found = index_of.find(file.path);
      if (found == index_of.end()) {
        if (file.done) {
          // A watching source's on_done moves or deletes files once they are checkpointed.
          if (!watch_ || watch_->on_done == OnDone::kKeep) {
            logger_->warn("'{}' was read whole before the checkpoint and is gone since",
                          file.path);
          }
          gone_.push_back(file);
        } else if (file.rows > 0) {
          return ChangedSinceCheckpoint(file.path, file.rows, "it is gone");
        }
        continue;  // never started: nothing of it was read
      }
      const size_t index = found->second;
      if (file.done || file.rows > 0) {
        const FileStamp now = inputs_.Stamp(index);
        if (now != file.stamp && !file.done) {
          return ChangedSinceCheckpoint(
              file.path, file.rows,
              !now.known() ? "it cannot be examined"
              : now.size != file.stamp.size
                  ? fmt::format("its size went from {} to {} bytes", file.stamp.size, now.size)
                  : "it was modified");
        }
        if (now != file.stamp && file.stamp.known()) {
          logger_->warn("'{}' was read whole before the checkpoint and has changed since; it is "
                        "not read again",
                        file.path);
        }
      }
      listed[index] = true;
      if (file.done) restored_done_.push_back(paths_[index]);
      answered_[index] = file;
      partitions_[index] = file.partition;
      OpenFile& open = files_[index];
      open.rows = file.rows;
      open.latest = file.latest;
      open.stamp = file.stamp;
      open.done = file.done;
      if (file.done) {
        bytes_done_ += inputs_.Size(index);
      } else {
        open.skip = file.rows;
      }
    }
    // Files new to the glob: numbers no file of the checkpoint had.
    for (size_t i = 0; i < paths_.size(); ++i) {
      if (listed[i]) continue;
      partitions_[i] = next_partition++;
      answered_[i].partition = partitions_[i];
    }
    next_partition_ = next_partition;
    for (const auto& file : gone_) known_.insert(file.path);
    answered_batches_ = 0;
    return Status::OK();
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
    /// Rows delivered before the checkpoint this source was restored from, to pass over when
    /// the file is opened.
    int64_t skip = 0;
    /// The file when it was opened (or when the checkpoint was taken).
    FileStamp stamp;
  };

  /// Where one file stands after a push or when it ended, kept for PositionAfter().
  struct Progress {
    size_t index = 0;
    int64_t rows = 0;
    exec::Timestamp latest = exec::kMinTimestamp;
    bool done = false;
    FileStamp stamp;
  };

  Progress ProgressOf(size_t index) const {
    const OpenFile& file = files_[index];
    return {index, file.rows, file.latest, file.done, file.stamp};
  }

  /// Opens file `index` and, after a restore, passes over the rows delivered before; false when
  /// it cannot be opened and on_unreadable: skip made that a dead letter.
  Result<bool> Open(size_t index, exec::SourceOutput& out) {
    OpenFile& file = files_[index];
    const std::string& path = paths_[index];
    // A restored file keeps the stamp it was checked against.
    if (file.skip == 0) file.stamp = inputs_.Stamp(index);
    if (index == first_index_ && first_) {
      file.reader = std::move(first_);
    } else {
      auto opened = inputs_.Open(index, format_, read_options_);
      if (!opened.ok()) {
        if (file.skip > 0) {
          return ChangedSinceCheckpoint(
              path, file.skip, fmt::format("it cannot be read: {}", opened.status().message()));
        }
        // A file that cannot be read is lost input: it fails the run, or is counted.
        if (!read_options_.skip_damaged) return Unreadable(path, opened.status());
        Reject(out, UnreadableFile(path, inputs_.Size(index), opened.status()));
        return EndFile(index, inputs_.Size(index), out);
      }
      file.reader = *std::move(opened);
    }
    if (file.skip > 0) SLUICE_RETURN_NOT_OK(PassDelivered(index));
    return true;
  }

  /// Reads the rows of file `index` delivered before the checkpoint again, without delivering
  /// them; the dead letters met on the way were raised before, and are dropped.
  Status PassDelivered(size_t index) {
    OpenFile& file = files_[index];
    std::vector<exec::DeadLetter> raised_before;
    while (file.skip > 0) {
      raised_before.clear();
      auto batch = file.reader->Next(&raised_before);
      if (!batch.ok()) {
        return ChangedSinceCheckpoint(
            paths_[index], file.rows,
            fmt::format("it cannot be read: {}", batch.status().message()));
      }
      if (*batch == nullptr) {
        return ChangedSinceCheckpoint(paths_[index], file.rows, "it ends before that row");
      }
      current_bytes_ += file.reader->bytes_read() - file.bytes_read;
      file.bytes_read = file.reader->bytes_read();
      const int64_t passed = std::min(file.skip, (*batch)->num_rows());
      file.batch = *std::move(batch);
      file.offset = passed;
      file.skip -= passed;
    }
    return Status::OK();
  }

  /// Delivers the next batch of file `index`; false when the file has ended (or the run is
  /// stopping).
  Result<bool> ReadNext(size_t index, exec::SourceOutput& out) {
    OpenFile& file = files_[index];
    const std::string& path = paths_[index];
    if (out.stopping()) return false;
    if (file.reader == nullptr && !file.done) {
      SLUICE_ASSIGN_OR_RAISE(bool opened, Open(index, out));
      if (!opened) return false;
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
        letter.skipped_bytes = std::max<int64_t>(inputs_.Size(index) - file.reader->bytes_read(), 0);
        Reject(out, std::move(letter));
        return EndFile(index, BytesTotal(index), out);
      }
      // Progress: the files done plus what the open ones have read.
      current_bytes_ += file.reader->bytes_read() - file.bytes_read;
      file.bytes_read = file.reader->bytes_read();
      if (*batch == nullptr) return EndFile(index, BytesTotal(index), out);
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
    const int64_t first_row = file.rows;
    file.rows += slice->num_rows();
    // Recorded before the push: once the batch is in the pipeline's queue, a checkpoint may ask
    // for the position after it. A push that fails ends the run, so the entry is never asked for.
    if (keep_positions_) positions_.Add(pushed_ + 1, ProgressOf(index));
    Status pushed = out.PushFromPartition(slice, partitions_[index], path, first_row);
    if (pushed.IsCancelled()) return false;
    SLUICE_RETURN_NOT_OK(pushed);
    ++pushed_;
    rejected_since_push_ = false;
    return true;
  }

  /// The size of open file `index` for progress: what its reader says, or for a decompressed
  /// stream (whose size is not known in advance) the size of the compressed file.
  int64_t BytesTotal(size_t index) const {
    const int64_t total = files_[index].reader->bytes_total();
    return total >= 0 ? total : inputs_.Size(index);
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
    // The end holds from the last push on, unless dead letters came after it: those are written
    // only with a later batch, so the end belongs to the positions after the next push.
    const int64_t key = rejected_since_push_ ? pushed_ + 1 : pushed_;
    if (keep_positions_) positions_.Add(key, ProgressOf(index));
    if (watch_ && !keep_positions_) {
      std::lock_guard<std::mutex> lock(answered_mutex_);
      ended_.push_back(paths_[index]);
    }
    out.EndPartition(partitions_[index]);
    return false;
  }

  /// The files whose rows have become safe, once each. With checkpoints: the files done in the
  /// last answer (one checkpoint is in flight at a time, and the one that completed made it).
  /// Without: every file that ended, once the run has ended and every sink has published; a
  /// sink may hold accepted rows until it publishes (a part until it rolls), so a file is not
  /// finished before (a crash reads the run's files again: at least once).
  std::vector<std::string> TakeSafeFiles(bool end_of_run) {
    std::lock_guard<std::mutex> lock(answered_mutex_);
    if (keep_positions_) return std::exchange(done_in_answer_, {});
    if (!end_of_run) return {};
    return std::exchange(ended_, {});
  }

  /// Files whose rows are safe: on_done acts on them and, without checkpoints, the state file
  /// remembers them. A failure is reported; the file is not read again either way.
  void FinishFiles(const std::vector<std::string>& paths) {
    if (paths.empty()) return;
    for (const auto& path : paths) {
      Status done = ApplyOnDone(*watch_, path);
      if (!done.ok()) logger_->warn("{} (on_done)", done.message());
    }
    if (keep_positions_) return;
    std::lock_guard<std::mutex> lock(state_mutex_);
    state_done_.insert(paths.begin(), paths.end());
    Status saved = SaveWatchState(watch_->state, state_done_);
    if (!saved.ok()) {
      logger_->warn("cannot write the watch state '{}': {}; a restart reads its files again",
                    watch_->state, saved.message());
    }
  }

  void Reject(exec::SourceOutput& out, exec::DeadLetter letter) {
    rejected_since_push_ = true;
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

  Status ChangedSinceCheckpoint(const std::string& path, int64_t rows,
                                const std::string& change) const {
    return Status::Invalid(fmt::format(
        "source '{}' cannot resume from the checkpoint: '{}' had been read up to row {} and has "
        "changed since ({}); put the file back as it was, or start without the checkpoint",
        name_, path, rows, change));
  }

  std::string name_;
  /// The file `first_` reads: the first one that could be opened.
  size_t first_index_;
  /// The files of the glob, and their paths (or URIs).
  InputFiles inputs_;
  const std::vector<std::string>& paths_;
  Format format_;
  formats::ReadOptions read_options_;
  int64_t batch_size_;
  std::unique_ptr<RecordReader> first_;
  std::shared_ptr<arrow::Schema> schema_;
  int64_t bytes_total_;
  /// The event-time column, or -1 without event time.
  int event_time_index_;
  std::shared_ptr<spdlog::logger> logger_;
  const bool keep_positions_;
  /// The watermark partition of each file: its index, or after a restore the number it had at
  /// the checkpoint (new files get numbers no file had).
  std::vector<int32_t> partitions_;
  std::vector<OpenFile> files_;
  std::atomic<int64_t> bytes_done_{0};
  std::atomic<int64_t> current_bytes_{0};
  /// Batches pushed so far (source thread).
  int64_t pushed_ = 0;
  /// How far each file stands after each push, and where one ended.
  exec::SourcePositions<Progress> positions_;
  /// The position PositionAfter() last answered, one entry per file of paths_, and the batches
  /// it is after (pipeline thread).
  std::vector<FilePosition> answered_;
  int64_t answered_batches_ = 0;
  /// Files a restored checkpoint had read whole that are gone since; kept in later positions so
  /// that they are not read again should they come back.
  std::vector<FilePosition> gone_;
  /// Whether dead letters were raised since the last push (source thread).
  bool rejected_since_push_ = false;

  // Watching.
  std::string pattern_;
  std::optional<WatchOptions> watch_;
  /// The partition the next new file gets (source thread).
  int32_t next_partition_ = 0;
  /// Every path seen as a file to read: listed at start, added since, gone since the
  /// checkpoint, or finished in an earlier run (the state file); never read again.
  std::set<std::string> known_;
  /// Without checkpoints: the finished files the state file lists (under state_mutex_).
  std::mutex state_mutex_;
  std::set<std::string> state_done_;
  /// Files the restored checkpoint had done (before Run()).
  std::vector<std::string> restored_done_;
  /// answered_ and what follows: shared by the source thread (which adds files) and the
  /// pipeline thread (PositionAfter, OnBatchesDone).
  std::mutex answered_mutex_;
  /// The path of each entry of answered_, as listed (answered_ holds them escaped).
  std::vector<std::string> answered_paths_;
  /// With checkpoints: the files that became done in the last answer.
  std::vector<std::string> done_in_answer_;
  /// Without checkpoints: the files that ended.
  std::vector<std::string> ended_;
};

/// The event-time field of the source's options; empty without event time.
std::string EventTimeField(const config::Options& options) {
  if (!options.Has("event_time")) return {};
  return options.GetSection("event_time").GetString("field");
}

Result<std::unique_ptr<exec::Source>> MakeFileSource(const exec::ConnectorContext& context,
                                                     const config::Options& options) {
  std::string pattern = options.GetString("path");
  SLUICE_ASSIGN_OR_RAISE(std::optional<WatchOptions> watch,
                         WatchOptionsFromConfig(options, context.pipeline_file, context.name));
  if (pattern == "-") {
    if (watch) {
      return config::ConfigError(options.LocationOf("watch"),
                                 "watch lists a glob again and again; standard input has none");
    }
    return MakeStdinSource(context, options);
  }
  // Without checkpoints, a watching source remembers the finished files in its state file.
  std::set<std::string> state_done;
  if (watch && !context.checkpoints) {
    auto loaded = LoadWatchState(watch->state);
    if (!loaded.ok()) return config::ConfigError(options.LocationOf("watch"), loaded.status().message());
    state_done = *std::move(loaded);
  }
  auto expanded = InputFiles::Expand(pattern);
  if (!expanded.ok()) return config::ConfigError(options.LocationOf("path"), expanded.status().message());
  InputFiles files = *std::move(expanded);
  if (watch) {
    // The files a watch starts with: those complete now, never finished in an earlier run.
    InputFiles complete;
    CompletionCheck check(*watch);
    for (size_t i = 0; i < files.size(); ++i) {
      const std::string& path = files.paths()[i];
      if (HiddenFromWatch(path) || state_done.count(path) > 0) continue;
      if (check.Complete(path, files.Stamp(i), files.Modified(i))) complete.Append(files, i);
    }
    files = std::move(complete);
  }
  const std::vector<std::string>& paths = files.paths();
  SLUICE_ASSIGN_OR_RAISE(formats::ReadOptions read_options, ReadOptionsFromConfig(options));
  if (paths.empty() && watch) {
    // Nothing to read yet: the columns must be declared.
    if (read_options.schema == nullptr) {
      return config::ConfigError(
          options.LocationOf("path"),
          fmt::format("no complete file matches '{}' yet, so its columns are not known", pattern),
          "declare them with schema: {...}, so that the pipeline can start before the first "
          "file arrives");
    }
    SLUICE_ASSIGN_OR_RAISE(Format format,
                           FormatFromOptions(options, WithoutCompressionSuffix(pattern)));
    auto schema = read_options.schema;
    const int64_t batch_size = read_options.batch_rows;
    return std::make_unique<FileSource>(
        context.name, std::move(files), format, std::move(read_options), batch_size, SIZE_MAX, nullptr, std::move(schema), 0, EventTimeField(options),
        ComponentLogger(fmt::format("source {}", context.name)), context.checkpoints,
        std::move(pattern), std::move(watch), std::move(state_done));
  }
  if (paths.empty()) {
    return config::ConfigError(
        options.LocationOf("path"), fmt::format("no file matches '{}'", pattern),
        files.remote() || IsUri(pattern)
            ? "a glob over a bucket matches object keys: * and ? stay within one level of /"
            : fmt::format("paths are relative to the working directory ({})",
                          std::filesystem::current_path().string()));
  }
  SLUICE_ASSIGN_OR_RAISE(Format format,
                         FormatFromOptions(options, WithoutCompressionSuffix(paths.front())));
  int64_t batch_size = read_options.batch_rows;
  auto logger = ComponentLogger(fmt::format("source {}", context.name));

  SLUICE_ASSIGN_OR_RAISE(FirstFile first_file,
                         OpenCheckingColumns(files, format, read_options, pattern, options, *logger));
  std::unique_ptr<RecordReader> first = std::move(first_file.reader);
  const size_t first_index = first_file.index;
  int64_t bytes_total = 0;
  for (size_t i = 0; i < files.size(); ++i) bytes_total += files.Size(i);
  auto schema = first->schema();
  return std::make_unique<FileSource>(
      context.name, std::move(files), format, std::move(read_options), batch_size, first_index,
      std::move(first), std::move(schema), bytes_total, EventTimeField(options),
      std::move(logger), context.checkpoints, std::move(pattern), std::move(watch),
      std::move(state_done));
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
      "a URI such as s3://bucket/prefix/*.parquet or file:///data/x.csv reads through that "
      "filesystem (a bucket is listed by prefix, each object read in ranges); CSV and JSON lines "
      "ending in .gz or .zst are decompressed as they are read; - reads standard input, as the "
      "stdin source does.");
  path.required = true;
  spec.options = {path, FormatOptionSpec("The file format; inferred from the extension when "
                                         "left out (and required for -).")};
  for (auto& option : ReadFormatOptionSpecs()) spec.options.push_back(std::move(option));
  spec.options.push_back(WatchOptionSpec());
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
  // `s3` is the same source, for users who look for it by that name.
  config::PluginSpec s3 = FileSourceSpec();
  s3.name = "s3";
  s3.doc = "The file source under another name: reads s3:// URIs (and local paths) as the file "
           "source does. Endpoint and credentials come from storage: {s3: ...} or the AWS "
           "environment.";
  s3.example =
      "sources:\n"
      "  events:\n"
      "    connector: s3\n"
      "    path: s3://lake/events/2026-*/part-*.parquet\n";
  registry->AddSource(std::move(s3), MakeFileSource);
}

}  // namespace sluice::connectors
