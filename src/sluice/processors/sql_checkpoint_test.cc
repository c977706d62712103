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

#include "sluice/processors/sql.h"
#include "sluice/state/snapshot_io.h"
#include "sluice/testing/checkpoint_replay.h"

namespace sluice::processors {
namespace {

using exec::Timestamp;
using testing::Step;

constexpr Timestamp kSecond = 1000000;
/// How far the watermark trails the latest event time.
constexpr Timestamp kDelay = 3 * kSecond;

std::shared_ptr<arrow::Schema> InputSchema() {
  return arrow::schema({arrow::field("k", arrow::utf8()), arrow::field("v", arrow::int64()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
}

std::vector<exec::InputStream> Inputs() { return {{"in", InputSchema(), "ts"}}; }

/// An sql step over the random input.
struct Sql : testing::DrivenStage {
  explicit Sql(const std::string& step) : testing::DrivenStage("sql", step, Inputs()) {}
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

/// For each cut, a step stopped there and one restored from its snapshot give together what
/// one step that never stopped gives (testing::ExpectResumesAtEveryCut()).
void ExpectRestoresAnywhere(const std::string& step, const std::vector<Step>& steps,
                            bool expect_dead_letters) {
  const size_t n = steps.size();
  testing::ReplayOptions options;
  options.cuts = {0, 1, n / 5, n / 2, 3 * n / 4, n - 1, n};
  auto whole = testing::ExpectResumesAtEveryCut("sql", step, Inputs(), steps, options);
  EXPECT_GT(whole.output_rows(), 5);
  if (expect_dead_letters) EXPECT_FALSE(whole.dead_letters.empty());
  EXPECT_EQ(whole.final_state_bytes, 0);
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
  ASSERT_TRUE(first.Drive(steps, 0, steps.size()).ok());
  ASSERT_TRUE(first.End().ok());
  int64_t rows = 0;
  for (const Step& one : steps) rows += one.batch->num_rows();
  ASSERT_EQ(first.emissions().back(),
            (std::vector<std::string>{"{\"n\":" + std::to_string(rows) + "}"}));
  auto snapshot = first.processor().SnapshotState();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  auto written = state::RoundTrip(*snapshot);
  ASSERT_TRUE(written.ok()) << written.status().ToString();

  // Rows after the run are refused, not run again.
  Sql second(step);
  ASSERT_TRUE(second.processor().RestoreState(*written).ok());
  ASSERT_TRUE(second.Drive(steps[0]).ok());
  ASSERT_TRUE(second.End().ok());
  EXPECT_EQ(second.emissions(), (std::vector<std::vector<std::string>>{{}, {}}));
  ASSERT_EQ(second.dead_letters().size(), static_cast<size_t>(steps[0].batch->num_rows()));
  EXPECT_EQ(second.dead_letters()[0].rfind("late: the statement has run", 0), 0u)
      << second.dead_letters()[0];
}

TEST(SqlCheckpointTest, SnapshotsShareTheKeptBatches) {
  const std::vector<Step> steps = RandomSteps(5, 40);
  // One batch with its times in order lands in one pane as a slice of the batch itself.
  auto batch = steps[0].batch->Slice(0, 1);
  Sql window(std::string("sql: {query: \"") + kWindowQuery + "\", window: 1h}");
  exec::CollectingEmitter out;
  ASSERT_TRUE(window.processor().Process(batch, out).ok());
  auto snapshot = window.processor().SnapshotState();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  auto rows = snapshot->Table("rows");
  ASSERT_NE(rows, nullptr);
  ASSERT_EQ(rows->num_rows(), 1);
  EXPECT_EQ(rows->column(1)->chunk(0)->data()->buffers[1], batch->column(1)->data()->buffers[1]);
  ASSERT_NE(snapshot->Table("panes"), nullptr);
  EXPECT_EQ(snapshot->Table("panes")->num_rows(), 1);

  Sql whole("sql: \"SELECT count(*) AS n FROM input\"");
  ASSERT_TRUE(whole.processor().Process(steps[0].batch, out).ok());
  snapshot = whole.processor().SnapshotState();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  rows = snapshot->Table("rows");
  ASSERT_NE(rows, nullptr);
  EXPECT_EQ(rows->column(0)->chunk(0)->data()->buffers[2],
            steps[0].batch->column(0)->data()->buffers[2]);
}

TEST(SqlCheckpointTest, ADamagedSnapshotIsAnErrorAndARowWiseStatementHasNoState) {
  Sql window(std::string("sql: {query: \"") + kWindowQuery + "\", window: 10s}");
  EXPECT_FALSE(window.processor().RestoreState(state::StateSnapshot{}).ok());
  Sql whole("sql: \"SELECT count(*) AS n FROM input\"");
  EXPECT_FALSE(whole.processor().RestoreState(state::StateSnapshot{}).ok());

  // Panes that claim more rows than the snapshot holds.
  const std::vector<Step> steps = RandomSteps(6, 40);
  exec::CollectingEmitter out;
  ASSERT_TRUE(window.processor().Process(steps[0].batch, out).ok());
  auto snapshot = window.processor().SnapshotState();
  ASSERT_TRUE(snapshot.ok());
  for (auto& [name, table] : snapshot->tables) {
    if (name == "rows") table = table->Slice(0, table->num_rows() - 1);
  }
  Sql damaged(std::string("sql: {query: \"") + kWindowQuery + "\", window: 10s}");
  EXPECT_FALSE(damaged.processor().RestoreState(*snapshot).ok());

  Sql row_wise("sql: \"SELECT k, v * 2 AS doubled FROM input\"");
  EXPECT_TRUE(row_wise.processor().stateless());
  EXPECT_TRUE(row_wise.processor().checkpointable());
}

}  // namespace
}  // namespace sluice::processors
