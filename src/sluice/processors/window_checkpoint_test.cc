// Checkpoints of the window processor: a window restored from a snapshot taken after any batch
// goes on exactly as one that never stopped (same rows, same dead letters), and the snapshot it
// handed over does not change as the window goes on.

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "sluice/processors/window.h"
#include "sluice/state/snapshot_io.h"
#include "sluice/testing/checkpoint_replay.h"

namespace sluice::processors {
namespace {

using testing::DrivenStage;
using testing::Step;

constexpr int64_t kSecond = 1000000;
/// How far the watermark trails the latest event time, as a source's `delay` would.
constexpr int64_t kDelay = 3 * kSecond;

std::shared_ptr<arrow::DataType> TimeType() {
  return arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
}

std::shared_ptr<arrow::Schema> InputSchema() {
  return arrow::schema({arrow::field("key", arrow::utf8()), arrow::field("g", arrow::int32()),
                        arrow::field("v", arrow::float64()), arrow::field("n", arrow::int64()),
                        arrow::field("s", arrow::utf8()), arrow::field("ts", TimeType())});
}

/// Random rows: keys that grow in number over time, nulls, values with ties, times out of
/// order within kDelay, and a few rows further behind (late, or within allowed lateness). Each
/// batch is followed by the watermark: the latest event time so far minus kDelay.
std::vector<Step> MakeInput(uint32_t seed, int batches = 30) {
  std::mt19937 random(seed);
  std::vector<Step> input;
  int64_t now = 1000 * kSecond, latest = exec::kMinTimestamp;
  const std::vector<std::string> strings = {"x", "y", "zz", "w", ""};
  for (int b = 0; b < batches; ++b) {
    arrow::StringBuilder keys, texts;
    arrow::Int32Builder groups;
    arrow::DoubleBuilder values;
    arrow::Int64Builder numbers;
    arrow::TimestampBuilder times(TimeType(), arrow::default_memory_pool());
    const int rows = b % 7 == 3 ? 0 : static_cast<int>(random() % 40);
    for (int i = 0; i < rows; ++i) {
      now += static_cast<int64_t>(random() % (kSecond / 2));
      int64_t time = now - static_cast<int64_t>(random() % kDelay);
      if (random() % 20 == 0)
        time = now - kDelay - static_cast<int64_t>(random() % (30 * kSecond));
      latest = std::max(latest, time);
      std::string key(1, static_cast<char>('a' + random() % (3 + b / 6)));
      EXPECT_TRUE(keys.Append(key).ok());
      EXPECT_TRUE((random() % 10 == 0 ? groups.AppendNull()
                                      : groups.Append(static_cast<int32_t>(random() % 2)))
                      .ok());
      EXPECT_TRUE((random() % 5 == 0 ? values.AppendNull()
                                     : values.Append(1 + static_cast<double>(random() % 40) / 4))
                      .ok());
      EXPECT_TRUE((random() % 5 == 0 ? numbers.AppendNull()
                                     : numbers.Append(static_cast<int64_t>(random() % 10) - 3))
                      .ok());
      const std::string& text = strings[random() % strings.size()];
      EXPECT_TRUE((random() % 5 == 0 ? texts.AppendNull() : texts.Append(text)).ok());
      EXPECT_TRUE(times.Append(time).ok());
    }
    Step& step = input.emplace_back();
    step.batch = arrow::RecordBatch::Make(
        InputSchema(), rows,
        {keys.Finish().ValueOrDie(), groups.Finish().ValueOrDie(), values.Finish().ValueOrDie(),
         numbers.Finish().ValueOrDie(), texts.Finish().ValueOrDie(), times.Finish().ValueOrDie()});
    step.watermark = latest == exec::kMinTimestamp ? latest : latest - kDelay;
  }
  return input;
}

/// One window stage over the random input.
struct Window : DrivenStage {
  explicit Window(const std::string& step)
      : DrivenStage("window", step, {{"in", InputSchema(), "ts"}}) {}
};

/// The property (testing::ExpectResumesAtEveryCut()): for cut points k, a window A fed batches
/// [0, k) and snapshotted, and a fresh window B restored from the snapshot (through IPC files)
/// and fed the rest, together emit what one uninterrupted window emits, row for row and value
/// for value, with the same dead letters. A goes on after its snapshot, which must not change.
/// Cuts after 0, 1, ... batches and a few more, or after every batch with `every_cut`. Returns
/// how many slots the middle snapshot held.
int64_t CheckRestoreAnywhere(const std::string& step, uint32_t seed, bool every_cut = false) {
  SCOPED_TRACE("seed " + std::to_string(seed) + ": " + step);
  const std::vector<Step> input = MakeInput(seed);
  const size_t count = input.size();
  testing::ReplayOptions options;
  options.cuts = {0, 1, count / 4, count / 2, count / 2 + 1, count - 1, count};
  if (every_cut) {
    options.cuts.resize(count + 1);
    std::iota(options.cuts.begin(), options.cuts.end(), 0);
  }
  int64_t middle_slots = 0;
  options.on_snapshot = [&](size_t cut, const state::StateSnapshot& snapshot) {
    if (cut != count / 2) return;
    auto slots = snapshot.Table("slots");
    EXPECT_NE(slots, nullptr);
    if (slots != nullptr) middle_slots = slots->num_rows();
  };
  auto whole = testing::ExpectResumesAtEveryCut("window", step, {{"in", InputSchema(), "ts"}},
                                                input, options);
  EXPECT_GE(whole.output_rows(), 10);
  EXPECT_EQ(whole.final_state_bytes, 0);
  // The input has late rows for time windows; early firings when asked for.
  if (step.find("count:") == std::string::npos) EXPECT_FALSE(whole.dead_letters.empty());
  if (step.find("emit_every") != std::string::npos) {
    EXPECT_TRUE(std::any_of(whole.output.begin(), whole.output.end(), [](const auto& line) {
      return line.find("\"final\":false") != std::string::npos;
    }));
  }
  return middle_slots;
}

/// Every aggregate function over doubles, and those with their own storage of integers and
/// strings.
const char kAggregates[] =
    "aggregate: {v: [count, sum, min, max, avg, first, last, variance, stddev, var_pop, "
    "stddev_pop, median, p90, p25, count_distinct, approx_count_distinct, harmonic_mean, "
    "geometric_mean, ema, zscore, minmax], "
    "n: [sum, min, max, first, last, count_distinct, approx_count_distinct], "
    "s: [count, min, max, first, last, count_distinct, approx_count_distinct]}";

TEST(WindowCheckpointTest, TumblingWithLatenessAndEarlyFiringsRestoresAnywhere) {
  for (uint32_t seed : {1u, 2u}) {
    EXPECT_GT(CheckRestoreAnywhere(std::string("window: {tumbling: 10s, group_by: [key], "
                                               "allowed_lateness: 5s, emit_every: 4s, ") +
                                       kAggregates + "}",
                                   seed),
              0);
  }
}

TEST(WindowCheckpointTest, TumblingWithoutKeysRestoresAnywhere) {
  EXPECT_GT(CheckRestoreAnywhere("window: {tumbling: 7s, aggregate: {v: [sum, median], "
                                 "s: [last]}}",
                                 3),
            0);
}

TEST(WindowCheckpointTest, SlidingRestoresAnywhere) {
  for (uint32_t seed : {4u, 5u}) {
    EXPECT_GT(CheckRestoreAnywhere(std::string("window: {sliding: {size: 10s, slide: 4s}, "
                                               "group_by: [key, g], allowed_lateness: 3s, ") +
                                       kAggregates + "}",
                                   seed),
              0);
  }
}

TEST(WindowCheckpointTest, SessionWithLatenessAndEarlyFiringsRestoresAnywhere) {
  for (uint32_t seed : {6u, 7u}) {
    EXPECT_GT(CheckRestoreAnywhere(std::string("window: {session: 2s, group_by: [key], "
                                               "allowed_lateness: 2s, emit_every: 5s, ") +
                                       kAggregates + "}",
                                   seed),
              0);
  }
}

TEST(WindowCheckpointTest, SessionsRestoreAfterEveryBatch) {
  EXPECT_GT(CheckRestoreAnywhere("window: {session: 2s, group_by: [key], allowed_lateness: 4s, "
                                 "aggregate: {v: [sum, last, zscore]}}",
                                 15, /*every_cut=*/true),
            0);
}

/// A late row that extends a fired session past the watermark leaves it to be emitted again
/// once its new end has passed: the snapshot keeps that.
TEST(WindowCheckpointTest, ASessionToEmitAgainIsRestored) {
  const std::string step =
      "window: {session: 2s, group_by: [key], allowed_lateness: 4s, aggregate: {v: [sum]}}";
  auto column = [](const std::shared_ptr<arrow::DataType>& type, const std::string& json) {
    return arrow::json::ArrayFromJSONString(type, "[" + json + "]").ValueOrDie();
  };
  auto row = [&](int64_t time, double value) {
    Step step;
    step.batch = arrow::RecordBatch::Make(
        InputSchema(), 1,
        {column(arrow::utf8(), R"("a")"), column(arrow::int32(), "0"),
         column(arrow::float64(), std::to_string(value)), column(arrow::int64(), "0"),
         column(arrow::utf8(), R"("x")"), column(TimeType(), std::to_string(time))});
    step.watermark = 2 * kSecond;
    return step;
  };
  Window a(step);
  ASSERT_TRUE(a.Drive(row(0, 1)).ok());  // the session [0s, 2s) fires at watermark 2s
  ASSERT_EQ(a.rows().size(), 1u);
  // A row that extends it to [0s, 3.5s), not yet ended.
  ASSERT_TRUE(a.Drive(row(kSecond + kSecond / 2, 2)).ok());
  EXPECT_EQ(a.rows().size(), 1u);
  auto snapshot = a.processor().SnapshotState();
  ASSERT_TRUE(snapshot.ok());
  auto saved = state::RoundTrip(*snapshot);
  ASSERT_TRUE(saved.ok());
  Window b(step);
  ASSERT_TRUE(b.processor().RestoreState(*saved).ok());
  Step watermark;
  watermark.watermark = 4 * kSecond;
  ASSERT_TRUE(b.Drive(watermark).ok());
  auto lines = b.rows();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find(R"("window_end":"1970-01-01T00:00:03.5Z","v_sum":3.0)"),
            std::string::npos)
      << lines[0];
}

TEST(WindowCheckpointTest, SessionKeyedByNullableIntegersRestoresAnywhere) {
  EXPECT_GT(CheckRestoreAnywhere("window: {session: 1s, group_by: [g], aggregate: {v: [ema, "
                                 "avg], n: [count_distinct]}}",
                                 8),
            0);
}

TEST(WindowCheckpointTest, CountRestoresAnywhere) {
  for (uint32_t seed : {9u, 10u}) {
    EXPECT_GT(CheckRestoreAnywhere(
                  std::string("window: {count: {size: 5, slide: 2}, group_by: [key], ") +
                      kAggregates + "}",
                  seed),
              0);
  }
  EXPECT_GT(CheckRestoreAnywhere("window: {count: 4, aggregate: {v: [last, p90]}}", 11), 0);
}

TEST(WindowCheckpointTest, AFreshWindowsSnapshotRestoresToAFreshWindow) {
  const std::string step = "window: {session: 2s, group_by: [key], aggregate: {v: [sum]}}";
  Window fresh(step);
  auto snapshot = fresh.processor().SnapshotState();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  auto saved = state::RoundTrip(*snapshot);
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  ASSERT_NE(saved->Table("slots"), nullptr);
  EXPECT_EQ(saved->Table("slots")->num_rows(), 0);
  Window restored(step);
  ASSERT_TRUE(restored.processor().RestoreState(*saved).ok());
  EXPECT_EQ(restored.processor().state_bytes(), 0);
  Window reference(step);
  const std::vector<Step> input = MakeInput(12, 10);
  ASSERT_TRUE(reference.Drive(input, 0, input.size()).ok());
  ASSERT_TRUE(reference.End().ok());
  ASSERT_TRUE(restored.Drive(input, 0, input.size()).ok());
  ASSERT_TRUE(restored.End().ok());
  EXPECT_EQ(restored.rows(), reference.rows());
  EXPECT_EQ(restored.dead_letters(), reference.dead_letters());
}

TEST(WindowCheckpointTest, TheSlotsTableIsLaidOutByKey) {
  Window stage("window: {tumbling: 10s, group_by: [key], aggregate: {v: [avg]}}");
  const std::vector<Step> input = MakeInput(13, 5);
  ASSERT_TRUE(stage.Drive(input, 0, input.size()).ok());
  auto snapshot = stage.processor().SnapshotState();
  ASSERT_TRUE(snapshot.ok());
  auto slots = snapshot->Table("slots");
  ASSERT_NE(slots, nullptr);
  EXPECT_EQ(slots->schema()->field_names(),
            (std::vector<std::string>{"key_id", "key", "pane_start", "rows", "first_time",
                                      "last_time", "v_avg.count", "v_avg.mean", "v_avg.m2",
                                      "v_avg.min", "v_avg.max", "v_avg.last", "v_avg.last_time"}));
  EXPECT_GT(slots->num_rows(), 0);
  EXPECT_EQ(snapshot->Value("kind"), "tumbling");
}

TEST(WindowCheckpointTest, AForeignOrDamagedSnapshotIsAnError) {
  Window tumbling("window: {tumbling: 10s, group_by: [key], aggregate: {v: [sum]}}");
  const std::vector<Step> input = MakeInput(14, 5);
  ASSERT_TRUE(tumbling.Drive(input, 0, input.size()).ok());
  auto snapshot = tumbling.processor().SnapshotState();
  ASSERT_TRUE(snapshot.ok());

  Window session("window: {session: 10s, group_by: [key], aggregate: {v: [sum]}}");
  EXPECT_FALSE(session.processor().RestoreState(*snapshot).ok());
  // Another aggregate: the state columns differ.
  Window other("window: {tumbling: 10s, group_by: [key], aggregate: {v: [avg]}}");
  EXPECT_FALSE(other.processor().RestoreState(*snapshot).ok());
  // A window that has already processed rows takes no state.
  EXPECT_FALSE(tumbling.processor().RestoreState(*snapshot).ok());

  auto damaged = *snapshot;
  damaged.values.erase("watermark");
  Window missing("window: {tumbling: 10s, group_by: [key], aggregate: {v: [sum]}}");
  EXPECT_FALSE(missing.processor().RestoreState(damaged).ok());
}

}  // namespace
}  // namespace sluice::processors
