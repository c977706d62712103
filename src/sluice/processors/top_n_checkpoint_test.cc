// Checkpoints of top_n: it ranks within each batch and keeps nothing between batches, so its
// snapshot is empty and a restored top_n goes on exactly as one that never stopped.

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "sluice/exec/dead_letter.h"
#include "sluice/exec/processor.h"
#include "sluice/processors/top_n.h"
#include "sluice/state/snapshot_io.h"
#include "sluice/testing/processor_from_yaml.h"

namespace sluice::processors {
namespace {

std::shared_ptr<arrow::Schema> InputSchema() {
  return arrow::schema({arrow::field("key", arrow::utf8()), arrow::field("v", arrow::float64()),
                        arrow::field("s", arrow::utf8()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
}

/// Random batches (several keys, nulls, ties, times out of order) and the watermark after each.
struct Input {
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  std::vector<int64_t> watermarks;
};

Input MakeInput(uint32_t seed) {
  constexpr int64_t kSecond = 1000000, kDelay = 3 * kSecond;
  std::mt19937 random(seed);
  Input input;
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
    input.batches.push_back(arrow::RecordBatch::Make(
        InputSchema(), rows,
        {keys.Finish().ValueOrDie(), values.Finish().ValueOrDie(), texts.Finish().ValueOrDie(),
         times.Finish().ValueOrDie()}));
    input.watermarks.push_back(latest == exec::kMinTimestamp ? latest : latest - kDelay);
  }
  return input;
}

struct Stage {
  exec::DeadLetterQueue dead_letters;
  std::unique_ptr<exec::Processor> processor;
  exec::CollectingEmitter out;

  explicit Stage(const std::string& step) {
    auto made =
        testing::ProcessorFromYaml("top_n", step, InputSchema(), {"test", &dead_letters, "ts"});
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    if (made.ok()) processor = std::move(*made);
  }
  void Feed(const Input& input, size_t from, size_t to) {
    for (size_t b = from; b < to; ++b) {
      Status status = processor->Process(input.batches[b], out);
      ASSERT_TRUE(status.ok()) << status.ToString();
      status = processor->OnWatermark(input.watermarks[b], out);
      ASSERT_TRUE(status.ok()) << status.ToString();
    }
  }
  void End() {
    ASSERT_TRUE(processor->OnWatermark(exec::kMaxTimestamp, out).ok());
    ASSERT_TRUE(processor->Finish(out).ok());
  }
  std::vector<std::string> Lines() {
    std::vector<std::string> lines;
    for (const auto& batch : out.batches()) {
      for (int64_t i = 0; i < batch->num_rows(); ++i) lines.push_back(exec::RowToJson(*batch, i));
    }
    return lines;
  }
};

/// A top_n A fed batches [0, k) and snapshotted, and a fresh B restored from the snapshot and
/// fed the rest, emit together what one uninterrupted top_n emits, for several k.
void CheckRestoreAnywhere(const std::string& step, uint32_t seed) {
  const Input input = MakeInput(seed);
  const size_t count = input.batches.size();
  Stage reference(step);
  ASSERT_NE(reference.processor, nullptr);
  EXPECT_TRUE(reference.processor->checkpointable());
  reference.Feed(input, 0, count);
  reference.End();
  const auto expected = reference.Lines();
  ASSERT_GT(expected.size(), 20u);
  for (size_t cut : {size_t{0}, size_t{1}, count / 3, count / 2, count - 1, count}) {
    SCOPED_TRACE("cut after " + std::to_string(cut) + " batches: " + step);
    Stage a(step);
    a.Feed(input, 0, cut);
    auto snapshot = a.processor->SnapshotState();
    ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
    EXPECT_TRUE(snapshot->tables.empty());
    EXPECT_TRUE(snapshot->values.empty());
    auto saved = state::RoundTrip(*snapshot);
    ASSERT_TRUE(saved.ok()) << saved.status().ToString();
    Stage b(step);
    ASSERT_TRUE(b.processor->RestoreState(*saved).ok());
    b.Feed(input, cut, count);
    b.End();
    auto lines = a.Lines();
    auto rest = b.Lines();
    lines.insert(lines.end(), rest.begin(), rest.end());
    EXPECT_EQ(lines, expected);
    EXPECT_EQ(a.dead_letters.total() + b.dead_letters.total(), reference.dead_letters.total());
  }
}

TEST(TopNCheckpointTest, RestoresAnywhere) {
  CheckRestoreAnywhere("top_n: {n: 2, by: v, per: [key]}", 1);
  CheckRestoreAnywhere("top_n: {n: 1, by: s, order: asc, with_ties: true}", 2);
  CheckRestoreAnywhere("top_n: {n: 3, by: v, order: asc, per: [s, key], with_ties: true}", 3);
}

}  // namespace
}  // namespace sluice::processors
