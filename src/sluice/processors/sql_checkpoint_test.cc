// Checkpoints of the sql processor: a windowed or whole-input statement restored from a
// snapshot taken anywhere in a stream goes on exactly as one that never stopped.

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sluice/exec/dead_letter.h"
#include "sluice/processors/sql.h"
#include "sluice/state/snapshot_io.h"
#include "sluice/testing/processor_from_yaml.h"

namespace sluice::processors {
namespace {

using exec::Timestamp;

constexpr Timestamp kSecond = 1000000;
/// How far the watermark trails the latest event time.
constexpr Timestamp kDelay = 3 * kSecond;

std::shared_ptr<arrow::Schema> InputSchema() {
  return arrow::schema({arrow::field("k", arrow::utf8()), arrow::field("v", arrow::int64()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
}

/// One call of the pipeline: a batch, then the watermark when the batch moved it.
struct Step {
  std::shared_ptr<arrow::RecordBatch> batch;
  std::optional<Timestamp> watermark;
};

/// Random input: a few keys (some NULL), times out of order within the delay and some rows
/// later than that, in batches of 1 to 20 rows.
std::vector<Step> RandomSteps(uint64_t seed, int64_t count) {
  std::mt19937_64 random(seed);
  std::vector<Step> steps;
  Timestamp latest = exec::kMinTimestamp, watermark = exec::kMinTimestamp, clock = 0;
  int64_t made = 0;
  while (made < count) {
    const int64_t rows = 1 + static_cast<int64_t>(random() % 20);
    arrow::StringBuilder keys;
    arrow::Int64Builder values;
    arrow::TimestampBuilder times(InputSchema()->field(2)->type(), arrow::default_memory_pool());
    for (int64_t i = 0; i < rows; ++i, ++made) {
      clock += static_cast<Timestamp>(random() % (kSecond / 2));
      const std::string key(1, static_cast<char>('a' + random() % 5));
      EXPECT_TRUE((random() % 15 == 0 ? keys.AppendNull() : keys.Append(key)).ok());
      EXPECT_TRUE(values.Append(static_cast<int64_t>(random() % 1000)).ok());
      Timestamp time = clock - static_cast<Timestamp>(random() % kDelay);
      // Now and then a row much later than the delay allows: late for some windows.
      if (random() % 20 == 0) {
        time = clock - kDelay - (10 + static_cast<Timestamp>(random() % 20)) * kSecond;
      }
      EXPECT_TRUE(times.Append(time).ok());
      latest = std::max(latest, time);
    }
    Step step;
    step.batch = arrow::RecordBatch::Make(
        InputSchema(), rows,
        {keys.Finish().ValueOrDie(), values.Finish().ValueOrDie(), times.Finish().ValueOrDie()});
    if (latest - kDelay > watermark) {
      watermark = latest - kDelay;
      step.watermark = watermark;
    }
    steps.push_back(std::move(step));
  }
  return steps;
}

/// What a processor gave for each call (a step, then the end of the input), and its dead
/// letters, as JSON lines.
struct Outputs {
  std::vector<std::vector<std::string>> emissions;
  std::vector<std::string> dead_letters;
};

std::vector<std::string> Lines(exec::CollectingEmitter& out) {
  std::vector<std::string> lines;
  for (const auto& batch : out.batches()) {
    for (int64_t row = 0; row < batch->num_rows(); ++row) {
      lines.push_back(exec::RowToJson(*batch, row));
    }
  }
  return lines;
}

/// An sql step over the random input, with its dead-letter queue.
struct Sql {
  exec::DeadLetterQueue dead_letters;
  std::unique_ptr<exec::Processor> processor;

  explicit Sql(const std::string& step) {
    exec::ProcessorContext context;
    context.pipeline_name = "test";
    context.dead_letters = &dead_letters;
    context.event_time_field = "ts";
    auto made = testing::ProcessorFromYaml("sql", step, InputSchema(), std::move(context));
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    if (made.ok()) processor = std::move(*made);
  }

  /// Runs steps [first, last) and, with `end`, the end of the input; adds to `run`.
  void Drive(const std::vector<Step>& steps, size_t first, size_t last, bool end, Outputs* run) {
    for (size_t i = first; i < last; ++i) {
      exec::CollectingEmitter out;
      Status status = processor->Process(steps[i].batch, out);
      ASSERT_TRUE(status.ok()) << status.ToString();
      if (steps[i].watermark) {
        status = processor->OnWatermark(*steps[i].watermark, out);
        ASSERT_TRUE(status.ok()) << status.ToString();
      }
      run->emissions.push_back(Lines(out));
    }
    if (end) {
      exec::CollectingEmitter out;
      Status status = processor->OnWatermark(exec::kMaxTimestamp, out);
      ASSERT_TRUE(status.ok()) << status.ToString();
      status = processor->Finish(out);
      ASSERT_TRUE(status.ok()) << status.ToString();
      run->emissions.push_back(Lines(out));
    }
    for (const auto& letter : dead_letters.Drain()) {
      run->dead_letters.push_back(letter.reason + " " + letter.record);
    }
  }
};

void ExpectSameSnapshot(const state::StateSnapshot& expected, const state::StateSnapshot& actual) {
  EXPECT_EQ(expected.values, actual.values);
  ASSERT_EQ(expected.tables.size(), actual.tables.size());
  for (size_t i = 0; i < expected.tables.size(); ++i) {
    EXPECT_EQ(expected.tables[i].first, actual.tables[i].first);
    EXPECT_TRUE(expected.tables[i].second->Equals(*actual.tables[i].second))
        << expected.tables[i].first;
  }
}

/// For each cut: a step runs the first batches and is snapshotted; it goes on to the end, and a
/// second step restored from the snapshot runs the rest. Both must give what one step gives.
void ExpectRestoresAnywhere(const std::string& step, const std::vector<Step>& steps,
                            bool expect_dead_letters) {
  const size_t n = steps.size();
  Outputs whole;
  Sql uninterrupted(step);
  ASSERT_NE(uninterrupted.processor, nullptr);
  EXPECT_TRUE(uninterrupted.processor->checkpointable());
  uninterrupted.Drive(steps, 0, n, true, &whole);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  int64_t rows = 0;
  for (const auto& emission : whole.emissions) rows += static_cast<int64_t>(emission.size());
  EXPECT_GT(rows, 5);
  if (expect_dead_letters) EXPECT_GT(whole.dead_letters.size(), 0u);

  for (size_t cut : {size_t{0}, size_t{1}, n / 5, n / 2, 3 * n / 4, n - 1, n}) {
    SCOPED_TRACE("cut after " + std::to_string(cut) + " of " + std::to_string(n) + " batches");
    Outputs before;
    Sql first(step);
    first.Drive(steps, 0, cut, false, &before);
    auto snapshot = first.processor->SnapshotState();
    ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
    auto written = state::RoundTrip(*snapshot);
    ASSERT_TRUE(written.ok()) << written.status().ToString();

    // The first step goes on: the snapshot it handed over must not change.
    Outputs on = before;
    first.Drive(steps, cut, n, true, &on);
    EXPECT_EQ(on.emissions, whole.emissions);
    auto written_later = state::RoundTrip(*snapshot);
    ASSERT_TRUE(written_later.ok()) << written_later.status().ToString();
    ExpectSameSnapshot(*written, *written_later);

    Outputs after = before;
    Sql second(step);
    Status restored = second.processor->RestoreState(*written_later);
    ASSERT_TRUE(restored.ok()) << restored.ToString();
    second.Drive(steps, cut, n, true, &after);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    EXPECT_EQ(second.processor->state_bytes(), 0);
    EXPECT_EQ(after.dead_letters, whole.dead_letters);
    // The statements order their rows, so each call's rows come in one order.
    EXPECT_EQ(after.emissions, whole.emissions);
  }
}

constexpr const char* kWindowQuery =
    "SELECT k, window_start, window_end, count(*) AS n, sum(v) AS total, min(ts) AS first "
    "FROM input GROUP BY ALL ORDER BY k NULLS FIRST, window_start";

TEST(SqlCheckpointTest, ARestoredTumblingWindowGoesOnAsIfItHadNeverStopped) {
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    ExpectRestoresAnywhere(
        std::string("sql: {query: \"") + kWindowQuery + "\", window: {tumbling: 10s}}",
        RandomSteps(seed, 500), true);
  }
}

TEST(SqlCheckpointTest, ARestoredSlidingWindowGoesOnAsIfItHadNeverStopped) {
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    ExpectRestoresAnywhere(std::string("sql: {query: \"") + kWindowQuery +
                               "\", window: {sliding: {size: 10s, slide: 4s}}}",
                           RandomSteps(seed, 500), true);
  }
}

TEST(SqlCheckpointTest, ARestoredWholeInputStatementGoesOnAsIfItHadNeverStopped) {
  ExpectRestoresAnywhere(
      "sql: \"SELECT k, count(*) AS n, sum(v) AS total, max(ts) AS last FROM input GROUP BY k "
      "ORDER BY k NULLS FIRST\"",
      RandomSteps(3, 300), false);
}

TEST(SqlCheckpointTest, AWholeInputStatementThatRanStaysRun) {
  const std::string step = "sql: \"SELECT count(*) AS n FROM input\"";
  const std::vector<Step> steps = RandomSteps(4, 30);
  Sql first(step);
  Outputs before;
  first.Drive(steps, 0, steps.size(), true, &before);
  int64_t rows = 0;
  for (const Step& one : steps) rows += one.batch->num_rows();
  ASSERT_EQ(before.emissions.back(),
            (std::vector<std::string>{"{\"n\":" + std::to_string(rows) + "}"}));
  auto snapshot = first.processor->SnapshotState();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  auto written = state::RoundTrip(*snapshot);
  ASSERT_TRUE(written.ok()) << written.status().ToString();

  // Rows after the run are refused, not run again.
  Sql second(step);
  ASSERT_TRUE(second.processor->RestoreState(*written).ok());
  Outputs after;
  second.Drive(steps, 0, 1, true, &after);
  EXPECT_EQ(after.emissions, (std::vector<std::vector<std::string>>{{}, {}}));
  ASSERT_EQ(after.dead_letters.size(), static_cast<size_t>(steps[0].batch->num_rows()));
  EXPECT_EQ(after.dead_letters[0].rfind("late: the statement has run", 0), 0u)
      << after.dead_letters[0];
}

TEST(SqlCheckpointTest, SnapshotsShareTheKeptBatches) {
  const std::vector<Step> steps = RandomSteps(5, 40);
  // One batch with its times in order lands in one pane as a slice of the batch itself.
  auto batch = steps[0].batch->Slice(0, 1);
  Sql window(std::string("sql: {query: \"") + kWindowQuery + "\", window: 1h}");
  exec::CollectingEmitter out;
  ASSERT_TRUE(window.processor->Process(batch, out).ok());
  auto snapshot = window.processor->SnapshotState();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  auto rows = snapshot->Table("rows");
  ASSERT_NE(rows, nullptr);
  ASSERT_EQ(rows->num_rows(), 1);
  EXPECT_EQ(rows->column(1)->chunk(0)->data()->buffers[1], batch->column(1)->data()->buffers[1]);
  ASSERT_NE(snapshot->Table("panes"), nullptr);
  EXPECT_EQ(snapshot->Table("panes")->num_rows(), 1);

  Sql whole("sql: \"SELECT count(*) AS n FROM input\"");
  ASSERT_TRUE(whole.processor->Process(steps[0].batch, out).ok());
  snapshot = whole.processor->SnapshotState();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  rows = snapshot->Table("rows");
  ASSERT_NE(rows, nullptr);
  EXPECT_EQ(rows->column(0)->chunk(0)->data()->buffers[2],
            steps[0].batch->column(0)->data()->buffers[2]);
}

TEST(SqlCheckpointTest, ADamagedSnapshotIsAnErrorAndARowWiseStatementHasNoState) {
  Sql window(std::string("sql: {query: \"") + kWindowQuery + "\", window: 10s}");
  EXPECT_FALSE(window.processor->RestoreState(state::StateSnapshot{}).ok());
  Sql whole("sql: \"SELECT count(*) AS n FROM input\"");
  EXPECT_FALSE(whole.processor->RestoreState(state::StateSnapshot{}).ok());

  // Panes that claim more rows than the snapshot holds.
  const std::vector<Step> steps = RandomSteps(6, 40);
  exec::CollectingEmitter out;
  ASSERT_TRUE(window.processor->Process(steps[0].batch, out).ok());
  auto snapshot = window.processor->SnapshotState();
  ASSERT_TRUE(snapshot.ok());
  for (auto& [name, table] : snapshot->tables) {
    if (name == "rows") table = table->Slice(0, table->num_rows() - 1);
  }
  Sql damaged(std::string("sql: {query: \"") + kWindowQuery + "\", window: 10s}");
  EXPECT_FALSE(damaged.processor->RestoreState(*snapshot).ok());

  Sql row_wise("sql: \"SELECT k, v * 2 AS doubled FROM input\"");
  EXPECT_TRUE(row_wise.processor->stateless());
  EXPECT_TRUE(row_wise.processor->checkpointable());
}

}  // namespace
}  // namespace sluice::processors
