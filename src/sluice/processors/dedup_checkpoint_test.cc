#include <arrow/api.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "sluice/processors/checkpoint_replay_test.h"
#include "sluice/processors/dedup.h"

namespace sluice::processors {
namespace {

using checkpoint_test::ExpectResumesAtEveryCut;
using exec::Timestamp;

constexpr Timestamp kSecond = 1000000;
constexpr Timestamp kStart = 1704067200LL * kSecond;  // 2024-01-01T00:00:00Z
constexpr Timestamp kDelay = 3 * kSecond;

std::shared_ptr<arrow::Schema> Schema() {
  return arrow::schema({arrow::field("seq", arrow::int64()), arrow::field("k", arrow::int64()),
                        arrow::field("s", arrow::utf8()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
}

/// `count` rows in batches of 1 to `max_batch` rows: keys drawn from `keys` integers (and NULL)
/// times three strings (and NULL); event times run forward, mostly within the watermark delay
/// of the latest, a few far behind it (late), a few missing.
std::vector<std::shared_ptr<arrow::RecordBatch>> RandomBatches(uint64_t seed, int64_t count,
                                                               int64_t keys, int64_t max_batch) {
  std::mt19937_64 random(seed);
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  Timestamp clock = kStart;
  int64_t seq = 0;
  while (seq < count) {
    const int64_t size = std::min<int64_t>(count - seq, 1 + random() % max_batch);
    arrow::Int64Builder seqs, ks;
    arrow::StringBuilder strings;
    arrow::TimestampBuilder times(Schema()->field(3)->type(), arrow::default_memory_pool());
    for (int64_t i = 0; i < size; ++i, ++seq) {
      clock += std::uniform_int_distribution<Timestamp>(0, kSecond / 2)(random);
      EXPECT_TRUE(seqs.Append(seq).ok());
      EXPECT_TRUE((random() % 20 == 0 ? ks.AppendNull() : ks.Append(random() % keys)).ok());
      EXPECT_TRUE((random() % 10 == 0 ? strings.AppendNull()
                                      : strings.Append(std::string(1, 'a' + random() % 3)))
                      .ok());
      const uint64_t kind = random() % 100;
      Timestamp behind = std::uniform_int_distribution<Timestamp>(0, kDelay)(random);
      if (kind < 4) behind = std::uniform_int_distribution<Timestamp>(kDelay, 40 * kSecond)(random);
      EXPECT_TRUE((kind == 99 ? times.AppendNull() : times.Append(clock - behind)).ok());
    }
    batches.push_back(arrow::RecordBatch::Make(
        Schema(), size,
        {seqs.Finish().ValueOrDie(), ks.Finish().ValueOrDie(), strings.Finish().ValueOrDie(),
         times.Finish().ValueOrDie()}));
  }
  return batches;
}

std::vector<size_t> Cuts(size_t batches) {
  return {0, 1, batches / 4, batches / 2, batches * 3 / 4, batches - 1, batches};
}

TEST(DedupCheckpointTest, ResumesFromASnapshotAsIfNeverStopped) {
  // 160 keys with a 60 s span over ~1500 s: keys repeat, expire and come back across the cuts.
  auto batches = RandomBatches(5, 6000, 40, 150);
  auto counts = ExpectResumesAtEveryCut("dedup", "dedup: {key: [s, k], within: 60s}", Schema(),
                                        "ts", kDelay, batches, Cuts(batches.size()));
  EXPECT_GT(counts.output_rows, 1000);
  EXPECT_LT(counts.output_rows, 5000);
  EXPECT_GT(counts.dead_letters, 0);
  EXPECT_GT(counts.largest_snapshot_rows, 50);
}

TEST(DedupCheckpointTest, ResumesAcrossRebuildsOfTheKeySet) {
  // Many keys with a short span: the key set passes the rebuild threshold (4096 keys, most of
  // them expired) several times, before and after the cuts.
  auto batches = RandomBatches(9, 24000, 100000, 400);
  auto counts = ExpectResumesAtEveryCut("dedup", "dedup: {key: [k], within: 20s}", Schema(), "ts",
                                        kDelay, batches, Cuts(batches.size()));
  EXPECT_GT(counts.output_rows, 20000);
  EXPECT_GT(counts.largest_snapshot_rows, 20);
}

TEST(DedupCheckpointTest, RefusesAStateOfAnotherShape) {
  auto made = testing::ProcessorFromYaml("dedup", "dedup: {key: [k], within: 20s}", Schema());
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_TRUE((*made)->RestoreState(state::StateSnapshot{}).IsIOError());
  state::StateSnapshot wrong;
  wrong.tables.emplace_back(
      "keys", arrow::Table::Make(arrow::schema({arrow::field("k", arrow::utf8()),
                                                arrow::field("first_seen", arrow::int64())}),
                                 {arrow::MakeArrayOfNull(arrow::utf8(), 1).ValueOrDie(),
                                  arrow::MakeArrayOfNull(arrow::int64(), 1).ValueOrDie()}));
  EXPECT_TRUE((*made)->RestoreState(wrong).IsIOError());
}

}  // namespace
}  // namespace sluice::processors

