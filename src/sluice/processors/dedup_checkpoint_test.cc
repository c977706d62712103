#include <arrow/api.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "sluice/processors/dedup.h"
#include "sluice/testing/checkpoint_replay.h"

namespace sluice::processors {
namespace {

using testing::ExpectResumesAtEveryCut;

std::shared_ptr<arrow::Schema> Schema() {
  return arrow::schema({arrow::field("seq", arrow::int64()), arrow::field("k", arrow::int64()),
                        arrow::field("s", arrow::utf8()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
}

/// `count` rows in batches of 1 to `max_batch` rows: keys drawn from `keys` integers (and NULL)
/// times three strings (and NULL), and event times as testing::RandomEventBatches() makes them.
std::vector<std::shared_ptr<arrow::RecordBatch>> RandomBatches(uint64_t seed, int64_t count,
                                                               int64_t keys, int64_t max_batch) {
  return testing::RandomEventBatches(
      seed, Schema(), count, max_batch,
      [keys](std::mt19937_64& random, arrow::RecordBatchBuilder& batch) {
        auto* ks = batch.GetFieldAs<arrow::Int64Builder>(1);
        auto* strings = batch.GetFieldAs<arrow::StringBuilder>(2);
        EXPECT_TRUE((random() % 20 == 0 ? ks->AppendNull() : ks->Append(random() % keys)).ok());
        EXPECT_TRUE((random() % 10 == 0 ? strings->AppendNull()
                                        : strings->Append(std::string(1, 'a' + random() % 3)))
                        .ok());
      });
}

TEST(DedupCheckpointTest, ResumesFromASnapshotAsIfNeverStopped) {
  // 160 keys with a 60 s span over ~1500 s: keys repeat, expire and come back across the cuts.
  auto batches = RandomBatches(5, 6000, 40, 150);
  auto counts =
      ExpectResumesAtEveryCut("dedup", "dedup: {key: [s, k], within: 60s}", Schema(), batches);
  EXPECT_GT(counts.output_rows(), 1000);
  EXPECT_LT(counts.output_rows(), 5000);
  EXPECT_FALSE(counts.dead_letters.empty());
  EXPECT_GT(counts.largest_snapshot_rows, 50);
}

TEST(DedupCheckpointTest, ResumesAcrossRebuildsOfTheKeySet) {
  // Many keys with a short span: the key set passes the rebuild threshold (4096 keys, most of
  // them expired) several times, before and after the cuts.
  auto batches = RandomBatches(9, 24000, 100000, 400);
  auto counts =
      ExpectResumesAtEveryCut("dedup", "dedup: {key: [k], within: 20s}", Schema(), batches);
  EXPECT_GT(counts.output_rows(), 20000);
  EXPECT_GT(counts.largest_snapshot_rows, 20);
}

TEST(DedupCheckpointTest, RefusesAStateOfAnotherShape) {
  testing::ExpectRefusesAStateOfAnotherShape(
      "dedup", "dedup: {key: [k], within: 20s}", Schema(), "keys",
      arrow::Table::Make(arrow::schema({arrow::field("k", arrow::utf8()),
                                        arrow::field("first_seen", arrow::int64())}),
                         {arrow::MakeArrayOfNull(arrow::utf8(), 1).ValueOrDie(),
                          arrow::MakeArrayOfNull(arrow::int64(), 1).ValueOrDie()}));
}

}  // namespace
}  // namespace sluice::processors

