#pragma once

// Test-only: checks that a stateful stage resumes from a checkpoint exactly where it stopped.
// A stage is driven over batches as the pipeline drives it (event-time watermarks after each
// batch, the watermark of each row that is behind, OnWatermark(kMaxTimestamp) and Finish() at
// the end); for each cut, a stage stopped there, snapshotted, round-tripped through files and
// restored into a fresh stage must, together, give the output and dead letters of one stage that
// ran uninterrupted, row for row.

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/exec/dead_letter.h"
#include "sluice/exec/processor.h"
#include "sluice/state/snapshot_io.h"
#include "sluice/testing/processor_from_yaml.h"

namespace sluice::processors::checkpoint_test {

using exec::Timestamp;

/// One stage built from YAML and driven as a pipeline with one source partition would drive it.
/// The driver's clock (latest event time, watermark) is the pipeline's, which a restore restores
/// itself, so it is copied along with the stage's snapshot.
class Replay {
 public:
  Replay(std::string name, std::string step, std::shared_ptr<arrow::Schema> schema,
         std::string event_time_field, Timestamp delay)
      : name_(std::move(name)),
        step_(std::move(step)),
        schema_(std::move(schema)),
        event_time_field_(std::move(event_time_field)),
        delay_(delay) {}

  Status Make() {
    exec::ProcessorContext context{"test", &dead_letters_, event_time_field_};
    context.inputs = {{"in", schema_, event_time_field_}};
    context.row_watermarks = &row_watermarks_;
    SLUICE_ASSIGN_OR_RAISE(processor_, testing::ProcessorFromYaml(name_, step_, schema_, context));
    return Status::OK();
  }

  /// Processes `batch`, then moves the watermark to the latest event time minus the delay.
  Status Feed(const std::shared_ptr<arrow::RecordBatch>& batch) {
    const int time_column = schema_->GetFieldIndex(event_time_field_);
    const auto& times = static_cast<const arrow::TimestampArray&>(*batch->column(time_column));
    row_watermarks_.clear();
    Timestamp latest = latest_;
    for (int64_t row = 0; row < batch->num_rows(); ++row) {
      if (times.IsNull(row)) continue;
      if (latest != exec::kMinTimestamp && times.Value(row) < latest - delay_) {
        if (row_watermarks_.empty()) row_watermarks_.assign(batch->num_rows(), exec::kMinTimestamp);
        row_watermarks_[row] = latest - delay_;
      }
      latest = std::max(latest, times.Value(row));
    }
    exec::CollectingEmitter out;
    SLUICE_RETURN_NOT_OK(processor_->Process(batch, out));
    row_watermarks_.clear();
    Collect(out);
    latest_ = latest;
    if (latest_ != exec::kMinTimestamp && latest_ - delay_ > watermark_) {
      watermark_ = latest_ - delay_;
      SLUICE_RETURN_NOT_OK(processor_->OnWatermark(watermark_, out));
      Collect(out);
    }
    return Status::OK();
  }

  /// The end of the input: the final watermark, then Finish().
  Status End() {
    exec::CollectingEmitter out;
    SLUICE_RETURN_NOT_OK(processor_->OnWatermark(exec::kMaxTimestamp, out));
    Collect(out);
    SLUICE_RETURN_NOT_OK(processor_->Finish(out));
    Collect(out);
    return Status::OK();
  }

  /// The driver's clock: the latest event time and the watermark.
  std::pair<Timestamp, Timestamp> clock() const { return {latest_, watermark_}; }
  /// Sets the driver's clock, as a restored pipeline restores its own.
  void SetClock(std::pair<Timestamp, Timestamp> clock) {
    latest_ = clock.first;
    watermark_ = clock.second;
  }

  exec::Processor& processor() { return *processor_; }
  /// Every row emitted so far, one JSON object each, in order.
  const std::vector<std::string>& output() const { return output_; }
  /// Every dead letter so far: its reason, row and record.
  const std::vector<std::string>& dead_letters() const { return letters_; }

 private:
  void Collect(exec::CollectingEmitter& out) {
    for (const auto& batch : out.batches()) {
      EXPECT_TRUE(batch->schema()->Equals(*processor_->output_schema()));
      for (int64_t row = 0; row < batch->num_rows(); ++row) {
        output_.push_back(exec::RowToJson(*batch, row));
      }
    }
    out.batches().clear();
    for (const auto& letter : dead_letters_.Drain()) {
      letters_.push_back(letter.reason + " @" + std::to_string(letter.row) + " " + letter.record);
    }
  }

  std::string name_;
  std::string step_;
  std::shared_ptr<arrow::Schema> schema_;
  std::string event_time_field_;
  Timestamp delay_;
  exec::DeadLetterQueue dead_letters_;
  std::vector<Timestamp> row_watermarks_;
  std::unique_ptr<exec::Processor> processor_;
  Timestamp latest_ = exec::kMinTimestamp;
  Timestamp watermark_ = exec::kMinTimestamp;
  std::vector<std::string> output_;
  std::vector<std::string> letters_;
};

/// The snapshot's values and tables as bytes, to see whether it changed.
inline std::vector<std::string> Encode(const state::StateSnapshot& snapshot) {
  std::vector<std::string> encoded;
  for (const auto& [name, value] : snapshot.values) encoded.push_back(name + "=" + value);
  for (const auto& [name, table] : snapshot.tables) {
    auto bytes = state::EncodeTable(*table);
    EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
    if (bytes.ok()) encoded.push_back(name + ":" + (*bytes)->ToString());
  }
  return encoded;
}

/// Expects `rows` to equal `expected`, showing the first row that differs.
inline void ExpectSameRows(const std::vector<std::string>& rows,
                           const std::vector<std::string>& expected, const std::string& what) {
  EXPECT_EQ(rows.size(), expected.size()) << what;
  for (size_t row = 0; row < std::min(rows.size(), expected.size()); ++row) {
    if (rows[row] != expected[row]) {
      ADD_FAILURE() << what << ": output row " << row << " differs:\n  got:           "
                    << rows[row] << "\n  uninterrupted: " << expected[row];
      return;
    }
  }
}

/// The rows of every table of `processor`'s snapshot now.
inline std::vector<int64_t> StateRows(const exec::Processor& processor) {
  std::vector<int64_t> rows;
  auto snapshot = processor.SnapshotState();
  EXPECT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  if (!snapshot.ok()) return rows;
  for (const auto& [name, table] : snapshot->tables) rows.push_back(table->num_rows());
  return rows;
}

/// What a run of the property test saw, for checks that the data was rich enough.
struct ReplayCounts {
  int64_t output_rows = 0;
  int64_t dead_letters = 0;
  /// The most rows any snapshot table held at a cut.
  int64_t largest_snapshot_rows = 0;
};

/// For each cut k in `cuts`: stage A processes batches[0, k) and is snapshotted; stage B, built
/// afresh from the same step, restores the round-tripped snapshot and processes batches[k, end).
/// A's output and dead letters before the cut followed by B's must equal those of stage C, which
/// ran over every batch uninterrupted. A goes on after the snapshot, which must not change, and
/// B must hold as many rows of state as A after every batch and free it all when C does.
inline ReplayCounts ExpectResumesAtEveryCut(
    const std::string& name, const std::string& step, const std::shared_ptr<arrow::Schema>& schema,
    const std::string& event_time_field, Timestamp delay,
    const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
    const std::vector<size_t>& cuts) {
  ReplayCounts counts;
  Replay whole(name, step, schema, event_time_field, delay);
  EXPECT_TRUE(whole.Make().ok());
  EXPECT_TRUE(whole.processor().checkpointable());
  for (const auto& batch : batches) EXPECT_TRUE(whole.Feed(batch).ok());
  EXPECT_TRUE(whole.End().ok());
  counts.output_rows = static_cast<int64_t>(whole.output().size());
  counts.dead_letters = static_cast<int64_t>(whole.dead_letters().size());

  for (size_t cut : cuts) {
    SCOPED_TRACE("cut before batch " + std::to_string(cut) + " of " +
                 std::to_string(batches.size()));
    Replay before(name, step, schema, event_time_field, delay);
    EXPECT_TRUE(before.Make().ok());
    for (size_t i = 0; i < cut; ++i) {
      Status fed = before.Feed(batches[i]);
      EXPECT_TRUE(fed.ok()) << fed.ToString();
    }
    auto snapshot = before.processor().SnapshotState();
    EXPECT_TRUE(snapshot.ok()) << snapshot.status().ToString();
    if (!snapshot.ok()) continue;
    for (const auto& [table_name, table] : snapshot->tables) {
      counts.largest_snapshot_rows = std::max(counts.largest_snapshot_rows, table->num_rows());
    }
    const std::vector<std::string> encoded = Encode(*snapshot);
    const size_t output_at_cut = before.output().size();
    const size_t letters_at_cut = before.dead_letters().size();
    const auto clock_at_cut = before.clock();

    auto restored = state::RoundTrip(*snapshot);
    EXPECT_TRUE(restored.ok()) << restored.status().ToString();
    if (!restored.ok()) continue;
    Replay after(name, step, schema, event_time_field, delay);
    EXPECT_TRUE(after.Make().ok());
    after.SetClock(clock_at_cut);
    Status restore = after.processor().RestoreState(*restored);
    EXPECT_TRUE(restore.ok()) << restore.ToString();

    // A goes on beside B. After every batch both hold as many rows of state (the same live
    // keys, though perhaps under other ids), so that B also forgets what A forgets.
    bool same_state = true;
    for (size_t i = cut; i < batches.size(); ++i) {
      EXPECT_TRUE(before.Feed(batches[i]).ok());
      Status fed = after.Feed(batches[i]);
      EXPECT_TRUE(fed.ok()) << fed.ToString();
      if (same_state && StateRows(before.processor()) != StateRows(after.processor())) {
        ADD_FAILURE() << "after batch " << i << " the uninterrupted stage holds "
                      << ::testing::PrintToString(StateRows(before.processor()))
                      << " rows of state, the resumed one "
                      << ::testing::PrintToString(StateRows(after.processor()));
        same_state = false;
      }
    }
    EXPECT_TRUE(before.End().ok());
    EXPECT_TRUE(after.End().ok());
    // A's output stays that of C, and the snapshot it handed over stays as it was.
    ExpectSameRows(before.output(), whole.output(), "the stage that went on");
    EXPECT_EQ(Encode(*snapshot), encoded) << "the snapshot changed as the stage went on";
    EXPECT_EQ(after.processor().state_bytes() == 0, whole.processor().state_bytes() == 0);

    std::vector<std::string> output(
        before.output().begin(), before.output().begin() + static_cast<ptrdiff_t>(output_at_cut));
    output.insert(output.end(), after.output().begin(), after.output().end());
    std::vector<std::string> letters(
        before.dead_letters().begin(),
        before.dead_letters().begin() + static_cast<ptrdiff_t>(letters_at_cut));
    letters.insert(letters.end(), after.dead_letters().begin(), after.dead_letters().end());
    ExpectSameRows(output, whole.output(),
                   std::to_string(output_at_cut) + " rows before the cut, then the resumed ones");
    EXPECT_EQ(letters, whole.dead_letters());
  }
  return counts;
}

}  // namespace sluice::processors::checkpoint_test
