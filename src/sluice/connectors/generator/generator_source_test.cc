#include "sluice/connectors/generator/generator_source.h"

#include <arrow/api.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "sluice/testing/collecting_output.h"

namespace sluice::connectors {
namespace {

using testing::CollectingOutput;

/// An output whose pipeline is shutting down: every push is refused.
class CancellingOutput : public CollectingOutput {
 public:
  Status Push(std::shared_ptr<arrow::RecordBatch> batch) override {
    ++pushes_;
    (void)batch;
    return Status::Cancelled("stopping");
  }
  int pushes_ = 0;
};

Result<std::unique_ptr<exec::Source>> MakeSource(const std::string& yaml) {
  exec::Registry registry;
  RegisterGeneratorSource(&registry);
  const config::PluginSpec* spec = registry.FindSpec(config::PluginKind::kSource, "generator");
  if (spec == nullptr) return Status::Invalid("generator not registered");
  SLUICE_ASSIGN_OR_RAISE(
      config::Options options,
      config::ValidateOptions(*spec, YAML::Load(yaml), "test.yaml", {"connector"}));
  return (*registry.FindSource("generator"))(exec::ConnectorContext{"test", "quotes"}, options);
}

std::shared_ptr<arrow::Table> Generate(const std::string& yaml, CollectingOutput* out) {
  auto source = MakeSource(yaml);
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  if (!source.ok()) return nullptr;
  Status status = (*source)->Run(*out);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return out->Table();
}

std::shared_ptr<arrow::Table> Generate(const std::string& yaml) {
  CollectingOutput out;
  return Generate(yaml, &out);
}

TEST(GeneratorSource, HasTheQuoteSchema) {
  auto source = MakeSource("{count: 10}");
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  auto expected = arrow::schema({
      arrow::field("symbol", arrow::utf8(), false),
      arrow::field("bid", arrow::float64(), false),
      arrow::field("ask", arrow::float64(), false),
      arrow::field("volume", arrow::int64(), false),
      arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), false),
  });
  EXPECT_TRUE((*source)->schema()->Equals(*expected)) << (*source)->schema()->ToString();

  CollectingOutput out;
  ASSERT_TRUE((*source)->Run(out).ok());
  for (const auto& batch : out.batches()) {
    EXPECT_TRUE(batch->schema()->Equals(*expected));
    EXPECT_TRUE(batch->ValidateFull().ok()) << batch->ValidateFull().ToString();
  }
}

TEST(GeneratorSource, HonoursCountAndBatchSize) {
  CollectingOutput out;
  auto source = MakeSource("{count: 1000, batch_size: 64}");
  ASSERT_TRUE(source.ok());
  EXPECT_TRUE((*source)->bounded());
  ASSERT_TRUE((*source)->Run(out).ok());
  EXPECT_EQ(out.num_rows(), 1000);
  ASSERT_EQ(out.batches().size(), 16u);  // 15 full batches and one of 40 rows
  for (const auto& batch : out.batches()) EXPECT_LE(batch->num_rows(), 64);
  EXPECT_EQ(out.batches().back()->num_rows(), 1000 - 15 * 64);
  EXPECT_TRUE(out.rejected().empty());
}

TEST(GeneratorSource, SameSeedSameRowsWhateverTheBatching) {
  auto reference = Generate("{count: 5000, seed: 7, batch_size: 65536}");
  ASSERT_NE(reference, nullptr);
  ASSERT_EQ(reference->num_rows(), 5000);
  for (const char* batching :
       {"batch_size: 1", "batch_size: 7", "batch_size: 999", "batch_size: 5000"}) {
    auto table = Generate(std::string("{count: 5000, seed: 7, ") + batching + "}");
    ASSERT_NE(table, nullptr);
    EXPECT_TRUE(table->Equals(*reference)) << batching;
  }
  // Pacing changes when rows go out, not what they are.
  auto paced = Generate("{count: 5000, seed: 7, rate: 100000, batch_size: 1000, linger: 5ms}");
  ASSERT_NE(paced, nullptr);
  EXPECT_TRUE(paced->Equals(*reference));

  auto other_seed = Generate("{count: 5000, seed: 8}");
  ASSERT_NE(other_seed, nullptr);
  EXPECT_FALSE(other_seed->Equals(*reference));
}

TEST(GeneratorSource, RowsLookLikeQuotes) {
  auto table = Generate("{count: 20000, symbols: 12, interval: 250us}");
  ASSERT_NE(table, nullptr);
  auto batch = table->CombineChunksToBatch().ValueOrDie();
  const auto& symbols = static_cast<const arrow::StringArray&>(*batch->column(0));
  const auto& bids = static_cast<const arrow::DoubleArray&>(*batch->column(1));
  const auto& asks = static_cast<const arrow::DoubleArray&>(*batch->column(2));
  const auto& volumes = static_cast<const arrow::Int64Array&>(*batch->column(3));
  const auto& times = static_cast<const arrow::TimestampArray&>(*batch->column(4));

  std::set<std::string> names;
  int64_t crossed = 0;
  for (int64_t row = 0; row < batch->num_rows(); ++row) {
    names.insert(std::string(symbols.GetView(row)));
    EXPECT_GT(bids.Value(row), 0.0);
    EXPECT_NE(bids.Value(row), asks.Value(row));
    if (asks.Value(row) < bids.Value(row)) ++crossed;
    EXPECT_GE(volumes.Value(row), 1);
    EXPECT_LE(volumes.Value(row), 10000);
    // The default start, 2024-01-01T00:00:00Z, then one interval per row.
    EXPECT_EQ(times.Value(row), 1704067200000000 + row * 250);
  }
  EXPECT_EQ(names.size(), 12u);
  EXPECT_TRUE(names.count("AAPL"));
  EXPECT_TRUE(names.count("SYM011"));
  // About 1 % of quotes are crossed: some, but few.
  EXPECT_GT(crossed, 0);
  EXPECT_LT(crossed, batch->num_rows() / 20);
}

TEST(GeneratorSource, StartAcceptsIsoTimestampsWithZones) {
  auto table = Generate("{count: 2, start: '2024-03-10T12:00:00.5+01:00', interval: 1s}");
  ASSERT_NE(table, nullptr);
  auto times = std::static_pointer_cast<arrow::TimestampArray>(table->column(4)->chunk(0));
  EXPECT_EQ(times->Value(0), 1710068400500000);
  EXPECT_EQ(times->Value(1), 1710068401500000);

  auto date_only = Generate("{count: 1, start: '2024-01-01'}");
  ASSERT_NE(date_only, nullptr);
  EXPECT_EQ(
      std::static_pointer_cast<arrow::TimestampArray>(date_only->column(4)->chunk(0))->Value(0),
      1704067200000000);
}

TEST(GeneratorSource, RejectsABadStartWithItsLocation) {
  auto source = MakeSource("{count: 1, start: 'yesterday'}");
  ASSERT_FALSE(source.ok());
  EXPECT_TRUE(source.status().IsInvalid());
  EXPECT_NE(source.status().message().find("test.yaml:1:"), std::string::npos)
      << source.status().ToString();
  EXPECT_NE(source.status().message().find("ISO 8601"), std::string::npos);

  auto bad_date = MakeSource("{count: 1, start: '2024-02-30T00:00:00Z'}");
  EXPECT_FALSE(bad_date.ok());
}

TEST(GeneratorSource, EndlessRunStopsWhenAsked) {
  auto source = MakeSource("{batch_size: 100}");
  ASSERT_TRUE(source.ok());
  EXPECT_FALSE((*source)->bounded());
  CollectingOutput out(/*stop_after=*/5);
  ASSERT_TRUE((*source)->Run(out).ok());
  EXPECT_EQ(out.batches().size(), 5u);
  EXPECT_EQ(out.num_rows(), 500);
}

TEST(GeneratorSource, CancelledPushEndsTheRun) {
  auto source = MakeSource("{}");
  ASSERT_TRUE(source.ok());
  CancellingOutput out;
  EXPECT_TRUE((*source)->Run(out).ok());
  EXPECT_EQ(out.pushes_, 1);
}

TEST(GeneratorSource, RatePacesRowsAndLingerCutsBatches) {
  auto source = MakeSource("{count: 2000, rate: 10000, batch_size: 100000, linger: 50ms}");
  ASSERT_TRUE(source.ok());
  CollectingOutput out;
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE((*source)->Run(out).ok());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(out.num_rows(), 2000);
  // 2000 rows at 10000/s take about 0.2 s. The bounds are loose: this checks pacing, not speed.
  EXPECT_GT(seconds, 0.15);
  EXPECT_LT(seconds, 2.0);
  // The batch size is never reached, so linger cut the batches: about one per 50 ms (fewer when
  // a loaded machine oversleeps).
  EXPECT_GE(out.batches().size(), 2u);
  EXPECT_LE(out.batches().size(), 10u);
}

int64_t WallClockMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// With start: now, each row's event time must be the wall-clock moment it was due, for
/// whichever of rate and interval was given: every delivered row's ts lies between the run's
/// start and the moment its batch arrived, and the step between rows is 1 s / rate.
void ExpectEventTimeFollowsTheWallClock(const std::string& yaml, int64_t step_micros) {
  auto source = MakeSource(yaml);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  /// Notes the wall clock at each push.
  class TimingOutput : public CollectingOutput {
   public:
    Status Push(std::shared_ptr<arrow::RecordBatch> batch) override {
      arrived.push_back(WallClockMicros());
      return CollectingOutput::Push(std::move(batch));
    }
    std::vector<int64_t> arrived;
  } out;
  const int64_t started = WallClockMicros();
  ASSERT_TRUE((*source)->Run(out).ok());
  const int64_t finished = WallClockMicros();
  ASSERT_EQ(out.num_rows(), 40);
  int64_t previous = 0;
  for (size_t i = 0; i < out.batches().size(); ++i) {
    const auto& times = static_cast<const arrow::TimestampArray&>(*out.batches()[i]->column(4));
    for (int64_t row = 0; row < times.length(); ++row) {
      const int64_t ts = times.Value(row);
      EXPECT_GE(ts, started);
      // A row is never sent before it is due, so its event time is not in the future.
      EXPECT_LE(ts, out.arrived[i]) << "batch " << i << " row " << row;
      if (previous != 0) EXPECT_EQ(ts - previous, step_micros);
      previous = ts;
    }
  }
  // 40 rows at 200/s span about 195 ms of event time, as they span that much wall time.
  EXPECT_GE(finished - started, 39 * step_micros);
}

TEST(GeneratorSource, LiveEventTimeAdvancesWithTheWallClockFromTheRate) {
  ExpectEventTimeFollowsTheWallClock("{count: 40, rate: 200, start: now, linger: 20ms}", 5000);
}

TEST(GeneratorSource, LiveEventTimeAdvancesWithTheWallClockFromTheInterval) {
  ExpectEventTimeFollowsTheWallClock("{count: 40, interval: 5ms, start: now, linger: 20ms}", 5000);
  // Both given and agreeing is fine too.
  ExpectEventTimeFollowsTheWallClock(
      "{count: 40, rate: 200, interval: 5ms, start: now, linger: 20ms}", 5000);
}

TEST(GeneratorSource, LiveRateAndIntervalThatDisagreeAreRejected) {
  auto source = MakeSource("{count: 10, rate: 100, interval: 1ms, start: now}");
  ASSERT_FALSE(source.ok());
  EXPECT_NE(source.status().message().find("disagree"), std::string::npos)
      << source.status().ToString();
  EXPECT_NE(source.status().message().find("test.yaml:1:"), std::string::npos);
  EXPECT_FALSE(MakeSource("{count: 10, rate: 0, start: now}").ok());
  EXPECT_FALSE(MakeSource("{count: 10, interval: 0s, start: now}").ok());
}

TEST(GeneratorSource, FixedStartKeepsItsIntervalWhateverTheRate) {
  auto table = Generate("{count: 3, rate: 1000, interval: 1s}");
  ASSERT_NE(table, nullptr);
  auto times = std::static_pointer_cast<arrow::TimestampArray>(table->column(4)->chunk(0));
  EXPECT_EQ(times->Value(2) - times->Value(0), 2000000);
}

}  // namespace
}  // namespace sluice::connectors
