// The unification property of windows: a window pipeline gives the same final output whether
// its input comes as one file read in big batches, as micro-batches of one row, or with the
// rows reordered within the watermark delay (so that no row is late). Checked on random
// streams with nulls in values and in group keys, for tumbling, sliding and session windows
// with zero and one group-by field.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "sluice/formats/formats_test_support.h"
#include "window_test_support.h"

namespace sluice::testing {
namespace {

using formats::testing::ScratchDirectory;

constexpr int64_t kRows = 1000;
constexpr int64_t kDelay = 2 * kMicrosPerSecond;
constexpr uint32_t kSeeds[] = {7, 1234, 99991};

/// Every aggregate function. first, last, ema, zscore and minmax follow the event-time order of
/// a window's rows (event times are unique here), so they too must not depend on arrival order.
constexpr const char* kAggregates =
    "{v: [count, sum, min, max, avg, variance, stddev, var_pop, stddev_pop, median, p95, "
    "count_distinct, "
    "approx_count_distinct, first, last, ema, zscore, minmax], w: [harmonic_mean, geometric_mean, "
    "first, last]}";

std::string WindowPipeline(const std::string& path, int64_t batch_size, const std::string& window,
                           const std::string& group_by, const std::string& aggregate) {
  return fmt::format(
      "name: unification\n"
      "sources:\n"
      "  events:\n"
      "    connector: file\n"
      "    path: {}\n"
      "    batch_size: {}\n"
      "    event_time: {{field: ts, watermark_delay: 2s}}\n"
      "pipeline:\n"
      "  - window:\n"
      "      {}\n"
      "{}"
      "      aggregate: {}\n"
      "sinks:\n"
      "  out: {{connector: collect}}\n"
      "dead_letters: {{connector: blackhole}}\n",
      path, batch_size, window,
      group_by.empty() ? "" : fmt::format("      group_by: [{}]\n", group_by), aggregate);
}

/// The sum of the `count` column: how many (row, window) memberships the output covers.
int64_t CountedRows(const arrow::Table& table) {
  auto column = table.GetColumnByName("count");
  if (column == nullptr) return -1;
  int64_t total = 0;
  for (const auto& chunk : column->chunks()) {
    auto counts = *arrow::compute::Cast(*chunk, arrow::int64());
    const auto& values = static_cast<const arrow::Int64Array&>(*counts);
    for (int64_t i = 0; i < values.length(); ++i) total += values.IsNull(i) ? 0 : values.Value(i);
  }
  return total;
}

/// Runs the window over each seed's stream in four ways and expects one answer.
/// `windows_per_row` is how many windows each row falls in (sliding: size / slide), for the
/// check that every row is counted; 0 skips that check.
void ExpectUnified(const std::string& window, const std::string& group_by,
                   int64_t windows_per_row) {
  for (uint32_t seed : kSeeds) {
    SCOPED_TRACE(fmt::format("seed {}, window {}, group_by [{}]", seed, window, group_by));
    auto events = RandomEvents(seed, kRows);
    ScratchDirectory dir;
    std::string in_order = dir.File("in_order.parquet");
    std::string shuffled = dir.File("shuffled.parquet");
    ASSERT_TRUE(
        WriteParquet(in_order, EventBatch(events, ShuffleWithinDelay(events, kDelay / 4, seed + 1)))
            .ok());
    ASSERT_TRUE(
        WriteParquet(shuffled, EventBatch(events, ShuffleWithinDelay(events, kDelay, seed + 2)))
            .ok());

    struct Variant {
      const char* name;
      std::string path;
      int64_t batch_size;
    };
    const Variant variants[] = {{"one file, big batches", in_order, 65536},
                                {"one file, batches of one row", in_order, 1},
                                {"shuffled within the delay, batches of one row", shuffled, 1},
                                {"shuffled within the delay, batches of 97 rows", shuffled, 97}};
    std::shared_ptr<arrow::Table> reference;
    for (const auto& variant : variants) {
      SCOPED_TRACE(variant.name);
      auto output = RunPipeline(
          WindowPipeline(variant.path, variant.batch_size, window, group_by, kAggregates));
      ASSERT_TRUE(output.ok()) << output.status().ToString();
      EXPECT_EQ(output->summary.rows_in, kRows);
      EXPECT_EQ(output->summary.dead_letters, 0);
      EXPECT_EQ(output->summary.late, 0);
      EXPECT_EQ(output->summary.final_state_bytes, 0);
      if (windows_per_row > 0) EXPECT_EQ(CountedRows(*output->table), kRows * windows_per_row);
      if (reference == nullptr) {
        reference = output->table;
        EXPECT_GE(reference->num_rows(), 3) << "the stream should span several windows";
        continue;
      }
      std::string differences = DescribeDifferences(*reference, *output->table);
      EXPECT_TRUE(differences.empty()) << "differs from big batches in order:\n" << differences;
    }
  }
}

TEST(UnificationTest, TumblingWithoutGroups) { ExpectUnified("tumbling: 5s", "", 1); }

TEST(UnificationTest, TumblingByKey) { ExpectUnified("tumbling: 5s", "key", 1); }

TEST(UnificationTest, SlidingWithoutGroups) {
  ExpectUnified("sliding: {size: 10s, slide: 2s}", "", 5);
}

TEST(UnificationTest, SlidingByKey) { ExpectUnified("sliding: {size: 10s, slide: 2s}", "key", 5); }

TEST(UnificationTest, SessionWithoutGroups) { ExpectUnified("session: {gap: 1s}", "", 1); }

TEST(UnificationTest, SessionByKey) { ExpectUnified("session: {gap: 1s}", "key", 1); }

}  // namespace
}  // namespace sluice::testing
