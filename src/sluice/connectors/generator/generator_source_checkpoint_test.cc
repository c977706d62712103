// Checkpoints of the generator source: a source restored from the position after any batch goes
// on with exactly the rows an uninterrupted run generates next.

#include <arrow/api.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sluice/connectors/generator/generator_source.h"
#include "sluice/testing/collecting_output.h"

namespace sluice::connectors {
namespace {

using testing::CollectingOutput;

Result<std::unique_ptr<exec::Source>> MakeSource(const std::string& yaml,
                                                 bool checkpoints = true) {
  exec::Registry registry;
  RegisterGeneratorSource(&registry);
  const config::PluginSpec* spec = registry.FindSpec(config::PluginKind::kSource, "generator");
  if (spec == nullptr) return Status::Invalid("generator not registered");
  SLUICE_ASSIGN_OR_RAISE(
      config::Options options,
      config::ValidateOptions(*spec, YAML::Load(yaml), "test.yaml", {"connector"}));
  exec::ConnectorContext context{"test", "quotes"};
  context.checkpoints = checkpoints;
  return (*registry.FindSource("generator"))(context, options);
}

/// Asks the source for its position after each wanted batch, `lag` batches later (0: as it is
/// handed over, before the source goes on), as a pipeline behind its source would; Finish()
/// asks for those left after the run.
class PositionsOutput : public CollectingOutput {
 public:
  PositionsOutput(exec::Source* source, std::set<int64_t> wanted, int64_t lag = 0)
      : source_(source), wanted_(std::move(wanted)), lag_(lag) {}

  /// Asks for the positions not asked for yet.
  Status Finish() { return Ask(INT64_MAX); }

  Status Push(std::shared_ptr<arrow::RecordBatch> batch) override {
    SLUICE_RETURN_NOT_OK(CollectingOutput::Push(std::move(batch)));
    return Ask(static_cast<int64_t>(batches().size()) - lag_);
  }

  const std::map<int64_t, std::string>& positions() const { return positions_; }

 private:
  /// Asks for the wanted positions through batch `last`, in order.
  Status Ask(int64_t last) {
    while (!wanted_.empty() && *wanted_.begin() <= last &&
           *wanted_.begin() <= static_cast<int64_t>(batches().size())) {
      const int64_t cut = *wanted_.begin();
      wanted_.erase(wanted_.begin());
      SLUICE_ASSIGN_OR_RAISE(positions_[cut], source_->PositionAfter(cut));
    }
    return Status::OK();
  }

  exec::Source* source_;
  std::set<int64_t> wanted_;
  int64_t lag_;
  std::map<int64_t, std::string> positions_;
};

/// Runs a source from the configuration `yaml` once, taking the positions after `cuts` as each
/// batch is handed over and again two batches later; then for each, runs a fresh source restored
/// there and checks that the batches before the cut plus the restored run equal the
/// uninterrupted run.
void CheckResumesExactly(const std::string& yaml, const std::set<int64_t>& cuts) {
  for (int64_t lag : {0, 2}) {
    auto source = MakeSource(yaml);
    ASSERT_TRUE(source.ok()) << source.status().ToString();
    ASSERT_TRUE((*source)->checkpointable());
    PositionsOutput whole(source->get(), cuts, lag);
    Status status = (*source)->Run(whole);
    ASSERT_TRUE(status.ok()) << status.ToString();
    ASSERT_TRUE(whole.Finish().ok());
    ASSERT_EQ(whole.positions().size(), cuts.size());
    std::shared_ptr<arrow::Table> expected = whole.Table();

    for (const auto& [cut, position] : whole.positions()) {
      SCOPED_TRACE("cut after batch " + std::to_string(cut) + " at " + position);
      auto restored = MakeSource(yaml);
      ASSERT_TRUE(restored.ok());
      ASSERT_TRUE((*restored)->RestorePosition(position).ok());
      CollectingOutput rest;
      ASSERT_TRUE((*restored)->Run(rest).ok());
      std::vector<std::shared_ptr<arrow::RecordBatch>> batches(whole.batches().begin(),
                                                               whole.batches().begin() + cut);
      batches.insert(batches.end(), rest.batches().begin(), rest.batches().end());
      auto joined = arrow::Table::FromRecordBatches(expected->schema(), batches);
      ASSERT_TRUE(joined.ok());
      EXPECT_EQ((*joined)->num_rows(), expected->num_rows());
      EXPECT_TRUE((*joined)->Equals(*expected));
    }
  }
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
  class StoppingOutput : public PositionsOutput {
   public:
    using PositionsOutput::PositionsOutput;
    Status Push(std::shared_ptr<arrow::RecordBatch> batch) override {
      SLUICE_RETURN_NOT_OK(PositionsOutput::Push(std::move(batch)));
      if (batches().size() >= 12) RequestStop();
      return Status::OK();
    }
  } out(source->get(), {7});
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
  PositionsOutput whole(source->get(), {3});
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
  auto source = MakeSource("{count: 100, batch_size: 10}", /*checkpoints=*/false);
  ASSERT_TRUE(source.ok());
  CollectingOutput out;
  ASSERT_TRUE((*source)->Run(out).ok());
  EXPECT_FALSE((*source)->PositionAfter(3).ok());
  auto restored = MakeSource("{count: 100}");
  ASSERT_TRUE(restored.ok());
  EXPECT_FALSE((*restored)->RestorePosition("{\"row\": 3}").ok());
  EXPECT_FALSE((*restored)->RestorePosition("not json").ok());
}

}  // namespace
}  // namespace sluice::connectors
