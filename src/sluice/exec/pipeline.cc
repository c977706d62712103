#include "sluice/exec/pipeline.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <thread>

#include "sluice/common/byte_size.h"
#include "sluice/common/logging.h"
#include "sluice/exec/bounded_queue.h"

namespace sluice::exec {
namespace {

/// Micro-batches in flight between the sources and the pipeline thread. With the default batch
/// size this bounds queued input to a few hundred thousand rows, whatever the sinks' speed.
constexpr size_t kQueueCapacity = 4;

/// How often the pipeline thread wakes without input, to move watermarks on by the clock.
constexpr std::chrono::milliseconds kTick{100};

/// How many dead letters are logged when the pipeline has no dead-letter sink.
constexpr int64_t kDeadLettersLogged = 20;

/// What travels from a source thread to the pipeline thread, in order.
struct QueueItem {
  enum class Kind { kBatch, kEnd, kAssign, kEndPartition, kNamePartition };
  Kind kind = Kind::kBatch;
  size_t source = 0;
  /// For a source with several streams: which one the batch belongs to.
  size_t stream = 0;
  std::shared_ptr<arrow::RecordBatch> batch;
  /// For a batch of a partitioned source: the partition of each row.
  std::shared_ptr<arrow::Int32Array> partitions;
  /// For kAssign: the partitions now assigned; for kEndPartition: the one that ended.
  std::vector<int32_t> partition_ids;
  /// For a batch wholly from one partition (PushFromPartition): that partition, else -1.
  int32_t partition = -1;
  /// For a batch from PushFromPartition: the file its rows came from and the first one's row.
  std::string origin;
  int64_t first_row = 0;
  /// For a batch from PushPartitionedAt: each row's offset in its partition.
  std::shared_ptr<arrow::Int64Array> offsets;
};

Result<std::shared_ptr<arrow::RecordBatch>> ConformTo(
    const std::shared_ptr<arrow::RecordBatch>& batch,
    const std::shared_ptr<arrow::Schema>& schema) {
  if (batch->schema()->Equals(*schema, /*check_metadata=*/false)) return batch;
  std::vector<std::shared_ptr<arrow::Array>> columns;
  columns.reserve(schema->num_fields());
  for (const auto& field : schema->fields()) {
    auto column = batch->GetColumnByName(field->name());
    if (column == nullptr) {
      SLUICE_ASSIGN_OR_RAISE(column, arrow::MakeArrayOfNull(field->type(), batch->num_rows()));
    } else if (!column->type()->Equals(*field->type())) {
      return Status::TypeError("field '", field->name(), "' arrived as ",
                               column->type()->ToString(), ", expected ",
                               field->type()->ToString());
    }
    columns.push_back(std::move(column));
  }
  return arrow::RecordBatch::Make(schema, batch->num_rows(), std::move(columns));
}

}  // namespace

/// The SourceOutput a source thread writes to: forwards batches into the pipeline's queue.
class Pipeline::SourceChannel final : public SourceOutput {
 public:
  SourceChannel(Pipeline* pipeline, size_t index, BoundedQueue<QueueItem>* queue)
      : pipeline_(pipeline), index_(index), queue_(queue) {}

  Status Push(std::shared_ptr<arrow::RecordBatch> batch) override {
    return PushPartitioned(std::move(batch), nullptr);
  }

  Status PushPartitioned(std::shared_ptr<arrow::RecordBatch> batch,
                         std::shared_ptr<arrow::Int32Array> partitions) override {
    return Enqueue(
        QueueItem{QueueItem::Kind::kBatch, index_, 0, std::move(batch), std::move(partitions), {}});
  }

  Status PushPartitionedAt(std::shared_ptr<arrow::RecordBatch> batch,
                           std::shared_ptr<arrow::Int32Array> partitions,
                           std::shared_ptr<arrow::Int64Array> offsets) override {
    QueueItem item{QueueItem::Kind::kBatch, index_, 0, std::move(batch), std::move(partitions), {}};
    item.offsets = std::move(offsets);
    return Enqueue(std::move(item));
  }

  void NamePartition(int32_t partition, std::string name) override {
    QueueItem item{QueueItem::Kind::kNamePartition, index_, 0, nullptr, nullptr, {partition}};
    item.origin = std::move(name);
    queue_->Push(std::move(item));
  }

  Status PushFromPartition(std::shared_ptr<arrow::RecordBatch> batch, int32_t partition,
                           std::string origin, int64_t first_row) override {
    QueueItem item{QueueItem::Kind::kBatch, index_, 0, std::move(batch), nullptr, {}};
    item.partition = partition;
    item.origin = std::move(origin);
    item.first_row = first_row;
    return Enqueue(std::move(item));
  }

  Status PushStream(size_t stream, std::shared_ptr<arrow::RecordBatch> batch) override {
    if (stream >= pipeline_->source_streams_[index_].size()) {
      return Status::Invalid("source '", pipeline_->source_names_[index_], "' has no stream ",
                             stream);
    }
    return Enqueue(
        QueueItem{QueueItem::Kind::kBatch, index_, stream, std::move(batch), nullptr, {}});
  }

  bool WaitForRoom(std::chrono::milliseconds timeout) override {
    if (stopping()) return true;
    return queue_->WaitForRoom(timeout);
  }

  void AssignPartitions(std::vector<int32_t> partitions) override {
    queue_->Push(
        QueueItem{QueueItem::Kind::kAssign, index_, 0, nullptr, nullptr, std::move(partitions)});
  }

  void EndPartition(int32_t partition) override {
    queue_->Push(
        QueueItem{QueueItem::Kind::kEndPartition, index_, 0, nullptr, nullptr, {partition}});
  }

  void Reject(DeadLetter letter) override {
    if (letter.source.empty()) letter.source = pipeline_->source_names_[index_];
    if (letter.stage.empty()) letter.stage = "source";
    // A record the source could not decode was read all the same: it counts as a row in, so
    // that rows in = rows out + filtered + dead letters. A damaged span is counted apart, in
    // the rows and bytes it skipped.
    if (letter.skipped_rows == 0 && letter.skipped_bytes == 0) ++pipeline_->rows_in_;
    pipeline_->dead_letters_.Add(std::move(letter));
  }

  bool stopping() const override { return pipeline_->stop_requested_.load(); }

 private:
  /// Queues a batch, unless it is empty or the run is stopping.
  Status Enqueue(QueueItem item) {
    if (stopping()) return Status::Cancelled("the pipeline is stopping");
    if (item.batch == nullptr || item.batch->num_rows() == 0) return Status::OK();
    if (!queue_->Push(std::move(item))) return Status::Cancelled("the pipeline is stopping");
    return Status::OK();
  }

  Pipeline* pipeline_;
  size_t index_;
  BoundedQueue<QueueItem>* queue_;
};

bool Pipeline::bounded() const {
  for (const auto& source : sources_) {
    if (!source->bounded()) return false;
  }
  return true;
}

RunProgress Pipeline::progress() const {
  RunProgress progress;
  progress.rows_in = rows_in_.load();
  progress.rows_out = rows_out_.load();
  progress.dead_letters = dead_letters_.total();
  int64_t total = 0;
  bool total_known = true;
  for (const auto& source : sources_) {
    SourceProgress source_progress = source->progress();
    progress.bytes_read += source_progress.bytes_read;
    if (source_progress.bytes_total) {
      total += *source_progress.bytes_total;
    } else {
      total_known = false;
    }
  }
  if (total_known && !sources_.empty()) progress.bytes_total = total;
  const Timestamp watermark = progress_watermark_.load();
  if (!processor_context_.event_time_field.empty() && watermark != kMinTimestamp &&
      watermark != kMaxTimestamp) {
    progress.watermark = watermark;
  }
  return progress;
}

Status Pipeline::RunStageIsolating(Stage& stage, size_t port, const std::string& source,
                                   const std::shared_ptr<arrow::RecordBatch>& batch,
                                   const RowOrigins& origins, Emitter& out) {
  CollectingEmitter attempt;
  const size_t letters_before = dead_letters_.pending();
  // Rows behind their partition's watermark are late against it (LatenessWatermarks).
  row_watermarks_ = origins.RowWatermarks(batch->num_rows());
  Status status = stage.processor->ProcessInput(port, batch, attempt);
  row_watermarks_.clear();
  // Rows the stage rejected (late, without event time) get the origin the stage cannot know.
  dead_letters_.Locate(letters_before, [&](DeadLetter& letter) {
    if (letter.stage.empty()) letter.stage = stage.id;
    if (letter.source.empty()) letter.source = source;
    if (letter.origin.empty() && letter.row >= 0) letter.origin = origins.Describe(letter.row);
  });
  if (status.ok()) {
    for (auto& emitted : attempt.batches()) SLUICE_RETURN_NOT_OK(out.Emit(std::move(emitted)));
    return Status::OK();
  }
  if (status.IsCancelled() || status.IsOutOfMemory()) return status;
  // Only a row-wise step gives the same rows on slices of a batch: any other one (a rank, a
  // limit, a group) would give fragments of a result, so its error fails the run.
  if (!stage.processor->row_wise())
    return status.WithMessage("step '", stage.id, "' failed: ", status.message());
  if (batch->num_rows() <= 1) {
    if (batch->num_rows() == 1) {
      dead_letters_.Add(DeadLetter{status.message(), stage.id, source, origins.Describe(0),
                                   RowToJson(*batch, 0)});
    }
    return Status::OK();
  }
  // Bisect: the bad rows are found in O(bad * log(rows)) calls and the good ones go on.
  int64_t half = batch->num_rows() / 2;
  SLUICE_RETURN_NOT_OK(RunStageIsolating(stage, port, source, batch->Slice(0, half), origins, out));
  return RunStageIsolating(stage, port, source, batch->Slice(half), origins.Slice(half), out);
}

Status Pipeline::Deliver(size_t stream, std::vector<std::shared_ptr<arrow::RecordBatch>> batches,
                         const std::string& source, RowOrigins origins) {
  if (batches.empty()) return Status::OK();
  if (batches.size() != 1) origins = origins.WithoutRows();
  for (const auto& batch : batches) stream_rows_delivered_[stream] += batch->num_rows();
  // Rows a stage emits on its own (a fired window) are named by the stream they are on.
  const std::string& from = source.empty() ? streams_[stream].name : source;
  for (const Consumer& consumer : streams_[stream].consumers) {
    switch (consumer.kind) {
      case Consumer::Kind::kSink:
        for (const auto& batch : batches) SLUICE_RETURN_NOT_OK(WriteSink(consumer.index, batch));
        break;
      case Consumer::Kind::kUnion: {
        std::vector<std::shared_ptr<arrow::RecordBatch>> conformed;
        for (const auto& batch : batches) {
          SLUICE_ASSIGN_OR_RAISE(auto one, ConformTo(batch, streams_[consumer.index].schema));
          conformed.push_back(std::move(one));
        }
        SLUICE_RETURN_NOT_OK(Deliver(consumer.index, std::move(conformed), from, origins));
        break;
      }
      case Consumer::Kind::kStage: {
        Stage& stage = stages_[consumer.index];
        int64_t rows_before = batches.size() == 1 ? batches[0]->num_rows() : -1;
        CollectingEmitter next;
        for (const auto& batch : batches) {
          stage_rows_in_[consumer.index] += batch->num_rows();
          SLUICE_RETURN_NOT_OK(RunStageIsolating(stage, consumer.port, from, batch, origins, next));
        }
        // Rows stay traceable through stages that keep them in place and through filters.
        RowOrigins next_origins = origins.WithoutRows();
        if (batches.size() == 1 && next.batches().size() == 1) {
          const Processor& processor = *stage.processor;
          if (processor.preserves_rows() && next.batches()[0]->num_rows() == rows_before) {
            next_origins = origins;
          } else if (processor.filters_rows()) {
            auto kept = processor.kept_rows();
            next_origins = kept == nullptr ? origins : origins.Select(std::move(kept));
          }
        }
        SLUICE_RETURN_NOT_OK(
            Deliver(stage.output, std::move(next.batches()), from, std::move(next_origins)));
        break;
      }
    }
  }
  if (streams_[stream].feeds_sinks) {
    for (const auto& batch : batches) rows_out_ += batch->num_rows();
  }
  return Status::OK();
}

Status Pipeline::WriteSink(size_t sink, const std::shared_ptr<arrow::RecordBatch>& batch) {
  NamedSink& named = sinks_[sink];
  if (batch->num_rows() == 0 || named.reader_gone) return Status::OK();
  Status status = named.sink->Write(batch);
  if (ReaderGone(status)) {
    // `| head` has what it wanted: that output ends, the others go on.
    named.reader_gone = true;
    ComponentLogger(name_)->warn(
        "sink '{}': its reader closed the pipe after {} rows; it writes no more, the other "
        "sinks go on",
        named.name, sink_rows_[sink]);
    if (std::all_of(sinks_.begin(), sinks_.end(),
                    [](const NamedSink& each) { return each.reader_gone; })) {
      stop_requested_.store(true);  // nothing left to write to
    }
    return Status::OK();
  }
  if (!status.ok()) return status.WithMessage("sink '", named.name, "': ", status.message());
  sink_rows_[sink] += batch->num_rows();
  return Status::OK();
}

Status Pipeline::CommitSinks(const InputDone& done) {
  for (auto& named : sinks_) {
    if (named.reader_gone) continue;
    Status status = named.sink->Commit(done);
    if (!status.ok()) return status.WithMessage("sink '", named.name, "': ", status.message());
  }
  return Status::OK();
}

Status Pipeline::CloseAndPublishSinks(Status failure) {
  // Close every sink first: a sink's output is published only once all of them completed.
  for (auto& named : sinks_) {
    if (!failure.ok()) break;
    Status status = named.sink->Close();
    if (ReaderGone(status)) {
      named.reader_gone = true;
    } else if (!status.ok()) {
      failure = status.WithMessage("sink '", named.name, "': ", status.message());
    }
  }
  if (failure.ok() && dead_letter_sink_ != nullptr) {
    Status status = dead_letter_sink_->Close();
    if (!status.ok()) failure = status.WithMessage("dead-letter sink: ", status.message());
  }
  if (!failure.ok()) {
    AbortSinks();
    return failure;
  }
  for (auto& named : sinks_) {
    Status status = named.sink->Publish();
    if (!status.ok()) return status.WithMessage("sink '", named.name, "': ", status.message());
  }
  if (dead_letter_sink_ != nullptr) {
    Status status = dead_letter_sink_->Publish();
    if (!status.ok()) return status.WithMessage("dead-letter sink: ", status.message());
  }
  return Status::OK();
}

void Pipeline::AbortSinks() {
  for (auto& named : sinks_) named.sink->Abort();
  if (dead_letter_sink_ != nullptr) dead_letter_sink_->Abort();
}

Status Pipeline::WriteDeadLetters() {
  std::vector<DeadLetter> letters = dead_letters_.Drain();
  if (letters.empty()) return Status::OK();
  CountDeadLetters(letters);
  if (dead_letter_sink_ != nullptr) {
    SLUICE_ASSIGN_OR_RAISE(auto batch, DeadLettersToBatch(letters));
    return dead_letter_sink_->Write(batch);
  }
  auto logger = ComponentLogger(name_);
  for (const auto& letter : letters) {
    if (dead_letters_logged_ < kDeadLettersLogged) {
      logger->warn("dead letter from {} ({}{}{}): {}; record: {}", letter.source, letter.stage,
                   letter.origin.empty() ? "" : ", ", letter.origin, letter.reason, letter.record);
    } else if (dead_letters_logged_ == kDeadLettersLogged) {
      logger->warn("more dead letters are not shown; configure 'dead_letters' to keep them all");
    }
    ++dead_letters_logged_;
  }
  return Status::OK();
}

Status Pipeline::ProcessBatch(size_t source, size_t source_stream,
                              std::shared_ptr<arrow::RecordBatch> batch,
                              std::shared_ptr<arrow::Int32Array> partitions, int32_t partition,
                              std::string origin, int64_t first_row,
                              std::shared_ptr<arrow::Int64Array> offsets) {
  ++batches_;
  rows_in_ += batch->num_rows();
  source_rows_[source] += batch->num_rows();
  const size_t stream = source_streams_[source][source_stream];
  const std::string& name = streams_[stream].name;
  // Rows are named by their file when the source says which, else by their row in the stream.
  RowOrigins origins = offsets != nullptr && partitions != nullptr
                           ? RowOrigins(partitions, offsets, &clocks_[source].partition_names)
                       : origin.empty() ? RowOrigins("", stream_rows_[stream])
                                        : RowOrigins(std::move(origin), first_row);
  stream_rows_[stream] += batch->num_rows();
  SLUICE_ASSIGN_OR_RAISE(batch, ConformTo(batch, streams_[stream].schema));
  if (streams_[stream].event_time_index < 0) {
    clocks_[source].partitions[partitions == nullptr ? partition : -1].last_data =
        std::chrono::steady_clock::now();
    SLUICE_RETURN_NOT_OK(Deliver(stream, {std::move(batch)}, name, std::move(origins)));
    return AdvanceWatermark();
  }
  SLUICE_ASSIGN_OR_RAISE(batch, CheckEventTimes(stream, &origins, std::move(batch), &partitions));
  if (batch->num_rows() == 0) return Status::OK();
  return DeliverInOrder(source, stream, batch, partitions.get(), partition, origins);
}

Status Pipeline::DeliverInOrder(size_t source, size_t stream,
                                const std::shared_ptr<arrow::RecordBatch>& batch,
                                const arrow::Int32Array* partitions, int32_t partition,
                                RowOrigins origins) {
  SourceClock& clock = clocks_[source];
  const auto& column =
      static_cast<const arrow::TimestampArray&>(*batch->column(streams_[stream].event_time_index));
  const Timestamp* times = column.raw_values();
  const int64_t rows = batch->num_rows();
  const Timestamp delay = clock.delay_us;
  const auto now = std::chrono::steady_clock::now();
  const std::string& name = streams_[stream].name;
  auto partition_of = [&](int64_t row) {
    return partitions == nullptr ? partition
                                 : (partitions->IsNull(row) ? -1 : partitions->Value(row));
  };
  // One running maximum per partition finds the rows that are behind: earlier than the watermark
  // formed by the rows before them in their partition (their latest time minus the delay). Such
  // a row's watermark is kept for the stages (LatenessWatermarks), so that whether it is late
  // depends neither on where the source cut its batches nor on how far other partitions have
  // got. The maxima are kept apart from the clocks until the batch is delivered.
  std::vector<Timestamp> watermarks;  // made at the first row behind
  std::map<int32_t, Timestamp> latest;
  {
    int32_t current_id = 0;
    Timestamp* current = nullptr;
    for (int64_t row = 0; row < rows; ++row) {
      const int32_t id = partition_of(row);
      if (current == nullptr || id != current_id) {
        PartitionClock& clock_of = clock.partitions[id];
        clock_of.last_data = now;
        current = &latest.try_emplace(id, clock_of.max_event).first->second;
        current_id = id;
      }
      if (*current != kMinTimestamp && times[row] < *current - delay) {
        if (watermarks.empty()) watermarks.assign(static_cast<size_t>(rows), kMinTimestamp);
        watermarks[row] = *current - delay;
      }
      *current = std::max(*current, times[row]);
    }
  }
  if (watermarks.empty()) {
    // The common case: no row is behind, and the batch goes on whole.
    for (const auto& [id, time] : latest) clock.partitions[id].max_event = time;
    SLUICE_RETURN_NOT_OK(Deliver(stream, {batch}, name, origins));
    return AdvanceWatermark();
  }
  // Before each run of behind rows, the rows before it are delivered and the watermark they form
  // is applied, as if the batch had been cut there: for a source with one partition, the stages'
  // own watermark then equals the row's, so that even state that only the stages' watermark
  // frees (the windows of a sliding window a row is partly late for) is the same as with one row
  // per batch. Cuts happen only where the watermark actually moves.
  origins = origins.WithWatermarks(watermarks);
  int64_t start = 0;
  bool previous_behind = false;
  int32_t current_id = 0;
  PartitionClock* current = nullptr;
  for (int64_t row = 0; row < rows; ++row) {
    const int32_t id = partition_of(row);
    if (current == nullptr || id != current_id) {
      current = &clock.partitions[id];
      current_id = id;
    }
    const bool is_behind = watermarks[row] != kMinTimestamp;
    if (is_behind && !previous_behind && row > start) {
      std::optional<Timestamp> next = ComputeWatermark();
      if (next && *next > watermark_) {
        SLUICE_RETURN_NOT_OK(
            Deliver(stream, {batch->Slice(start, row - start)}, name, origins.Slice(start)));
        SLUICE_RETURN_NOT_OK(AdvanceWatermark());
        start = row;
      }
    }
    current->max_event = std::max(current->max_event, times[row]);
    previous_behind = is_behind;
  }
  SLUICE_RETURN_NOT_OK(
      Deliver(stream, {start == 0 ? batch : batch->Slice(start)}, name, origins.Slice(start)));
  return AdvanceWatermark();
}

Result<std::shared_ptr<arrow::RecordBatch>> Pipeline::CheckEventTimes(
    size_t stream, RowOrigins* origins, std::shared_ptr<arrow::RecordBatch> batch,
    std::shared_ptr<arrow::Int32Array>* partitions) {
  const int column = streams_[stream].event_time_index;
  const auto& times = static_cast<const arrow::TimestampArray&>(*batch->column(column));
  // One vectorised pass decides; only the (rare) bad rows are looked at one by one.
  arrow::compute::Expression time = arrow::compute::field_ref(column);
  auto earliest = arrow::compute::literal(arrow::TimestampScalar(kEarliestEventTime, times.type()));
  auto latest = arrow::compute::literal(arrow::TimestampScalar(kLatestEventTime, times.type()));
  auto usable = arrow::compute::and_({arrow::compute::is_valid(time),
                                      arrow::compute::greater_equal(time, earliest),
                                      arrow::compute::less_equal(time, latest)});
  SLUICE_ASSIGN_OR_RAISE(usable, usable.Bind(*batch->schema()));
  SLUICE_ASSIGN_OR_RAISE(arrow::Datum mask, arrow::compute::ExecuteScalarExpression(
                                                usable, arrow::compute::ExecBatch(*batch)));
  auto flags = std::static_pointer_cast<arrow::BooleanArray>(mask.make_array());
  if (flags->null_count() == 0 && flags->true_count() == batch->num_rows()) return batch;
  for (int64_t row = 0; row < batch->num_rows(); ++row) {
    if (flags->IsValid(row) && flags->Value(row)) continue;
    std::string reason = times.IsNull(row)
                             ? "missing event time"
                             : "absurd event time " + FormatTimestamp(times.Value(row));
    dead_letters_.Add(DeadLetter{std::move(reason), "source", streams_[stream].name,
                                 origins->Describe(row), RowToJson(*batch, row)});
  }
  auto drop = arrow::compute::FilterOptions(arrow::compute::FilterOptions::DROP);
  if (*partitions != nullptr) {
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum kept_ids, arrow::compute::Filter(*partitions, flags, drop));
    *partitions = std::static_pointer_cast<arrow::Int32Array>(kept_ids.make_array());
  }
  *origins = origins->Select(flags);
  SLUICE_ASSIGN_OR_RAISE(arrow::Datum kept, arrow::compute::Filter(batch, flags, drop));
  return kept.record_batch();
}

std::optional<Timestamp> Pipeline::ComputeWatermark() const {
  auto now = std::chrono::steady_clock::now();
  Timestamp candidate = kMaxTimestamp;
  bool all_ended = true;
  bool any_active = false;
  for (const auto& clock : clocks_) {
    if (clock.ended) continue;
    all_ended = false;
    if (!clock.has_event_time) {
      any_active = true;
      continue;
    }
    // A source's watermark is the minimum over its partitions that are not idle. A partition
    // that has delivered nothing holds it back (kMinTimestamp) unless idleness releases it.
    for (const auto& [id, partition] : clock.partitions) {
      bool idle = clock.idle_timeout.count() > 0 && now - partition.last_data > clock.idle_timeout;
      if (idle) continue;
      any_active = true;
      Timestamp watermark = partition.max_event == kMinTimestamp
                                ? kMinTimestamp
                                : partition.max_event - clock.delay_us;
      candidate = std::min(candidate, watermark);
    }
  }
  if (!all_ended && !any_active) return std::nullopt;  // every live source is idle: hold
  if (processor_context_.event_time_field.empty() && !all_ended) {
    // Ingest time: the watermark is the wall clock.
    candidate = WallClockNow();
  }
  return candidate;
}

void Pipeline::ApplyRestoredClock(SourceClock& clock, int32_t id) {
  if (clock.restored_by_name.empty()) return;
  auto name = clock.partition_names.find(id);
  if (name == clock.partition_names.end()) return;
  auto restored = clock.restored_by_name.find(name->second);
  if (restored == clock.restored_by_name.end()) return;
  auto [partition, added] = clock.partitions.try_emplace(id);
  if (added) partition->second.last_data = std::chrono::steady_clock::now();
  partition->second.max_event = std::max(partition->second.max_event, restored->second);
}

Status Pipeline::AdvanceWatermark() {
  std::optional<Timestamp> candidate = ComputeWatermark();
  if (!candidate || *candidate <= watermark_) return Status::OK();
  watermark_ = *candidate;
  return PropagateWatermark(*candidate);
}

Status Pipeline::PropagateWatermark(Timestamp watermark) {
  progress_watermark_.store(watermark);
  for (size_t i = 0; i < stages_.size(); ++i) {
    CollectingEmitter fired;
    SLUICE_RETURN_NOT_OK(stages_[i].processor->OnWatermark(watermark, fired));
    SLUICE_RETURN_NOT_OK(Deliver(stages_[i].output, std::move(fired.batches()), "", RowOrigins()));
  }
  SampleState();
  return Status::OK();
}

void Pipeline::SampleState() {
  int64_t bytes = 0;
  for (const auto& stage : stages_) bytes += stage.processor->state_bytes();
  peak_state_bytes_ = std::max(peak_state_bytes_, bytes);
}

Status Pipeline::CheckStateLimit() const {
  int64_t total = 0;
  const Stage* largest = nullptr;
  int64_t largest_bytes = -1;
  for (const auto& stage : stages_) {
    const int64_t bytes = stage.processor->state_bytes();
    total += bytes;
    if (bytes > largest_bytes) {
      largest = &stage;
      largest_bytes = bytes;
    }
  }
  if (total <= max_state_ || largest == nullptr) return Status::OK();
  std::string where = max_state_where_.known() ? "max_state" : "the default max_state";
  return Status::CapacityError(fmt::format(
      "step '{}' ({}) holds {} of state ({} with the other steps), more than {} ({}); it would "
      "grow until the machine runs out of memory. Raise max_state, or bound the state: "
      "shorter windows, a ttl on dedup, cdc and aggregate, fewer keys",
      largest->id, largest->state_id, FormatByteSize(largest_bytes), FormatByteSize(total), where,
      FormatByteSize(max_state_)));
}

Result<RunSummary> Pipeline::Run() {
  auto started = std::chrono::steady_clock::now();
  auto logger = ComponentLogger(name_);
  for (size_t i = 0; i < sinks_.size(); ++i) {
    Status status = sinks_[i].sink->Open(streams_[sink_inputs_[i]].schema);
    if (!status.ok()) return status.WithMessage("sink '", sinks_[i].name, "': ", status.message());
  }
  if (dead_letter_sink_ != nullptr)
    SLUICE_RETURN_NOT_OK(dead_letter_sink_->Open(DeadLetterSchema()));

  RunSummary summary;
  if (checkpoints_ != nullptr) {
    Status recovered = Recover(&summary);
    if (!recovered.ok()) {
      AbortSinks();
      return recovered;
    }
  }

  stream_rows_.assign(streams_.size(), 0);
  sink_rows_.assign(sinks_.size(), 0);
  StartMetrics();
  // However the run ends (a failure returns early), /ready must say it is no longer running.
  struct MarkStopped {
    PipelineMetrics* metrics;
    ~MarkStopped() { metrics->SetRunning(false); }
  } mark_stopped{metrics_.get()};
  // Batches of each source processed, written and acknowledged (Source::OnBatchesDone).
  std::vector<int64_t> batches_done(sources_.size(), 0);
  BoundedQueue<QueueItem> queue(kQueueCapacity);
  std::vector<std::unique_ptr<SourceChannel>> channels;
  std::vector<Status> source_status(sources_.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < sources_.size(); ++i) {
    channels.push_back(std::make_unique<SourceChannel>(this, i, &queue));
    threads.emplace_back([this, i, &queue, &channels, &source_status] {
      Status status = sources_[i]->Run(*channels[i]);
      if (!status.ok() && !status.IsCancelled()) {
        source_status[i] = status;
        stop_requested_.store(true);
      }
      queue.Push(QueueItem{QueueItem::Kind::kEnd, i, 0, nullptr, nullptr, {}});
    });
  }

  Status failure;
  size_t active = sources_.size();
  auto started_clock = std::chrono::steady_clock::now();
  // Until a source says otherwise, it is one partition that has delivered nothing yet.
  for (auto& clock : clocks_) clock.partitions[-1].last_data = started_clock;
  auto queue_fill = [&queue] {
    return static_cast<double>(queue.size()) / static_cast<double>(kQueueCapacity);
  };
  PublishMetrics(queue_fill(), /*running=*/true);
  while (active > 0) {
    bool timed_out = false;
    std::optional<QueueItem> item = queue.PopFor(kTick, &timed_out);
    if (!failure.ok()) {
      // Drain, so that sources blocked in Push() can finish.
      if (item && item->kind == QueueItem::Kind::kEnd) --active;
      continue;
    }
    if (timed_out) {
      failure =
          AdvanceWatermark();  // idle sources, and ingest-time windows, move on with the clock
      if (failure.ok()) failure = WriteDeadLetters();
      if (failure.ok() && checkpoints_ != nullptr) failure = MaybeCheckpoint(batches_done);
      if (!failure.ok()) stop_requested_.store(true);
      PublishMetrics(queue_fill(), /*running=*/true);
      continue;
    }
    if (!item) break;
    SourceClock& clock = clocks_[item->source];
    switch (item->kind) {
      case QueueItem::Kind::kEnd:
        --active;
        // A source that ends because the run was interrupted has not reached the end of its
        // input: it must not release the windows it holds open.
        if (!interrupted_.load()) {
          clock.ended = true;
          failure = AdvanceWatermark();
        }
        break;
      case QueueItem::Kind::kAssign: {
        std::map<int32_t, PartitionClock> assigned;
        for (int32_t id : item->partition_ids) {
          auto known = clock.partitions.find(id);
          assigned[id] = known != clock.partitions.end()
                             ? known->second
                             : PartitionClock{kMinTimestamp, started_clock};
          if (known == clock.partitions.end())
            assigned[id].last_data = std::chrono::steady_clock::now();
        }
        clock.partitions = std::move(assigned);
        for (int32_t id : item->partition_ids) ApplyRestoredClock(clock, id);
        failure = AdvanceWatermark();
        break;
      }
      case QueueItem::Kind::kNamePartition:
        clock.partition_names[item->partition_ids.front()] = std::move(item->origin);
        ApplyRestoredClock(clock, item->partition_ids.front());
        break;
      case QueueItem::Kind::kEndPartition:
        clock.partitions.erase(item->partition_ids.front());
        failure = AdvanceWatermark();
        break;
      case QueueItem::Kind::kBatch: {
        const auto batch_started = std::chrono::steady_clock::now();
        failure = ProcessBatch(item->source, item->stream, std::move(item->batch),
                               std::move(item->partitions), item->partition,
                               std::move(item->origin), item->first_row, std::move(item->offsets));
        SampleState();
        if (failure.ok()) failure = CheckStateLimit();
        if (failure.ok()) failure = WriteDeadLetters();
        ++batches_done[item->source];
        // With checkpoints, output is committed and input acknowledged per checkpoint instead.
        if (failure.ok() && checkpoints_ == nullptr) {
          failure = CommitSinks(
              InputDone{sources_[item->source].get(), batches_done[item->source], false});
          if (failure.ok())
            sources_[item->source]->OnBatchesDone(batches_done[item->source], false);
        }
        metrics_work_.batch_duration.Observe(std::chrono::duration<double>(
            std::chrono::steady_clock::now() - batch_started).count());
        break;
      }
    }
    if (failure.ok()) failure = WriteDeadLetters();
    if (failure.ok() && checkpoints_ != nullptr) failure = MaybeCheckpoint(batches_done);
    if (!failure.ok()) stop_requested_.store(true);
    PublishMetrics(queue_fill(), /*running=*/true);
  }
  queue.Close();
  for (auto& thread : threads) thread.join();
  for (size_t i = 0; i < sources_.size(); ++i) {
    if (!source_status[i].ok() && failure.ok()) {
      failure = source_status[i].WithMessage("source '", source_names_[i],
                                             "': ", source_status[i].message());
    }
  }
  const bool stopped = stop_requested_.load() && failure.ok();
  const bool interrupted = interrupted_.load() && failure.ok();
  if (!failure.ok() && checkpoints_ != nullptr) SettleCheckpoint();
  if (interrupted && checkpoints_ != nullptr) {
    // Stopped with checkpoints: nothing is discarded. A last checkpoint keeps the state of the
    // open windows and where each source stood, and commits what was written, so that the next
    // run continues exactly here.
    summary.interrupted = bounded();
    failure = FinalCheckpoint(batches_done, /*finished=*/false);
    SLUICE_RETURN_NOT_OK(CloseAndPublishSinks(std::move(failure)));
  } else if (interrupted && bounded()) {
    // An interrupted bounded run is incomplete: publishing any of it would replace a complete
    // output by a partial one.
    AbortSinks();
    summary.interrupted = true;
  } else {
    if (interrupted) {
      // A stream stopped: what was processed is committed; the windows that have not closed
      // are not final, so they are dropped, not emitted as if they were.
      for (const auto& stage : stages_) {
        if (int64_t bytes = stage.processor->state_bytes(); bytes > 0)
          summary.discarded_state.emplace_back(stage.id, bytes);
      }
    } else {
      // End of input: a final watermark fires every window, then every stateful stage flushes
      // what it still holds, downstream in order.
      if (failure.ok() && watermark_ != kMaxTimestamp) {
        watermark_ = kMaxTimestamp;
        failure = PropagateWatermark(kMaxTimestamp);
      }
      for (size_t i = 0; i < stages_.size() && failure.ok(); ++i) {
        CollectingEmitter flushed;
        failure = stages_[i].processor->Finish(flushed);
        if (failure.ok())
          failure = Deliver(stages_[i].output, std::move(flushed.batches()), "", RowOrigins());
      }
    }
    if (failure.ok()) failure = WriteDeadLetters();
    if (checkpoints_ != nullptr) {
      if (failure.ok()) failure = FinalCheckpoint(batches_done, /*finished=*/!interrupted);
    } else {
      for (size_t i = 0; i < sources_.size() && failure.ok(); ++i) {
        failure = CommitSinks(InputDone{sources_[i].get(), batches_done[i], true});
      }
      // Rows a sink refused while committing (written again after a lost connection).
      if (failure.ok()) failure = WriteDeadLetters();
    }
    SLUICE_RETURN_NOT_OK(CloseAndPublishSinks(std::move(failure)));
    for (size_t i = 0; i < sources_.size(); ++i) sources_[i]->OnBatchesDone(batches_done[i], true);
  }

  summary.rows_in = rows_in_.load();
  summary.rows_out = rows_out_.load();
  for (size_t i = 0; i < sinks_.size(); ++i)
    summary.sink_rows.emplace_back(sinks_[i].name, sink_rows_[i]);
  summary.dead_letters = dead_letters_.total();
  summary.batches = batches_;
  summary.late = dead_letters_.late();
  summary.skipped_rows = dead_letters_.skipped_rows();
  summary.skipped_bytes = dead_letters_.skipped_bytes();
  summary.peak_state_bytes = peak_state_bytes_;
  for (const auto& stage : stages_) summary.final_state_bytes += stage.processor->state_bytes();
  summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  PublishMetrics(0, /*running=*/false);
  summary.stopped = stopped;
  if (checkpoints_ != nullptr) SummarizeCheckpoints(&summary);
  for (const auto& named : sinks_) {
    if (named.reader_gone) summary.readers_gone.push_back(named.name);
  }
  return summary;
}

}  // namespace sluice::exec
