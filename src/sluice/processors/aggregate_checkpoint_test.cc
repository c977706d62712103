#include <arrow/api.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "sluice/processors/aggregate.h"
#include "sluice/processors/checkpoint_replay_test.h"

namespace sluice::processors {
namespace {

using checkpoint_test::ExpectResumesAtEveryCut;
using exec::Timestamp;

constexpr Timestamp kSecond = 1000000;
constexpr Timestamp kStart = 1704067200LL * kSecond;  // 2024-01-01T00:00:00Z
constexpr Timestamp kDelay = 3 * kSecond;

std::shared_ptr<arrow::Schema> Schema() {
  return arrow::schema({arrow::field("seq", arrow::int64()), arrow::field("k", arrow::int64()),
                        arrow::field("s", arrow::utf8()), arrow::field("v", arrow::float64()),
                        arrow::field("n", arrow::int64()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
}

/// `count` rows in batches of 1 to `max_batch` rows, keyed by `keys` integers (and NULL) times
/// three strings (and NULL), with positive values `v` (some NULL) and small integers `n`. Event
/// times run forward, mostly within the watermark delay of the latest, a few far behind it
/// (late), a few missing.
std::vector<std::shared_ptr<arrow::RecordBatch>> RandomBatches(uint64_t seed, int64_t count,
                                                               int64_t keys, int64_t max_batch) {
  std::mt19937_64 random(seed);
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  Timestamp clock = kStart;
  int64_t seq = 0;
  while (seq < count) {
    const int64_t size = std::min<int64_t>(count - seq, 1 + random() % max_batch);
    arrow::Int64Builder seqs, ks, ns;
    arrow::StringBuilder strings;
    arrow::DoubleBuilder values;
    arrow::TimestampBuilder times(Schema()->field(5)->type(), arrow::default_memory_pool());
    for (int64_t i = 0; i < size; ++i, ++seq) {
      clock += std::uniform_int_distribution<Timestamp>(0, kSecond / 2)(random);
      EXPECT_TRUE(seqs.Append(seq).ok());
      EXPECT_TRUE((random() % 20 == 0 ? ks.AppendNull() : ks.Append(random() % keys)).ok());
      EXPECT_TRUE((random() % 10 == 0 ? strings.AppendNull()
                                      : strings.Append(std::string(1, 'a' + random() % 3)))
                      .ok());
      EXPECT_TRUE((random() % 10 == 0
                       ? values.AppendNull()
                       : values.Append(std::uniform_real_distribution<double>(0.5, 1000)(random)))
                      .ok());
      EXPECT_TRUE(ns.Append(static_cast<int64_t>(random() % 50) - 10).ok());
      const uint64_t kind = random() % 100;
      Timestamp behind = std::uniform_int_distribution<Timestamp>(0, kDelay)(random);
      if (kind < 4) behind = std::uniform_int_distribution<Timestamp>(kDelay, 40 * kSecond)(random);
      EXPECT_TRUE((kind == 99 ? times.AppendNull() : times.Append(clock - behind)).ok());
    }
    batches.push_back(arrow::RecordBatch::Make(
        Schema(), size,
        {seqs.Finish().ValueOrDie(), ks.Finish().ValueOrDie(), strings.Finish().ValueOrDie(),
         values.Finish().ValueOrDie(), ns.Finish().ValueOrDie(), times.Finish().ValueOrDie()}));
  }
  return batches;
}

std::vector<size_t> Cuts(size_t batches) {
  return {0, 1, batches / 4, batches / 2, batches * 3 / 4, batches - 1, batches};
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
      Schema(), "ts", kDelay, batches, Cuts(batches.size()));
  EXPECT_GT(counts.output_rows, 3000);
  EXPECT_GT(counts.dead_letters, 0);
  EXPECT_GT(counts.largest_snapshot_rows, 20);
}

TEST(AggregateCheckpointTest, ResumesOneGroupWithoutGroupBy) {
  auto batches = RandomBatches(22, 3000, 20, 200);
  auto counts = ExpectResumesAtEveryCut(
      "aggregate", "aggregate: {aggregate: {v: [sum, avg, last, median], n: [count, max]}}",
      Schema(), "ts", kDelay, batches, Cuts(batches.size()));
  EXPECT_EQ(counts.output_rows, static_cast<int64_t>(batches.size()));
  EXPECT_EQ(counts.largest_snapshot_rows, 1);
}

TEST(AggregateCheckpointTest, ResumesAcrossRebuildsOfTheKeySet) {
  // Many keys and a short ttl: the key set is rebuilt from the live keys again and again, and
  // freed slots are reused.
  auto batches = RandomBatches(23, 24000, 100000, 400);
  auto counts = ExpectResumesAtEveryCut(
      "aggregate", "aggregate: {group_by: [k], aggregate: {n: [sum, last], v: [max]}, ttl: 15s}",
      Schema(), "ts", kDelay, batches, Cuts(batches.size()));
  EXPECT_GT(counts.output_rows, 20000);
  EXPECT_GT(counts.largest_snapshot_rows, 20);
}

TEST(AggregateCheckpointTest, RefusesAStateOfAnotherShape) {
  auto made = testing::ProcessorFromYaml(
      "aggregate", "aggregate: {group_by: [k], aggregate: {n: [sum]}}", Schema());
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_TRUE((*made)->RestoreState(state::StateSnapshot{}).IsIOError());
  state::StateSnapshot wrong;
  wrong.tables.emplace_back(
      "groups", arrow::Table::Make(arrow::schema({arrow::field("k", arrow::utf8())}),
                                   {arrow::MakeArrayOfNull(arrow::utf8(), 1).ValueOrDie()}));
  EXPECT_TRUE((*made)->RestoreState(wrong).IsIOError());
}

}  // namespace
}  // namespace sluice::processors
