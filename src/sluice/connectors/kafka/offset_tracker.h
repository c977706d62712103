#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>

#include "sluice/common/status.h"
#include "sluice/connectors/kafka/kafka_client.h"

namespace sluice::connectors::kafka {

/// The Kafka source's offset bookkeeping: which offsets each pushed batch advanced, for
/// committing them once the pipeline is done with the batch (Source::OnBatchesDone, or an
/// exactly-once sink's transaction), and the position after the first N batches, for
/// checkpoints (Source::PositionAfter).
///
/// An offset is "the next offset to read" of a partition, as Kafka commits it. A message
/// rejected before a batch counts as covered by that batch: its offset moves with the batch's.
///
/// Threading: Know(), Advance(), AddBatch(), DropLastBatch() and RunEnded() are called on the
/// source thread, Take() and PositionAfter() on the pipeline thread; every method locks the
/// tracker's mutex.
class OffsetTracker {
 public:
  /// Continue from `position` (from a checkpoint): it is where every later position starts, so
  /// a partition of the checkpoint that delivers nothing in this run keeps its offset there.
  void Restore(PartitionOffsets position);

  /// `partition` starts at `offset` in this run (where it was first placed): the position of a
  /// partition that delivers nothing still says where a restart must read it from. Ignored for
  /// a partition whose position is known already.
  void Know(const std::pair<std::string, int32_t>& partition, int64_t offset);

  /// A message of `partition` was taken (decoded or rejected): the partition's next offset is
  /// `next_offset` once the batch being built is pushed.
  void Advance(const std::pair<std::string, int32_t>& partition, int64_t next_offset);

  /// The batch being built is about to be pushed: what Advance() recorded since the last batch
  /// belongs to it. Called before the push, so that the pipeline, which may ask about the batch
  /// as soon as it has it, never finds it missing. Returns its number (1 for the first).
  int64_t AddBatch();

  /// Pushing the batch AddBatch() added failed (the run is stopping): it never reached the
  /// pipeline, so its offsets must never be committed.
  void DropLastBatch();

  /// Run() ended: messages rejected after the last batch are committed at the end of the run,
  /// and a position after the last batch covers them.
  void RunEnded();

  /// Removes and returns the offsets the first `batches` batches advanced that an earlier call
  /// did not take (and with `end_of_run` those of records rejected after the last batch): what
  /// to commit to the consumer group.
  PartitionOffsets Take(int64_t batches, bool end_of_run);

  /// The position after the first `batches` batches: the restored position moved on by every
  /// batch up to it (and, after the last batch of an ended run, past the records rejected after
  /// it). Positions before the last one asked for, or before offsets Take() removed,
  /// cannot be asked for again (an error).
  Result<PartitionOffsets> PositionAfter(int64_t batches);

  /// The restored position (empty when none).
  PartitionOffsets restored() const;

 private:
  /// Moves the batches up to `batches` into `position_`. Needs `mutex_`.
  void Fold(int64_t batches);

  mutable std::mutex mutex_;
  /// Offsets advanced since the last pushed batch.
  PartitionOffsets pending_;
  /// Each pushed batch (by number) with the offsets it advanced, until both Take() and
  /// PositionAfter() went past it.
  std::deque<std::pair<int64_t, PartitionOffsets>> batches_;
  int64_t batches_pushed_ = 0;
  /// Offsets of records rejected after the last batch (set by RunEnded()).
  PartitionOffsets trailing_;
  bool run_ended_ = false;
  /// The position after the first `position_batches_` batches.
  PartitionOffsets position_;
  int64_t position_batches_ = 0;
  /// Take() returned the offsets of the first `taken_batches_` batches.
  int64_t taken_batches_ = 0;
  PartitionOffsets restored_;
};

/// A position as JSON text: {"offsets":[{"topic":"orders","partition":0,"offset":42},...]}.
std::string PositionToJson(const PartitionOffsets& position);

/// Reads what PositionToJson() wrote; an Invalid status for anything else.
Result<PartitionOffsets> PositionFromJson(const std::string& text);

}  // namespace sluice::connectors::kafka
