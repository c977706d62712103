// Checkpoints of the nexmark source: a source restored from the position after any batch, also
// between the streams of one chunk, goes on with exactly the events an uninterrupted run
// generates next.

#include <arrow/api.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "sluice/connectors/nexmark/nexmark_source.h"
#include "sluice/testing/collecting_output.h"

namespace sluice::connectors {
namespace {

using testing::CollectingOutput;

Result<std::unique_ptr<exec::Source>> MakeSource(const std::string& yaml,
                                                 bool checkpoints = true) {
  exec::Registry registry;
  RegisterNexmarkSource(&registry);
  const config::PluginSpec* spec = registry.FindSpec(config::PluginKind::kSource, "nexmark");
  if (spec == nullptr) return Status::Invalid("nexmark not registered");
  SLUICE_ASSIGN_OR_RAISE(
      config::Options options,
      config::ValidateOptions(*spec, YAML::Load(yaml), "test.yaml", {"connector"}));
  exec::ConnectorContext context{"test", "nexmark"};
  context.checkpoints = checkpoints;
  return (*registry.FindSource("nexmark"))(context, options);
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

  Status PushStream(size_t stream, std::shared_ptr<arrow::RecordBatch> batch) override {
    streams_.push_back(stream);
    SLUICE_RETURN_NOT_OK(CollectingOutput::PushStream(stream, std::move(batch)));
    return Ask(static_cast<int64_t>(batches().size()) - lag_);
  }

  const std::map<int64_t, std::string>& positions() const { return positions_; }
  const std::vector<size_t>& streams() const { return streams_; }

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
  std::vector<size_t> streams_;
};

/// The rows of `stream` among `batches`, whose streams are `streams`, as one table.
std::shared_ptr<arrow::Table> StreamRows(
    const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
    const std::vector<size_t>& streams, size_t stream, std::shared_ptr<arrow::Schema> schema) {
  std::vector<std::shared_ptr<arrow::RecordBatch>> chosen;
  for (size_t i = 0; i < batches.size(); ++i) {
    if (streams[i] == stream) chosen.push_back(batches[i]);
  }
  return *arrow::Table::FromRecordBatches(std::move(schema), chosen);
}

/// Runs a source from `yaml` once, taking the positions after `cuts` as each batch is handed
/// over and again two batches later; then for each, runs a fresh source restored there and
/// checks that, stream by stream, the batches before the cut plus the restored run equal the
/// uninterrupted run.
void CheckResumesExactly(const std::string& yaml, const std::set<int64_t>& cuts) {
  for (int64_t lag : {0, 2}) {
    auto source = MakeSource(yaml);
    ASSERT_TRUE(source.ok()) << source.status().ToString();
    ASSERT_TRUE((*source)->checkpointable());
    const auto kinds = (*source)->streams();
    PositionsOutput whole(source->get(), cuts, lag);
    Status status = (*source)->Run(whole);
    ASSERT_TRUE(status.ok()) << status.ToString();
    ASSERT_TRUE(whole.Finish().ok());
    ASSERT_EQ(whole.positions().size(), cuts.size());

    for (const auto& [cut, position] : whole.positions()) {
      SCOPED_TRACE("cut after batch " + std::to_string(cut) + " at " + position);
      auto restored = MakeSource(yaml);
      ASSERT_TRUE(restored.ok());
      ASSERT_TRUE((*restored)->RestorePosition(position).ok());
      PositionsOutput rest(restored->get(), {});
      ASSERT_TRUE((*restored)->Run(rest).ok());
      std::vector<std::shared_ptr<arrow::RecordBatch>> batches(whole.batches().begin(),
                                                               whole.batches().begin() + cut);
      batches.insert(batches.end(), rest.batches().begin(), rest.batches().end());
      std::vector<size_t> streams(whole.streams().begin(), whole.streams().begin() + cut);
      streams.insert(streams.end(), rest.streams().begin(), rest.streams().end());
      for (size_t stream = 0; stream < kinds.size(); ++stream) {
        auto expected = StreamRows(whole.batches(), whole.streams(), stream, kinds[stream].schema);
        auto got = StreamRows(batches, streams, stream, kinds[stream].schema);
        EXPECT_EQ(got->num_rows(), expected->num_rows()) << kinds[stream].name;
        EXPECT_TRUE(got->Equals(*expected)) << kinds[stream].name;
      }
    }
  }
}

TEST(NexmarkCheckpoint, ResumesWithTheEventsAnUninterruptedRunGenerates) {
  // Chunks of 300 events hold all three kinds, so batches 1 and 2 cut a chunk after its person
  // and after its auction batch, and batch 3 is a chunk boundary.
  CheckResumesExactly("{events: 3000, batch_size: 300}", {0, 1, 2, 3, 4, 8, 29, 30});
  // Chunks of 10 events mostly hold no person; out-of-order groups cross chunks.
  CheckResumesExactly("{events: 1000, batch_size: 10, out_of_order_group: 7, seed: 3}",
                      {1, 2, 5, 6, 7, 50, 101});
}

TEST(NexmarkCheckpoint, PositionsAreKeptOnlyWhenThePipelineCheckpoints) {
  auto source = MakeSource("{events: 100, batch_size: 10}", /*checkpoints=*/false);
  ASSERT_TRUE(source.ok());
  CollectingOutput out;
  ASSERT_TRUE((*source)->Run(out).ok());
  EXPECT_FALSE((*source)->PositionAfter(3).ok());
  auto restored = MakeSource("{events: 100}");
  ASSERT_TRUE(restored.ok());
  EXPECT_FALSE((*restored)->RestorePosition("{\"events\": 3}").ok());
  EXPECT_FALSE((*restored)->RestorePosition("{\"event\": 3, \"stream\": 5}").ok());
}

}  // namespace
}  // namespace sluice::connectors
