// Checkpoints of the generator source: a source restored from the position after any batch goes
// on with exactly the rows an uninterrupted run generates next.

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sluice/connectors/generator/generator_source.h"
#include "sluice/testing/collecting_output.h"
#include "sluice/testing/position_recording_output.h"
#include "sluice/testing/connector_from_yaml.h"

namespace sluice::connectors {
namespace {

using testing::CollectingOutput;
using testing::PositionRecordingOutput;

Result<std::unique_ptr<exec::Source>> MakeSource(const std::string& yaml,
                                                 bool checkpoints = true) {
  exec::ConnectorContext context{"test", "quotes"};
  context.checkpoints = checkpoints;
  return testing::SourceFromYaml("generator", yaml, context);
}

/// Checks that a source from `yaml` restored after any of `cuts` delivers, with the batches
/// before the cut, exactly the uninterrupted run.
void CheckResumesExactly(const std::string& yaml, const std::set<int64_t>& cuts) {
  testing::ExpectSourceResumesExactly([&] { return MakeSource(yaml); }, cuts,
                                      testing::ExpectSameRowsAfterCut);
}

TEST(GeneratorCheckpoint, ResumesWithTheRowsAnUninterruptedRunGenerates) {
  // 1000 rows in 16 batches; prices walk per symbol, so a resumed walk must carry them on.
  CheckResumesExactly("{count: 1000, batch_size: 64, symbols: 3, seed: 11}", {0, 1, 5, 15, 16});
  CheckResumesExactly("{count: 5000, batch_size: 1000, symbols: 40}", {2, 4});
}

TEST(GeneratorCheckpoint, AnEndlessGeneratorResumesToo) {
  const std::string yaml = "{batch_size: 50, seed: 5}";
  auto source = MakeSource(yaml);
  ASSERT_TRUE(source.ok());
  // Stopped after 12 batches, as SIGINT would.
  PositionRecordingOutput out(source->get(), {7}, /*lag=*/0, /*stop_after=*/12);
  ASSERT_TRUE((*source)->Run(out).ok());
  ASSERT_EQ(out.batches().size(), 12u);
  ASSERT_EQ(out.positions().count(7), 1u);

  auto restored = MakeSource(yaml);
  ASSERT_TRUE(restored.ok());
  ASSERT_TRUE((*restored)->RestorePosition(out.positions().at(7)).ok());
  CollectingOutput rest(/*stop_after=*/5);
  ASSERT_TRUE((*restored)->Run(rest).ok());
  ASSERT_EQ(rest.batches().size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(rest.batches()[i]->Equals(*out.batches()[7 + i])) << "batch " << 7 + i;
  }
}

TEST(GeneratorCheckpoint, PacingCountsFromTheRestoredRow) {
  // At 1000 rows/s, row 100000 is due 100 s after the start of an uninterrupted run; a restored
  // run starts there and sends its 20 rows at once.
  const std::string yaml = "{count: 100020, rate: 1000, batch_size: 10, linger: 1ms}";
  auto restored = MakeSource(yaml);
  ASSERT_TRUE(restored.ok());
  ASSERT_TRUE((*restored)->RestorePosition("{\"rows\":100000}").ok());
  CollectingOutput rest;
  std::thread watchdog([&] {
    for (int i = 0; i < 300 && rest.num_rows() < 20; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    rest.RequestStop();
  });
  Status status = (*restored)->Run(rest);
  watchdog.join();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(rest.num_rows(), 20);
}

TEST(GeneratorCheckpoint, LiveDataGoesOnWithTheSamePricesStampedNow) {
  // start: now stamps each row with the moment it is due; after a restore the prices go on as
  // before and the next row is due (and stamped) at the restart.
  const std::string yaml = "{start: now, rate: 100000, count: 2000, batch_size: 250, seed: 9}";
  auto source = MakeSource(yaml);
  ASSERT_TRUE(source.ok());
  PositionRecordingOutput whole(source->get(), {3});
  Status status = (*source)->Run(whole);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(whole.positions().count(3), 1u);

  auto restored = MakeSource(yaml);
  ASSERT_TRUE(restored.ok());
  ASSERT_TRUE((*restored)->RestorePosition(whole.positions().at(3)).ok());
  const auto before = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  CollectingOutput rest;
  ASSERT_TRUE((*restored)->Run(rest).ok());
  ASSERT_EQ(rest.num_rows(), 2000 - 3 * 250);
  auto expected = *arrow::Table::FromRecordBatches(
      std::vector<std::shared_ptr<arrow::RecordBatch>>(whole.batches().begin() + 3,
                                                       whole.batches().end()));
  auto got = rest.Table();
  for (const char* column : {"symbol", "bid", "ask", "volume"}) {
    EXPECT_TRUE(got->GetColumnByName(column)->Equals(*expected->GetColumnByName(column)))
        << column;
  }
  const auto& times = static_cast<const arrow::TimestampArray&>(*rest.batches()[0]->column(4));
  EXPECT_GE(times.Value(0), before);
  EXPECT_EQ(times.Value(1) - times.Value(0), 10);  // interval = 1 s / rate

  // Far into the stream (row 10^6 is 10 s after an uninterrupted start), the first row is
  // stamped no later than when it arrives.
  const std::string far = "{start: now, rate: 100000, count: 1000100, batch_size: 100}";
  auto late = MakeSource(far);
  ASSERT_TRUE(late.ok());
  ASSERT_TRUE((*late)->RestorePosition("{\"rows\":1000000}").ok());
  CollectingOutput last;
  ASSERT_TRUE((*late)->Run(last).ok());
  const auto after = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  ASSERT_EQ(last.num_rows(), 100);
  EXPECT_LE(static_cast<const arrow::TimestampArray&>(*last.batches()[0]->column(4)).Value(0),
            after);
}

TEST(GeneratorCheckpoint, PositionsAreKeptOnlyWhenThePipelineCheckpoints) {
  testing::ExpectPositionsOnlyWithCheckpoints(
      [](bool checkpoints) { return MakeSource("{count: 100, batch_size: 10}", checkpoints); },
      {"{\"row\": 3}", "not json"});
}

}  // namespace
}  // namespace sluice::connectors
