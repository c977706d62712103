// Integration test of the Kafka source's backpressure against a real broker: when a slow sink
// keeps the pipeline's queue full, the source pauses its partitions (and keeps polling) instead
// of blocking, resumes them when there is room, and still delivers every message exactly once
// and in order. run_tests.sh starts the broker.
#include <arrow/api.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "kafka_test_support.h"
#include "sluice/common/logging.h"
#include "sluice/config/pipeline_config.h"
#include "sluice/exec/pipeline.h"
#include "sluice/exec/registry.h"

namespace sluice {
namespace {

using testing::Bootstrap;
using testing::CreateTopic;
using testing::PartitionedMessage;
using testing::Produce;
using testing::UniqueName;

/// Keeps what it receives, taking `delay` per batch: a sink slower than the source.
class SlowSink final : public exec::Sink {
 public:
  SlowSink(std::vector<std::shared_ptr<arrow::RecordBatch>>* batches,
           std::chrono::milliseconds delay)
      : batches_(batches), delay_(delay) {}
  Status Open(const std::shared_ptr<arrow::Schema>&) override { return Status::OK(); }
  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    std::this_thread::sleep_for(delay_);
    batches_->push_back(batch);
    return Status::OK();
  }
  Status Close() override { return Status::OK(); }

 private:
  std::vector<std::shared_ptr<arrow::RecordBatch>>* batches_;
  std::chrono::milliseconds delay_;
};

TEST(KafkaBackpressureTest, FullQueuePausesAndResumesPartitionsAndLosesNothing) {
  ASSERT_FALSE(Bootstrap().empty()) << "run with tests/integration/kafka/run_tests.sh";
  std::string topic = UniqueName("backpressure");
  CreateTopic(topic, 1);
  constexpr int kMessages = 200;
  std::vector<PartitionedMessage> messages;
  for (int i = 0; i < kMessages; ++i) messages.push_back({0, fmt::format(R"({{"id":{}}})", i)});
  Produce(topic, messages);

  // The source's log, at debug level, where it reports pausing and resuming.
  std::string source_name = UniqueName("slow_in");
  auto logger = ComponentLogger("source " + source_name);
  auto captured = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
  logger->sinks().push_back(captured);
  auto level = logger->level();
  logger->set_level(spdlog::level::debug);

  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  exec::Registry registry = exec::BuiltinRegistry();
  registry.AddSink({config::PluginKind::kSink, "slow", "Writes slowly, for the test.", {}},
                   [&](const exec::ConnectorContext&,
                       const config::Options&) -> Result<std::unique_ptr<exec::Sink>> {
                     return std::make_unique<SlowSink>(&batches, std::chrono::milliseconds(30));
                   });
  std::string yaml = fmt::format(R"(
name: backpressure
sources:
  {}: {{connector: kafka, brokers: ["{}"], topics: ["{}"], until: end, schema: {{id: int64}}, batch_size: 5}}
sinks:
  out: {{connector: slow}}
)",
                                 source_name, Bootstrap(), topic);
  auto config = config::LoadPipelineText(yaml, "test.yaml", {}, registry);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  auto pipeline = exec::Pipeline::Make(*config, registry);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().ToString();
  auto summary = (*pipeline)->Run();
  logger->set_level(level);
  logger->sinks().pop_back();
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();

  // Every message once, in order.
  std::vector<int64_t> ids;
  for (const auto& batch : batches) {
    auto column = std::static_pointer_cast<arrow::Int64Array>(batch->GetColumnByName("id"));
    for (int64_t i = 0; i < column->length(); ++i) ids.push_back(column->Value(i));
  }
  ASSERT_EQ(ids.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) EXPECT_EQ(ids[static_cast<size_t>(i)], i);

  // The sink takes 30 ms per batch of 5 rows and the queue holds 4 batches, so the source must
  // have found it full; each pause is followed by a resume.
  int paused = 0;
  int resumed = 0;
  for (const auto& line : captured->last_formatted()) {
    if (line.find("queue is full: paused 1 partition(s)") != std::string::npos) ++paused;
    if (line.find("has room: resumed 1 partition(s)") != std::string::npos) ++resumed;
  }
  EXPECT_GT(paused, 0);
  EXPECT_EQ(paused, resumed);
}

}  // namespace
}  // namespace sluice
