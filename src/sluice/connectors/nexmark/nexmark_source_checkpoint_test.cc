// Checkpoints of the nexmark source: a source restored from the position after any batch, also
// between the streams of one chunk, goes on with exactly the events an uninterrupted run
// generates next.

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "sluice/connectors/nexmark/nexmark_source.h"
#include "sluice/testing/position_recording_output.h"
#include "sluice/testing/connector_from_yaml.h"

namespace sluice::connectors {
namespace {

using testing::PositionRecordingOutput;

Result<std::unique_ptr<exec::Source>> MakeSource(const std::string& yaml,
                                                 bool checkpoints = true) {
  exec::ConnectorContext context{"test", "nexmark"};
  context.checkpoints = checkpoints;
  return testing::SourceFromYaml("nexmark", yaml, context);
}

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

/// Checks that a source from `yaml` restored after any of `cuts` delivers, with the batches
/// before the cut, exactly the uninterrupted run, stream by stream.
void CheckResumesExactly(const std::string& yaml, const std::set<int64_t>& cuts) {
  auto source = MakeSource(yaml);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  const auto kinds = (*source)->streams();
  auto expect_resumed = [&](const PositionRecordingOutput& whole, int64_t cut,
                            const PositionRecordingOutput& rest) {
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
  };
  testing::ExpectSourceResumesExactly([&] { return MakeSource(yaml); }, cuts, expect_resumed);
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
  testing::ExpectPositionsOnlyWithCheckpoints(
      [](bool checkpoints) { return MakeSource("{events: 100, batch_size: 10}", checkpoints); },
      {"{\"events\": 3}", "{\"event\": 3, \"stream\": 5}"});
}

}  // namespace
}  // namespace sluice::connectors
