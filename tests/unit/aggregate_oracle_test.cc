// Running aggregates against DuckDB SQL as the oracle, on random streams with nulls in values
// and group keys, delivered out of event-time order. The `aggregate` processor emits an upsert
// stream; the newest row of each key must equal `SELECT key, agg(...) GROUP BY key` over the
// whole input, whatever the batch size. first, last and the functions built on the last value
// follow input order, so the oracle orders them by each row's arrival position.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <numeric>
#include <optional>
#include <set>
#include <string_view>

#include "sluice/duckdb/connection.h"
#include "sluice/duckdb/database.h"
#include "sluice/formats/formats_test_support.h"
#include "window_test_support.h"

namespace sluice::testing {
namespace {

using formats::testing::ScratchDirectory;

constexpr int64_t kRows = 2000;
constexpr uint32_t kSeeds[] = {5, 977, 31337};
constexpr int64_t kBatchSizes[] = {1, 7, 64, 65536};

/// The aggregates checked, over the view `input`, whose `arrival` column is a row's position
/// in the stream: first and last by arrival, also of w.
std::vector<OracleAggregate> Checked() {
  auto aggregates = OracleAggregates("arrival");
  aggregates.push_back({"w", "first", "arg_min(w, arrival) FILTER (WHERE w IS NOT NULL)"});
  aggregates.push_back({"w", "last", "arg_max(w, arrival) FILTER (WHERE w IS NOT NULL)"});
  return aggregates;
}

/// The functions without a DuckDB equivalent, checked only for not depending on the batch size.
constexpr const char* kUncheckedFunctions[] = {"approx_count_distinct", "ema"};

/// The `aggregate` option: the checked functions, and with `with_unchecked` those of
/// kUncheckedFunctions on v.
std::string AggregateList(bool with_unchecked) {
  auto aggregates = Checked();
  if (with_unchecked) {
    for (const char* function : kUncheckedFunctions) aggregates.push_back({"v", function, ""});
  }
  return AggregateOption(aggregates);
}

std::string OracleSql(const std::string& group_by) {
  return fmt::format("SELECT {}{} FROM input{}", group_by.empty() ? "" : group_by + ", ",
                     AggregateSelectList(Checked()),
                     group_by.empty() ? "" : " GROUP BY " + group_by);
}

/// A random arrival order: rows come far out of event-time order, so that first and last by
/// arrival differ from first and last by event time.
std::vector<int64_t> Shuffled(int64_t rows, uint32_t seed) {
  std::vector<int64_t> order(rows);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 random(seed);
  std::shuffle(order.begin(), order.end(), random);
  return order;
}

class AggregateOracleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto database = duckdb::Database::Open();
    ASSERT_TRUE(database.ok()) << database.status().message();
    auto connection = duckdb::Connection::Open(*database);
    ASSERT_TRUE(connection.ok()) << connection.status().message();
    connection_ = std::move(*connection);
  }

  /// Runs `aggregate` over `input` (key, v, w, ts) in batches of `batch_size`, checks that each
  /// batch emitted one row per key it holds, and returns the newest row of every key.
  std::shared_ptr<arrow::Table> RunLatest(const std::shared_ptr<arrow::RecordBatch>& input,
                                          int64_t batch_size, const std::string& group_by,
                                          bool with_unchecked) {
    SCOPED_TRACE(fmt::format("batch_size {}, group_by [{}]", batch_size, group_by));
    ScratchDirectory dir;
    std::string path = dir.File("events.parquet");
    EXPECT_TRUE(WriteParquet(path, input).ok());
    std::string yaml = fmt::format(
        "name: aggregate-oracle\n"
        "sources:\n"
        "  events:\n"
        "    connector: file\n"
        "    path: {}\n"
        "    batch_size: {}\n"
        "    event_time: {{field: ts, watermark_delay: 1h}}\n"
        "pipeline:\n"
        "  - aggregate:\n"
        "{}"
        "      aggregate: {}\n"
        "sinks:\n"
        "  out: {{connector: collect}}\n"
        "dead_letters: {{connector: collect}}\n",
        path, batch_size, group_by.empty() ? "" : fmt::format("      group_by: [{}]\n", group_by),
        AggregateList(with_unchecked));
    auto output = RunPipeline(yaml);
    EXPECT_TRUE(output.ok()) << output.status().ToString();
    if (!output.ok()) return nullptr;
    EXPECT_EQ(output->summary.dead_letters, 0);

    // One row per key in each batch: as many rows as the batches hold distinct keys.
    const auto& keys = static_cast<const arrow::StringArray&>(*input->GetColumnByName("key"));
    int64_t expected_rows = 0;
    for (int64_t first = 0; first < input->num_rows(); first += batch_size) {
      std::set<std::optional<std::string>> distinct;
      for (int64_t i = first; i < std::min(input->num_rows(), first + batch_size); ++i) {
        distinct.insert(group_by.empty() || keys.IsNull(i)
                            ? std::nullopt
                            : std::optional<std::string>(keys.GetString(i)));
      }
      expected_rows += static_cast<int64_t>(distinct.size());
    }
    EXPECT_EQ(output->table->num_rows(), expected_rows);

    // The newest row per key, through DuckDB: the upsert a keyed sink would keep.
    arrow::Int64Builder emitted;
    for (int64_t i = 0; i < output->table->num_rows(); ++i) EXPECT_TRUE(emitted.Append(i).ok());
    auto changes = *output->table->AddColumn(
        output->table->num_columns(), arrow::field("emitted", arrow::int64()),
        std::make_shared<arrow::ChunkedArray>(*emitted.Finish()));
    EXPECT_TRUE(connection_->RegisterTable("changes", changes).ok());
    std::string partition = group_by.empty() ? "" : "PARTITION BY " + group_by;
    auto latest = connection_->Query(fmt::format(
        "SELECT * EXCLUDE (emitted, newest) FROM (SELECT *, row_number() OVER ({} ORDER BY "
        "emitted DESC) AS newest FROM changes) WHERE newest = 1",
        partition));
    EXPECT_TRUE(latest.ok()) << latest.status().ToString();
    return latest.ok() ? *latest : nullptr;
  }

  /// The input of `seed` in a shuffled order, with the view `input` over it (plus `arrival`).
  std::shared_ptr<arrow::RecordBatch> Input(uint32_t seed) {
    auto events = RandomEvents(seed, kRows);
    auto batch = EventBatch(events, Shuffled(kRows, seed + 1));
    arrow::Int64Builder arrival;
    for (int64_t i = 0; i < batch->num_rows(); ++i) EXPECT_TRUE(arrival.Append(i).ok());
    auto with_arrival = *batch->AddColumn(batch->num_columns(), "arrival", *arrival.Finish());
    EXPECT_TRUE(connection_->RegisterBatch("arrivals", with_arrival).ok());
    EXPECT_TRUE(
        connection_->Execute("CREATE OR REPLACE TEMP VIEW input AS SELECT * FROM arrivals").ok());
    return batch;
  }

  void ExpectAsOracle(const arrow::Table& actual, const std::string& group_by) {
    auto expected = connection_->Query(OracleSql(group_by));
    ASSERT_TRUE(expected.ok()) << expected.status().ToString();
    ASSERT_GT((*expected)->num_rows(), 0);
    std::string differences = DescribeDifferences(**expected, actual);
    EXPECT_TRUE(differences.empty()) << "Sluice differs from DuckDB:\n" << differences;
  }

  std::unique_ptr<duckdb::Connection> connection_;
};

// Each seed runs grouped by key in batches of 1 and 100 rows, and as one group in batches of 7.
TEST_F(AggregateOracleTest, NewestRowPerKeyIsTheGroupBy) {
  for (uint32_t seed : kSeeds) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    auto input = Input(seed);
    for (int64_t batch_size : {1, 100}) {
      auto latest = RunLatest(input, batch_size, "key", /*with_unchecked=*/false);
      ASSERT_NE(latest, nullptr);
      // Eight keys and the NULL key.
      EXPECT_EQ(latest->num_rows(), 9);
      ExpectAsOracle(*latest, "key");
    }
    auto latest = RunLatest(input, 7, "", /*with_unchecked=*/false);
    ASSERT_NE(latest, nullptr);
    EXPECT_EQ(latest->num_rows(), 1);
    ExpectAsOracle(*latest, "");
  }
}

// The same input in batches of 1, 7, 64 and 65536 rows (the whole input at once) leaves the
// same values for every function, including those with no DuckDB equivalent.
TEST_F(AggregateOracleTest, FinalValuesDoNotDependOnBatchSize) {
  for (uint32_t seed : kSeeds) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    auto input = Input(seed);
    auto whole = RunLatest(input, kBatchSizes[3], "key", /*with_unchecked=*/true);
    ASSERT_NE(whole, nullptr);
    for (const char* function : kUncheckedFunctions)
      ASSERT_NE(whole->GetColumnByName(fmt::format("v_{}", function)), nullptr) << function;
    for (int64_t batch_size : kBatchSizes) {
      auto latest = RunLatest(input, batch_size, "key", /*with_unchecked=*/true);
      ASSERT_NE(latest, nullptr);
      std::string differences = DescribeDifferences(*whole, *latest);
      EXPECT_TRUE(differences.empty()) << "batches of " << batch_size << " differ from one batch:\n"
                                       << differences;
    }
  }
}

}  // namespace
}  // namespace sluice::testing
