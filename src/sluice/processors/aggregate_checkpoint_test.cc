#include <arrow/api.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "sluice/processors/aggregate.h"
#include "sluice/testing/checkpoint_replay.h"

namespace sluice::processors {
namespace {

using testing::ExpectResumesAtEveryCut;

std::shared_ptr<arrow::Schema> Schema() {
  return arrow::schema({arrow::field("seq", arrow::int64()), arrow::field("k", arrow::int64()),
                        arrow::field("s", arrow::utf8()), arrow::field("v", arrow::float64()),
                        arrow::field("n", arrow::int64()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
}

/// `count` rows in batches of 1 to `max_batch` rows, keyed by `keys` integers (and NULL) times
/// three strings (and NULL), with positive values `v` (some NULL) and small integers `n`, and
/// event times as testing::RandomEventBatches() makes them.
std::vector<std::shared_ptr<arrow::RecordBatch>> RandomBatches(uint64_t seed, int64_t count,
                                                               int64_t keys, int64_t max_batch) {
  return testing::RandomEventBatches(
      seed, Schema(), count, max_batch,
      [keys](std::mt19937_64& random, arrow::RecordBatchBuilder& batch) {
        auto* ks = batch.GetFieldAs<arrow::Int64Builder>(1);
        auto* strings = batch.GetFieldAs<arrow::StringBuilder>(2);
        auto* values = batch.GetFieldAs<arrow::DoubleBuilder>(3);
        auto* ns = batch.GetFieldAs<arrow::Int64Builder>(4);
        EXPECT_TRUE((random() % 20 == 0 ? ks->AppendNull() : ks->Append(random() % keys)).ok());
        EXPECT_TRUE((random() % 10 == 0 ? strings->AppendNull()
                                        : strings->Append(std::string(1, 'a' + random() % 3)))
                        .ok());
        EXPECT_TRUE(
            (random() % 10 == 0
                 ? values->AppendNull()
                 : values->Append(std::uniform_real_distribution<double>(0.5, 1000)(random)))
                .ok());
        EXPECT_TRUE(ns->Append(static_cast<int64_t>(random() % 50) - 10).ok());
      });
}

TEST(AggregateCheckpointTest, ResumesEveryFunctionWithATtlAsIfNeverStopped) {
  // 80 keys, each updated every ~25 s on average, with a 40 s ttl: groups are dropped and
  // start afresh across the cuts; rows without an event time become dead letters.
  auto batches = RandomBatches(21, 6000, 20, 120);
  auto counts = ExpectResumesAtEveryCut(
      "aggregate",
      "aggregate:\n"
      "  group_by: [k, s]\n"
      "  aggregate:\n"
      "    v: [sum, count, min, max, avg, first, last, stddev, var_pop, median, p90,\n"
      "        count_distinct, approx_count_distinct, harmonic_mean, geometric_mean, ema,\n"
      "        zscore, minmax]\n"
      "    n: [sum, min, max, first, last, count_distinct]\n"
      "    s: [min, max, first, last, count_distinct]\n"
      "  ttl: 40s\n",
      Schema(), batches);
  EXPECT_GT(counts.output_rows(), 3000);
  EXPECT_FALSE(counts.dead_letters.empty());
  EXPECT_GT(counts.largest_snapshot_rows, 20);
}

TEST(AggregateCheckpointTest, ResumesOneGroupWithoutGroupBy) {
  auto batches = RandomBatches(22, 3000, 20, 200);
  auto counts = ExpectResumesAtEveryCut(
      "aggregate", "aggregate: {aggregate: {v: [sum, avg, last, median], n: [count, max]}}",
      Schema(), batches);
  EXPECT_EQ(counts.output_rows(), static_cast<int64_t>(batches.size()));
  EXPECT_EQ(counts.largest_snapshot_rows, 1);
}

TEST(AggregateCheckpointTest, ResumesAcrossRebuildsOfTheKeySet) {
  // Many keys and a short ttl: the key set is rebuilt from the live keys again and again, and
  // freed slots are reused.
  auto batches = RandomBatches(23, 24000, 100000, 400);
  auto counts = ExpectResumesAtEveryCut(
      "aggregate", "aggregate: {group_by: [k], aggregate: {n: [sum, last], v: [max]}, ttl: 15s}",
      Schema(), batches);
  EXPECT_GT(counts.output_rows(), 20000);
  EXPECT_GT(counts.largest_snapshot_rows, 20);
}

TEST(AggregateCheckpointTest, RefusesAStateOfAnotherShape) {
  testing::ExpectRefusesAStateOfAnotherShape(
      "aggregate", "aggregate: {group_by: [k], aggregate: {n: [sum]}}", Schema(), "groups",
      arrow::Table::Make(arrow::schema({arrow::field("k", arrow::utf8())}),
                         {arrow::MakeArrayOfNull(arrow::utf8(), 1).ValueOrDie()}));
}

}  // namespace
}  // namespace sluice::processors
