// Checkpoints of top_n: it ranks within each batch and keeps nothing between batches, so its
// snapshot is empty and a restored top_n goes on exactly as one that never stopped.

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "sluice/processors/top_n.h"
#include "sluice/testing/checkpoint_replay.h"

namespace sluice::processors {
namespace {

using testing::Step;

std::shared_ptr<arrow::Schema> InputSchema() {
  return arrow::schema({arrow::field("key", arrow::utf8()), arrow::field("v", arrow::float64()),
                        arrow::field("s", arrow::utf8()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
}

/// Random batches (several keys, nulls, ties, times out of order), each followed by the
/// watermark.
std::vector<Step> MakeInput(uint32_t seed) {
  constexpr int64_t kSecond = 1000000, kDelay = 3 * kSecond;
  std::mt19937 random(seed);
  std::vector<Step> input;
  int64_t now = 1000 * kSecond, latest = exec::kMinTimestamp;
  for (int b = 0; b < 25; ++b) {
    arrow::StringBuilder keys, texts;
    arrow::DoubleBuilder values;
    arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                                  arrow::default_memory_pool());
    const int rows = static_cast<int>(random() % 30);
    for (int i = 0; i < rows; ++i) {
      now += static_cast<int64_t>(random() % kSecond);
      int64_t time = now - static_cast<int64_t>(random() % (2 * kDelay));
      latest = std::max(latest, time);
      EXPECT_TRUE(keys.Append(std::string(1, static_cast<char>('a' + random() % 4))).ok());
      EXPECT_TRUE((random() % 6 == 0 ? values.AppendNull()
                                     : values.Append(static_cast<double>(random() % 12)))
                      .ok());
      EXPECT_TRUE(texts.Append(std::string(1, static_cast<char>('p' + random() % 5))).ok());
      EXPECT_TRUE(times.Append(time).ok());
    }
    Step& step = input.emplace_back();
    step.batch = arrow::RecordBatch::Make(
        InputSchema(), rows,
        {keys.Finish().ValueOrDie(), values.Finish().ValueOrDie(), texts.Finish().ValueOrDie(),
         times.Finish().ValueOrDie()});
    step.watermark = latest == exec::kMinTimestamp ? latest : latest - kDelay;
  }
  return input;
}

/// For several k, a top_n A fed batches [0, k) and snapshotted, and a fresh B restored from
/// the snapshot and fed the rest, emit together what one uninterrupted top_n emits
/// (testing::ExpectResumesAtEveryCut()); the snapshot is empty.
void CheckRestoreAnywhere(const std::string& step, uint32_t seed) {
  SCOPED_TRACE(step);
  const std::vector<Step> input = MakeInput(seed);
  const size_t count = input.size();
  testing::ReplayOptions options;
  options.cuts = {0, 1, count / 3, count / 2, count - 1, count};
  options.on_snapshot = [](size_t, const state::StateSnapshot& snapshot) {
    EXPECT_TRUE(snapshot.tables.empty());
    EXPECT_TRUE(snapshot.values.empty());
  };
  auto whole = testing::ExpectResumesAtEveryCut("top_n", step, {{"in", InputSchema(), "ts"}},
                                                input, options);
  EXPECT_GT(whole.output_rows(), 20);
}

TEST(TopNCheckpointTest, RestoresAnywhere) {
  CheckRestoreAnywhere("top_n: {n: 2, by: v, per: [key]}", 1);
  CheckRestoreAnywhere("top_n: {n: 1, by: s, order: asc, with_ties: true}", 2);
  CheckRestoreAnywhere("top_n: {n: 3, by: v, order: asc, per: [s, key], with_ties: true}", 3);
}

}  // namespace
}  // namespace sluice::processors
