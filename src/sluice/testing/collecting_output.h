#pragma once

// Test-only: an exec::SourceOutput that keeps what a source delivers, so that a source's Run()
// can be tested without a pipeline.

#include <arrow/api.h>

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/exec/source.h"

namespace sluice::testing {

/// Collects batches, partitions and dead letters; asks the source to stop after `stop_after`
/// batches when that is set.
class CollectingOutput : public exec::SourceOutput {
 public:
  explicit CollectingOutput(int64_t stop_after = 0) : stop_after_(stop_after) {}

  Status Push(std::shared_ptr<arrow::RecordBatch> batch) override {
    batches_.push_back(std::move(batch));
    if (stop_after_ > 0 && static_cast<int64_t>(batches_.size()) >= stop_after_) stopping_ = true;
    return Status::OK();
  }
  Status PushPartitioned(std::shared_ptr<arrow::RecordBatch> batch,
                         std::shared_ptr<arrow::Int32Array> partitions) override {
    partitions_.push_back(std::move(partitions));
    return Push(std::move(batch));
  }
  Status PushFromPartition(std::shared_ptr<arrow::RecordBatch> batch, int32_t partition,
                           std::string origin, int64_t first_row) override {
    partition_of_batch_.push_back(partition);
    origins_.push_back({std::move(origin), first_row});
    return Push(std::move(batch));
  }
  Status PushStream(size_t stream, std::shared_ptr<arrow::RecordBatch> batch) override {
    stream_of_batch_.push_back(stream);
    return Push(std::move(batch));
  }
  void AssignPartitions(std::vector<int32_t> partitions) override {
    assigned_ = std::move(partitions);
  }
  void EndPartition(int32_t partition) override { ended_.push_back(partition); }
  void Reject(exec::DeadLetter letter) override { rejected_.push_back(std::move(letter)); }
  bool stopping() const override { return stopping_; }

  /// Asks the source to stop, as SIGINT would.
  void RequestStop() { stopping_ = true; }

  const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches() const { return batches_; }
  const std::vector<exec::DeadLetter>& rejected() const { return rejected_; }
  const std::vector<int32_t>& assigned() const { return assigned_; }
  const std::vector<int32_t>& ended() const { return ended_; }
  /// For each batch pushed with PushFromPartition(): its partition, origin and first row.
  const std::vector<int32_t>& partition_of_batch() const { return partition_of_batch_; }
  const std::vector<std::pair<std::string, int64_t>>& origins() const { return origins_; }

  int64_t num_rows() const {
    int64_t rows = 0;
    for (const auto& batch : batches_) rows += batch->num_rows();
    return rows;
  }

  std::shared_ptr<arrow::Table> Table() const {
    return arrow::Table::FromRecordBatches(batches_).ValueOrDie();
  }

  /// The batches a source with several streams pushed to `stream` (PushStream()).
  std::vector<std::shared_ptr<arrow::RecordBatch>> StreamBatches(size_t stream) const {
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
    for (size_t i = 0; i < stream_of_batch_.size(); ++i) {
      if (stream_of_batch_[i] == stream) batches.push_back(batches_[i]);
    }
    return batches;
  }

 private:
  int64_t stop_after_;
  std::atomic<bool> stopping_{false};
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches_;
  std::vector<std::shared_ptr<arrow::Int32Array>> partitions_;
  /// For each batch pushed with PushStream(), its stream; empty when only Push() was used.
  std::vector<size_t> stream_of_batch_;
  std::vector<int32_t> assigned_;
  std::vector<int32_t> ended_;
  std::vector<int32_t> partition_of_batch_;
  std::vector<std::pair<std::string, int64_t>> origins_;
  std::vector<exec::DeadLetter> rejected_;
};

}  // namespace sluice::testing
