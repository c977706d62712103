#pragma once

// Test-only: checks that a stateful stage resumes from a checkpoint exactly where it stopped.
// A stage is driven over steps as the pipeline drives it (a batch of one input, with the
// watermarks of its rows that are behind, then the stage's watermark when the batch moved it;
// OnWatermark(kMaxTimestamp) and Finish() at the end); for each cut, a stage stopped there,
// snapshotted, round-tripped through files and restored into a fresh stage must, together, give
// the output and dead letters of one stage that ran uninterrupted, call for call.

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "sluice/exec/dead_letter.h"
#include "sluice/exec/processor.h"
#include "sluice/state/snapshot_io.h"
#include "sluice/state/state_snapshot.h"
#include "sluice/testing/processor_from_yaml.h"

namespace sluice::testing {

/// One call of the pipeline on a stage: a batch of one of its inputs, then the stage's watermark
/// when the batch moved it. A step without a batch only moves the watermark.
struct Step {
  /// The input the batch comes from: 0, or 1 for the right side of a join.
  size_t input = 0;
  std::shared_ptr<arrow::RecordBatch> batch;
  /// For each row of the batch, the watermark of its partition when the row is behind it, else
  /// kMinTimestamp; empty when no row is behind (ProcessorContext::row_watermarks).
  std::vector<exec::Timestamp> row_watermarks;
  std::optional<exec::Timestamp> watermark;
};

/// The steps a pipeline with one source partition makes of `batches`, when the watermark trails
/// the latest event time (`event_time_field`) by `delay`: a row behind the rows before it carries
/// the watermark they formed, and the watermark moves after each batch that moved it.
inline std::vector<Step> StepsFromEventTimes(
    const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
    const std::string& event_time_field, exec::Timestamp delay) {
  std::vector<Step> steps;
  exec::Timestamp latest = exec::kMinTimestamp;
  exec::Timestamp watermark = exec::kMinTimestamp;
  for (const auto& batch : batches) {
    Step step;
    step.batch = batch;
    const auto& times =
        static_cast<const arrow::TimestampArray&>(*batch->GetColumnByName(event_time_field));
    for (int64_t row = 0; row < batch->num_rows(); ++row) {
      if (times.IsNull(row)) continue;
      if (latest != exec::kMinTimestamp && times.Value(row) < latest - delay) {
        if (step.row_watermarks.empty()) {
          step.row_watermarks.assign(batch->num_rows(), exec::kMinTimestamp);
        }
        step.row_watermarks[row] = latest - delay;
      }
      latest = std::max(latest, times.Value(row));
    }
    if (latest != exec::kMinTimestamp && latest - delay > watermark) {
      watermark = latest - delay;
      step.watermark = watermark;
    }
    steps.push_back(std::move(step));
  }
  return steps;
}

/// How far the watermark trails the latest event time of RandomEventBatches(), as a source's
/// `delay` would.
constexpr exec::Timestamp kRandomEventDelay = 3 * 1000000;

/// `count` rows of `schema` in batches of 1 to `max_batch` rows. The schema's first field is
/// `seq`, the row's number (int64), and its last the row's event time (timestamp[us, UTC]);
/// `append_row` appends one row's fields between them to `batch`, drawing from `random`. Event
/// times run forward by up to half a second a row, mostly within kRandomEventDelay of the
/// latest, 4 rows in 100 further behind (up to 40 s: late), 1 in 100 without one.
inline std::vector<std::shared_ptr<arrow::RecordBatch>> RandomEventBatches(
    uint64_t seed, const std::shared_ptr<arrow::Schema>& schema, int64_t count, int64_t max_batch,
    const std::function<void(std::mt19937_64& random, arrow::RecordBatchBuilder& batch)>&
        append_row) {
  constexpr exec::Timestamp kSecond = 1000000;
  constexpr exec::Timestamp delay = kRandomEventDelay;
  std::mt19937_64 random(seed);
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  exec::Timestamp clock = 1704067200LL * kSecond;  // 2024-01-01T00:00:00Z
  const int time_field = schema->num_fields() - 1;
  int64_t seq = 0;
  while (seq < count) {
    const int64_t size = std::min<int64_t>(count - seq, 1 + random() % max_batch);
    auto batch = arrow::RecordBatchBuilder::Make(schema, arrow::default_memory_pool()).ValueOrDie();
    auto* seqs = batch->GetFieldAs<arrow::Int64Builder>(0);
    auto* times = batch->GetFieldAs<arrow::TimestampBuilder>(time_field);
    for (int64_t i = 0; i < size; ++i, ++seq) {
      clock += std::uniform_int_distribution<exec::Timestamp>(0, kSecond / 2)(random);
      EXPECT_TRUE(seqs->Append(seq).ok());
      append_row(random, *batch);
      const uint64_t kind = random() % 100;
      exec::Timestamp behind = std::uniform_int_distribution<exec::Timestamp>(0, delay)(random);
      if (kind < 4) {
        behind = std::uniform_int_distribution<exec::Timestamp>(delay, 40 * kSecond)(random);
      }
      EXPECT_TRUE((kind == 99 ? times->AppendNull() : times->Append(clock - behind)).ok());
    }
    batches.push_back(batch->Flush().ValueOrDie());
  }
  return batches;
}

/// One stage built from YAML and driven step by step as the pipeline drives it. It keeps what it
/// emitted for each call (a step, or the end of the input) and its dead letters. Not copyable:
/// the stage points to its dead-letter queue and row watermarks.
class DrivenStage {
 public:
  /// Builds the stage `name` from `step` for `inputs`; the first input's schema and event-time
  /// field are the stage's own. A stage that cannot be built is a test failure, and made() false.
  DrivenStage(const std::string& name, const std::string& step,
              std::vector<exec::InputStream> inputs) {
    const std::shared_ptr<arrow::Schema> schema = inputs.at(0).schema;
    exec::ProcessorContext context{"test", &dead_letters_, inputs.at(0).event_time_field};
    context.inputs = std::move(inputs);
    context.row_watermarks = &row_watermarks_;
    auto made = ProcessorFromYaml(name, step, schema, std::move(context));
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    if (made.ok()) processor_ = std::move(*made);
  }
  DrivenStage(const DrivenStage&) = delete;
  DrivenStage& operator=(const DrivenStage&) = delete;

  bool made() const { return processor_ != nullptr; }
  exec::Processor& processor() { return *processor_; }

  /// Processes the step's batch, then moves the watermark when the step does.
  Status Drive(const Step& step) {
    exec::CollectingEmitter out;
    if (step.batch != nullptr) {
      row_watermarks_ = step.row_watermarks;
      Status processed = processor_->ProcessInput(step.input, step.batch, out);
      row_watermarks_.clear();
      SLUICE_RETURN_NOT_OK(processed);
    }
    if (step.watermark) SLUICE_RETURN_NOT_OK(processor_->OnWatermark(*step.watermark, out));
    Collect(out);
    return Status::OK();
  }

  /// Steps [first, last) of `steps`.
  Status Drive(const std::vector<Step>& steps, size_t first, size_t last) {
    for (size_t i = first; i < last; ++i) SLUICE_RETURN_NOT_OK(Drive(steps[i]));
    return Status::OK();
  }

  /// The end of the input: the final watermark, then Finish().
  Status End() {
    exec::CollectingEmitter out;
    SLUICE_RETURN_NOT_OK(processor_->OnWatermark(exec::kMaxTimestamp, out));
    SLUICE_RETURN_NOT_OK(processor_->Finish(out));
    Collect(out);
    return Status::OK();
  }

  /// The rows emitted by each call so far, one JSON object each.
  const std::vector<std::vector<std::string>>& emissions() const { return emissions_; }
  /// Every row emitted so far, in order.
  std::vector<std::string> rows() const {
    std::vector<std::string> rows;
    for (const auto& emission : emissions_) {
      rows.insert(rows.end(), emission.begin(), emission.end());
    }
    return rows;
  }
  /// Every batch emitted so far, to compare values exactly rather than as printed.
  const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches() const { return batches_; }
  /// Every dead letter so far: its reason, row, record and source.
  const std::vector<std::string>& dead_letters() const { return letters_; }

 private:
  void Collect(exec::CollectingEmitter& out) {
    std::vector<std::string>& rows = emissions_.emplace_back();
    for (const auto& batch : out.batches()) {
      EXPECT_TRUE(batch->schema()->Equals(*processor_->output_schema()));
      for (int64_t row = 0; row < batch->num_rows(); ++row) {
        rows.push_back(exec::RowToJson(*batch, row));
      }
      batches_.push_back(batch);
    }
    for (const auto& letter : dead_letters_.Drain()) {
      letters_.push_back(letter.reason + " @" + std::to_string(letter.row) + " " + letter.record +
                         " from " + letter.source);
    }
  }

  exec::DeadLetterQueue dead_letters_;
  std::vector<exec::Timestamp> row_watermarks_;
  std::unique_ptr<exec::Processor> processor_;
  std::vector<std::vector<std::string>> emissions_;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches_;
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

/// Expects each call of `got` to emit the rows of the same call of `expected`, in the same order
/// or, unless `ordered`, in any order; shows the first row that differs.
inline void ExpectSameEmissions(const std::vector<std::vector<std::string>>& got,
                                const std::vector<std::vector<std::string>>& expected,
                                bool ordered, const std::string& what) {
  EXPECT_EQ(got.size(), expected.size()) << what << ": calls";
  for (size_t call = 0; call < std::min(got.size(), expected.size()); ++call) {
    std::vector<std::string> rows = got[call];
    std::vector<std::string> uninterrupted = expected[call];
    if (!ordered) {
      std::sort(rows.begin(), rows.end());
      std::sort(uninterrupted.begin(), uninterrupted.end());
    }
    if (rows == uninterrupted) continue;
    for (size_t row = 0; row < std::max(rows.size(), uninterrupted.size()); ++row) {
      if (row < rows.size() && row < uninterrupted.size() && rows[row] == uninterrupted[row]) {
        continue;
      }
      ADD_FAILURE() << what << ": call " << call << " of " << expected.size() << ", row " << row
                    << " differs:\n  got:           "
                    << (row < rows.size() ? rows[row] : "(none)")
                    << "\n  uninterrupted: "
                    << (row < uninterrupted.size() ? uninterrupted[row] : "(none)");
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

/// How ExpectResumesAtEveryCut() cuts and compares.
struct ReplayOptions {
  /// The stage is stopped after that many steps.
  std::vector<size_t> cuts;
  /// Whether the rows of one call come in a defined order. When not (a probe join frees rows of
  /// equal expiry in no defined order), the resumed rows of each call are compared in any order,
  /// and their values only as printed.
  bool ordered = true;
  /// Called with each cut and the snapshot taken there, as read back from files.
  std::function<void(size_t cut, const state::StateSnapshot& snapshot)> on_snapshot;
};

/// What the uninterrupted run gave, for checks that the data was rich enough.
struct ReplayResult {
  /// Its output, one JSON object a row, and its dead letters.
  std::vector<std::string> output;
  std::vector<std::string> dead_letters;
  /// The state it still held at the end of the input.
  int64_t final_state_bytes = 0;
  /// The most rows any snapshot table held at a cut.
  int64_t largest_snapshot_rows = 0;

  int64_t output_rows() const { return static_cast<int64_t>(output.size()); }
};

/// For each cut k in `options.cuts`: stage A runs steps[0, k) and is snapshotted; stage B, built
/// afresh from the same step, restores the round-tripped snapshot and runs steps[k, end). A's
/// output and dead letters before the cut followed by B's must equal those of stage C, which ran
/// every step uninterrupted, call for call (and value for value when ordered). A goes on after
/// the snapshot, which must not change, and must still give C's output; B must hold as many rows
/// of state as A after every step and free it all when C does.
inline ReplayResult ExpectResumesAtEveryCut(const std::string& name, const std::string& step,
                                            const std::vector<exec::InputStream>& inputs,
                                            const std::vector<Step>& steps,
                                            const ReplayOptions& options) {
  ReplayResult result;
  DrivenStage whole(name, step, inputs);
  if (!whole.made()) return result;
  EXPECT_TRUE(whole.processor().checkpointable());
  Status status = whole.Drive(steps, 0, steps.size());
  EXPECT_TRUE(status.ok()) << status.ToString();
  status = whole.End();
  EXPECT_TRUE(status.ok()) << status.ToString();
  result.output = whole.rows();
  result.dead_letters = whole.dead_letters();
  result.final_state_bytes = whole.processor().state_bytes();
  const std::shared_ptr<arrow::Schema> schema = whole.processor().output_schema();
  const auto expected_values = arrow::Table::FromRecordBatches(schema, whole.batches());
  EXPECT_TRUE(expected_values.ok()) << expected_values.status().ToString();

  for (size_t cut : options.cuts) {
    SCOPED_TRACE("cut before step " + std::to_string(cut) + " of " + std::to_string(steps.size()));
    DrivenStage before(name, step, inputs);
    if (!before.made()) return result;
    status = before.Drive(steps, 0, cut);
    EXPECT_TRUE(status.ok()) << status.ToString();
    auto snapshot = before.processor().SnapshotState();
    EXPECT_TRUE(snapshot.ok()) << snapshot.status().ToString();
    if (!snapshot.ok()) continue;
    for (const auto& [table_name, table] : snapshot->tables) {
      result.largest_snapshot_rows = std::max(result.largest_snapshot_rows, table->num_rows());
    }
    const std::vector<std::string> encoded = Encode(*snapshot);
    const size_t batches_at_cut = before.batches().size();
    const size_t letters_at_cut = before.dead_letters().size();

    auto restored = state::RoundTrip(*snapshot);
    EXPECT_TRUE(restored.ok()) << restored.status().ToString();
    if (!restored.ok()) continue;
    if (options.on_snapshot) options.on_snapshot(cut, *restored);
    DrivenStage after(name, step, inputs);
    if (!after.made()) return result;
    status = after.processor().RestoreState(*restored);
    EXPECT_TRUE(status.ok()) << status.ToString();
    if (!status.ok()) continue;

    // A goes on beside B. After every step both hold as many rows of state (the same live keys,
    // though perhaps under other ids), so that B also forgets what A forgets.
    bool same_state = true;
    for (size_t i = cut; i < steps.size(); ++i) {
      status = before.Drive(steps[i]);
      EXPECT_TRUE(status.ok()) << status.ToString();
      status = after.Drive(steps[i]);
      EXPECT_TRUE(status.ok()) << status.ToString();
      if (same_state && StateRows(before.processor()) != StateRows(after.processor())) {
        ADD_FAILURE() << "after step " << i << " the uninterrupted stage holds "
                      << ::testing::PrintToString(StateRows(before.processor()))
                      << " rows of state, the resumed one "
                      << ::testing::PrintToString(StateRows(after.processor()));
        same_state = false;
      }
    }
    status = before.End();
    EXPECT_TRUE(status.ok()) << status.ToString();
    status = after.End();
    EXPECT_TRUE(status.ok()) << status.ToString();
    // A's output stays that of C, in C's order even where a call's rows have no defined order
    // (nothing was restored into A), and the snapshot it handed over stays as it was.
    ExpectSameEmissions(before.emissions(), whole.emissions(), /*ordered=*/true,
                        "the stage that went on");
    EXPECT_EQ(Encode(*snapshot), encoded) << "the snapshot changed as the stage went on";
    EXPECT_EQ(after.processor().state_bytes() == 0, result.final_state_bytes == 0);

    std::vector<std::vector<std::string>> emissions(
        before.emissions().begin(), before.emissions().begin() + static_cast<ptrdiff_t>(cut));
    emissions.insert(emissions.end(), after.emissions().begin(), after.emissions().end());
    ExpectSameEmissions(emissions, whole.emissions(), options.ordered,
                        std::to_string(cut) + " calls before the cut, then the resumed ones");
    if (options.ordered && expected_values.ok()) {
      std::vector<std::shared_ptr<arrow::RecordBatch>> batches(
          before.batches().begin(),
          before.batches().begin() + static_cast<ptrdiff_t>(batches_at_cut));
      batches.insert(batches.end(), after.batches().begin(), after.batches().end());
      auto values = arrow::Table::FromRecordBatches(schema, batches);
      EXPECT_TRUE(values.ok() && (*values)->Equals(**expected_values))
          << "the values before the cut and the resumed ones differ from the uninterrupted ones";
    }
    std::vector<std::string> letters(
        before.dead_letters().begin(),
        before.dead_letters().begin() + static_cast<ptrdiff_t>(letters_at_cut));
    letters.insert(letters.end(), after.dead_letters().begin(), after.dead_letters().end());
    EXPECT_EQ(letters, whole.dead_letters());
  }
  return result;
}

/// The same for a stage of one input, `batches` of `schema` as RandomEventBatches() makes them,
/// cut at both ends, after the first batch and before the last, and at each quarter.
inline ReplayResult ExpectResumesAtEveryCut(
    const std::string& name, const std::string& step, const std::shared_ptr<arrow::Schema>& schema,
    const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches) {
  const std::string event_time_field = schema->field(schema->num_fields() - 1)->name();
  const size_t count = batches.size();
  ReplayOptions options;
  options.cuts = {0, 1, count / 4, count / 2, count * 3 / 4, count - 1, count};
  return ExpectResumesAtEveryCut(
      name, step, {{"in", schema, event_time_field}},
      StepsFromEventTimes(batches, event_time_field, kRandomEventDelay), options);
}

/// Expects the stage `name` built from `step` for `schema` to refuse, as damaged (an IOError),
/// an empty snapshot and one that holds only `table` under `table_name`, of another shape than
/// its own.
inline void ExpectRefusesAStateOfAnotherShape(const std::string& name, const std::string& step,
                                              const std::shared_ptr<arrow::Schema>& schema,
                                              const std::string& table_name,
                                              std::shared_ptr<arrow::Table> table) {
  auto made = ProcessorFromYaml(name, step, schema);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_TRUE((*made)->RestoreState(state::StateSnapshot{}).IsIOError());
  state::StateSnapshot wrong;
  wrong.tables.emplace_back(table_name, std::move(table));
  EXPECT_TRUE((*made)->RestoreState(wrong).IsIOError());
}

}  // namespace sluice::testing
