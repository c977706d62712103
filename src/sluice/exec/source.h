#pragma once

#include <arrow/array.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/exec/dead_letter.h"

namespace sluice::exec {

/// Where a source delivers its micro-batches.
class SourceOutput {
 public:
  virtual ~SourceOutput() = default;

  /// Hands one micro-batch to the pipeline. Blocks while the pipeline's queue is full: this is
  /// how backpressure reaches a source (a file source stops reading, a broker source pauses).
  /// Returns Status::Cancelled when the run is stopping; the source should then return.
  virtual Status Push(std::shared_ptr<arrow::RecordBatch> batch) = 0;

  /// Like Push(), for a partitioned source (Kafka): `partitions[i]` is the partition row i came
  /// from, any stable number the source chooses. The pipeline then keeps a watermark per
  /// partition and the source's watermark is their minimum, so a partition that lags behind
  /// holds the watermark back instead of seeing its rows turn late.
  virtual Status PushPartitioned(std::shared_ptr<arrow::RecordBatch> batch,
                                 std::shared_ptr<arrow::Int32Array> partitions) = 0;

  /// Like PushPartitioned(), with each row's offset in its partition (a Kafka offset), so that
  /// dead letters of later stages name a row `<partition name>@<offset>` (NamePartition()).
  virtual Status PushPartitionedAt(std::shared_ptr<arrow::RecordBatch> batch,
                                   std::shared_ptr<arrow::Int32Array> partitions,
                                   std::shared_ptr<arrow::Int64Array> offsets) {
    (void)offsets;
    return PushPartitioned(std::move(batch), std::move(partitions));
  }

  /// Names a partition for dead-letter origins (`orders/3`: topic and partition), before the
  /// first batch that uses it.
  virtual void NamePartition(int32_t partition, std::string name) {
    (void)partition;
    (void)name;
  }

  /// Like Push(), for a source whose partitions each deliver whole batches (the files of a
  /// glob): every row of `batch` is from `partition`, and row i is row `first_row + i` of
  /// `origin` (a file name), which dead letters of later stages name.
  virtual Status PushFromPartition(std::shared_ptr<arrow::RecordBatch> batch, int32_t partition,
                                   std::string origin, int64_t first_row) = 0;

  /// Waits up to `timeout` for room in the pipeline's queue. True when a Push() now would not
  /// block (or only briefly, if another source takes the room first), or when the run is
  /// stopping (Push() then returns Cancelled at once). For a source that must keep serving its
  /// client while the pipeline is slow — a Kafka consumer pauses its partitions and keeps
  /// polling to stay in its group — instead of blocking in Push(). An output without a queue
  /// always has room.
  virtual bool WaitForRoom(std::chrono::milliseconds timeout) {
    (void)timeout;
    return true;
  }

  /// The partitions this source reads from now (after a rebalance: the new assignment). An
  /// assigned partition that has delivered nothing yet holds the watermark back, until it
  /// delivers, ends, or stays silent for the source's idle_timeout.
  virtual void AssignPartitions(std::vector<int32_t> partitions) = 0;

  /// A partition has no more data in this run (a bounded read reached its end offset); it no
  /// longer holds the watermark back.
  virtual void EndPartition(int32_t partition) = 0;

  /// Hands one micro-batch of stream `stream` (an index into Source::streams()) to the pipeline,
  /// for a source with several streams; blocks like Push().
  virtual Status PushStream(size_t stream, std::shared_ptr<arrow::RecordBatch> batch) = 0;

  /// Records a rejected input record.
  virtual void Reject(DeadLetter letter) = 0;

  /// Whether a stop was requested (SIGINT/SIGTERM). Long-running sources check it.
  virtual bool stopping() const = 0;
};

/// How far a bounded source has got, for the progress line.
struct SourceProgress {
  int64_t bytes_read = 0;
  /// Total bytes to read, when known.
  std::optional<int64_t> bytes_total;
};

/// One of the typed streams of a source that produces several kinds of record (nexmark: person,
/// auction, bid). A pipeline addresses it as `<source>.<name>`.
struct SourceStream {
  std::string name;
  std::shared_ptr<arrow::Schema> schema;
};

/// Produces micro-batches from an external system or a generator.
///
/// Lifecycle: built by its factory (which opens enough of the input to know the schema, so
/// configuration errors come before the run); `Run()` is then called once on a thread of its
/// own and returns when the input ends (bounded) or when `out.stopping()` becomes true.
/// `progress()` may be called from another thread.
class Source {
 public:
  virtual ~Source() = default;

  /// The schema of every batch the source pushes (for a source with several streams, the
  /// schema of its first one).
  virtual std::shared_ptr<arrow::Schema> schema() const = 0;

  /// The streams of a source with several kinds of record, which it delivers with
  /// SourceOutput::PushStream(); empty for a source with one stream (schema(), Push()).
  virtual std::vector<SourceStream> streams() const { return {}; }

  /// Whether the input ends by itself (files, a counted generator).
  virtual bool bounded() const = 0;

  /// Reads until the input ends or a stop is requested.
  virtual Status Run(SourceOutput& out) = 0;

  virtual SourceProgress progress() const { return {}; }

  /// Acknowledgement, for sources that commit what they have read (a Kafka consumer group).
  /// Called on the pipeline thread when the first `batches` batches this source pushed (counting
  /// only pushes of batches with rows that returned OK, in order) have gone through every
  /// processor, everything they produced has been written to every sink (Sink::Write returned
  /// OK) and the dead letters raised meanwhile have been written. `end_of_run` is true for the
  /// last call, made after every sink was closed successfully: everything the source handed
  /// over, including rejected records, is then done. Not called for a failed run. May come
  /// after Run() returned, so a source keeps what it needs to commit until it is destroyed.
  /// Rows that a stateful processor (a window) still holds count as done; until state is
  /// checkpointed, a crash loses them.
  virtual void OnBatchesDone(int64_t batches, bool end_of_run) {
    (void)batches;
    (void)end_of_run;
  }

  /// Whether the source can report and restore its position, so that a pipeline with
  /// `checkpoint:` can resume it where a checkpoint was taken.
  virtual bool checkpointable() const { return false; }

  /// The position just after the first `batches` batches this source pushed (counted as for
  /// OnBatchesDone()), as JSON text: reading again from it yields exactly the records that came
  /// after those batches. Called on the pipeline thread while Run() goes on (the source keeps
  /// the position of every pushed batch until it is asked for a later one). Positions of
  /// batches before `batches` are not asked for again.
  virtual Result<std::string> PositionAfter(int64_t batches) {
    (void)batches;
    return Status::NotImplemented("this source cannot be checkpointed");
  }

  /// Before Run(): continue from `position` (made by PositionAfter() of a source built from the
  /// same configuration) instead of the configured start. Records before it are not read again.
  virtual Status RestorePosition(const std::string& position) {
    (void)position;
    return Status::NotImplemented("this source cannot be checkpointed");
  }
};

}  // namespace sluice::exec
