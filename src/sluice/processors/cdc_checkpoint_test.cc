#include <arrow/api.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "sluice/processors/cdc.h"
#include "sluice/testing/checkpoint_replay.h"

namespace sluice::processors {
namespace {

using testing::ExpectResumesAtEveryCut;

std::shared_ptr<arrow::Schema> Schema() {
  return arrow::schema({arrow::field("seq", arrow::int64()), arrow::field("k", arrow::int64()),
                        arrow::field("bid", arrow::float64()), arrow::field("s", arrow::utf8()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
}

/// `count` rows in batches of 1 to `max_batch` rows, keyed by `keys` integers (and NULL). A key
/// often repeats its last `bid` and `s` (no change) and otherwise takes new ones from
/// `distinct_bids` values, with NULLs. Event times as testing::RandomEventBatches() makes them.
std::vector<std::shared_ptr<arrow::RecordBatch>> RandomBatches(uint64_t seed, int64_t count,
                                                               int64_t keys, int64_t distinct_bids,
                                                               int64_t max_batch) {
  std::map<std::optional<int64_t>, std::pair<std::optional<double>, std::optional<std::string>>>
      last;
  return testing::RandomEventBatches(
      seed, Schema(), count, max_batch,
      [&](std::mt19937_64& random, arrow::RecordBatchBuilder& batch) {
        std::optional<int64_t> k;
        if (random() % 20 != 0) k = static_cast<int64_t>(random() % keys);
        std::optional<double> bid;
        std::optional<std::string> s;
        auto found = last.find(k);
        if (found != last.end() && random() % 2 == 0) {
          std::tie(bid, s) = found->second;
          if (random() % 4 == 0) s = random() % 2 ? std::nullopt : std::optional<std::string>("x");
        } else {
          if (random() % 8 != 0) bid = static_cast<double>(random() % distinct_bids) / 4;
          if (random() % 8 != 0) s = std::string(1, static_cast<char>('a' + random() % 3));
        }
        last[k] = {bid, s};
        auto* ks = batch.GetFieldAs<arrow::Int64Builder>(1);
        auto* bids = batch.GetFieldAs<arrow::DoubleBuilder>(2);
        auto* strings = batch.GetFieldAs<arrow::StringBuilder>(3);
        EXPECT_TRUE((k ? ks->Append(*k) : ks->AppendNull()).ok());
        EXPECT_TRUE((bid ? bids->Append(*bid) : bids->AppendNull()).ok());
        EXPECT_TRUE((s ? strings->Append(*s) : strings->AppendNull()).ok());
      });
}

TEST(CdcCheckpointTest, ResumesWithATtlAsIfNeverStopped) {
  // 200 keys, each seen every ~100 s on average, with a 60 s ttl: keys are forgotten and come
  // back across the cuts; rows without an event time become dead letters.
  auto batches = RandomBatches(3, 8000, 200, 400, 150);
  auto counts = ExpectResumesAtEveryCut(
      "cdc", "cdc: {key: [k], fields: [bid, s], emit_previous: true, ttl: 60s}", Schema(),
      batches);
  EXPECT_GT(counts.output_rows(), 2000);
  EXPECT_LT(counts.output_rows(), 7000);
  EXPECT_FALSE(counts.dead_letters.empty());
  EXPECT_GT(counts.largest_snapshot_rows, 50);
}

TEST(CdcCheckpointTest, ResumesWithoutATtlAcrossRebuildsOfTheValueSet) {
  // Four keys (three strings and NULL) taking values from a wide range: the value set passes
  // the rebuild threshold (4096 values, most of them no key's last) again and again. `k` is
  // both tracked and part of no key; `previous_` columns come from the restored values.
  auto batches = RandomBatches(4, 20000, 1000000, 4000000, 400);
  auto counts = ExpectResumesAtEveryCut(
      "cdc", "cdc: {key: [s], fields: [bid, k], emit_previous: true}", Schema(), batches);
  EXPECT_GT(counts.output_rows(), 15000);
  EXPECT_TRUE(counts.dead_letters.empty());
  EXPECT_GE(counts.largest_snapshot_rows, 4);
  EXPECT_LE(counts.largest_snapshot_rows, 5);
}

TEST(CdcCheckpointTest, ResumesAcrossRebuildsOfTheKeySet) {
  // Many keys and a short ttl: the key set is rebuilt from the live keys again and again.
  auto batches = RandomBatches(8, 24000, 100000, 400, 400);
  auto counts = ExpectResumesAtEveryCut("cdc", "cdc: {key: [k, s], fields: [bid], ttl: 20s}",
                                        Schema(), batches);
  EXPECT_GT(counts.output_rows(), 20000);
  EXPECT_GT(counts.largest_snapshot_rows, 20);
}

TEST(CdcCheckpointTest, RefusesAStateOfAnotherShape) {
  testing::ExpectRefusesAStateOfAnotherShape(
      "cdc", "cdc: {key: [k], fields: [bid]}", Schema(), "keys",
      arrow::Table::Make(arrow::schema({arrow::field("k", arrow::int64()),
                                        arrow::field("last.bid", arrow::utf8()),
                                        arrow::field("last_seen", arrow::int64())}),
                         {arrow::MakeArrayOfNull(arrow::int64(), 1).ValueOrDie(),
                          arrow::MakeArrayOfNull(arrow::utf8(), 1).ValueOrDie(),
                          arrow::MakeArrayOfNull(arrow::int64(), 1).ValueOrDie()}));
}

}  // namespace
}  // namespace sluice::processors
