#pragma once

// What the consumer-group integration tests share: the broker's address, unique names, and
// topics created and filled through librdkafka directly (not through Sluice), so that what a
// test checks never depends on the code under test having written it. Test-only.

#include <arrow/api.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/config/pipeline_config.h"
#include "sluice/exec/pipeline.h"
#include "sluice/exec/registry.h"

namespace sluice::testing {

/// The address run_tests.sh passes in SLUICE_KAFKA_BOOTSTRAP; empty when it is not set.
inline std::string Bootstrap() {
  const char* address = std::getenv("SLUICE_KAFKA_BOOTSTRAP");
  return address == nullptr ? std::string() : std::string(address);
}

/// A name no earlier run used, so that runs against one broker do not see each other's data.
inline std::string UniqueName(const std::string& stem) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return fmt::format("{}-{}-{}", stem, getpid(),
                     std::chrono::duration_cast<std::chrono::microseconds>(now).count());
}

/// A librdkafka client of `type` for the test broker; nullptr (and a test failure) on error.
inline rd_kafka_t* MakeClient(rd_kafka_type_t type,
                              const std::map<std::string, std::string>& settings = {}) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::map<std::string, std::string> all = settings;
  all["bootstrap.servers"] = Bootstrap();
  for (const auto& [name, value] : all) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      ADD_FAILURE() << name << ": " << error;
      rd_kafka_conf_destroy(conf);
      return nullptr;
    }
  }
  rd_kafka_t* client = rd_kafka_new(type, conf, error, sizeof(error));
  EXPECT_NE(client, nullptr) << error;
  return client;
}

/// Creates `topic` with `partitions` partitions through the admin API.
inline void CreateTopic(const std::string& topic, int partitions) {
  char error[512];
  rd_kafka_t* client = MakeClient(RD_KAFKA_PRODUCER);
  ASSERT_NE(client, nullptr);
  rd_kafka_NewTopic_t* new_topic =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, error, sizeof(error));
  ASSERT_NE(new_topic, nullptr) << error;
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client);
  rd_kafka_CreateTopics(client, &new_topic, 1, nullptr, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
  ASSERT_NE(event, nullptr);
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(rd_kafka_topic_result_error(results[0]), RD_KAFKA_RESP_ERR_NO_ERROR)
      << rd_kafka_topic_result_error_string(results[0]);
  rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(new_topic);
  rd_kafka_destroy(client);
}

/// One message to produce: its partition and its value (no key).
struct PartitionedMessage {
  int32_t partition = 0;
  std::string value;
};

/// Produces `messages` to `topic`, each to its partition, in order: within a partition they
/// keep the order of `messages` (idempotent producer, so retries cannot reorder them). At most
/// `messages_per_batch` go into one record batch: a consumer receives a partition's messages
/// in such batches, so small ones make it take turns between partitions more often.
inline void Produce(const std::string& topic, const std::vector<PartitionedMessage>& messages,
                    int messages_per_batch = 10000) {
  rd_kafka_t* producer =
      MakeClient(RD_KAFKA_PRODUCER, {{"enable.idempotence", "true"},
                                     {"linger.ms", "5"},
                                     {"batch.num.messages", std::to_string(messages_per_batch)}});
  ASSERT_NE(producer, nullptr);
  for (const auto& message : messages) {
    rd_kafka_resp_err_t code;
    while ((code = rd_kafka_producev(
                producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(message.partition),
                RD_KAFKA_V_VALUE(const_cast<char*>(message.value.data()), message.value.size()),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer, 10);
    }
    ASSERT_EQ(code, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(code);
    rd_kafka_poll(producer, 0);
  }
  EXPECT_EQ(rd_kafka_flush(producer, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(producer);
}

/// Running pipelines in-process with a `collect` sink, for the connector tests. In a namespace of
/// its own: other tests of this folder bring a RunPipeline() of their own.
namespace collect {

/// Keeps what a `collect` sink receives.
class CollectingSink final : public exec::Sink {
 public:
  explicit CollectingSink(std::vector<std::shared_ptr<arrow::RecordBatch>>* batches)
      : batches_(batches) {}
  Status Open(const std::shared_ptr<arrow::Schema>&) override { return Status::OK(); }
  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    batches_->push_back(batch);
    return Status::OK();
  }
  Status Close() override { return Status::OK(); }

 private:
  std::vector<std::shared_ptr<arrow::RecordBatch>>* batches_;
};

struct RunResult {
  exec::RunSummary summary;
  /// What each `collect` sink received, by sink name ("dead_letters" for the dead letters).
  std::map<std::string, std::shared_ptr<arrow::Table>> tables;
};

/// The builtin registry plus a `collect` sink that keeps its batches in `collected`, by sink name.
inline exec::Registry CollectRegistry(
    std::map<std::string, std::vector<std::shared_ptr<arrow::RecordBatch>>>* collected) {
  exec::Registry registry = exec::BuiltinRegistry();
  registry.AddSink({config::PluginKind::kSink, "collect", "Keeps the output for the test.", {}},
                   [collected](const exec::ConnectorContext& context,
                               const config::Options&) -> Result<std::unique_ptr<exec::Sink>> {
                     return std::make_unique<CollectingSink>(&(*collected)[context.name]);
                   });
  return registry;
}

/// Runs the pipeline in `yaml` with the built-in plugins plus a `collect` sink.
inline Result<RunResult> RunPipeline(const std::string& yaml) {
  std::map<std::string, std::vector<std::shared_ptr<arrow::RecordBatch>>> collected;
  exec::Registry registry = CollectRegistry(&collected);
  SLUICE_ASSIGN_OR_RAISE(auto config, config::LoadPipelineText(yaml, "test.yaml", {}, registry));
  SLUICE_ASSIGN_OR_RAISE(auto pipeline, exec::Pipeline::Make(config, registry));
  RunResult result;
  SLUICE_ASSIGN_OR_RAISE(result.summary, pipeline->Run());
  for (auto& [name, batches] : collected) {
    auto schema = name == "dead_letters" ? exec::DeadLetterSchema() : pipeline->output_schema();
    SLUICE_ASSIGN_OR_RAISE(result.tables[name], arrow::Table::FromRecordBatches(schema, batches));
    SLUICE_ASSIGN_OR_RAISE(result.tables[name], result.tables[name]->CombineChunks());
  }
  return result;
}

/// Loads and builds the pipeline in `yaml` without running it: where configuration errors show.
inline Status Build(const std::string& yaml) {
  std::map<std::string, std::vector<std::shared_ptr<arrow::RecordBatch>>> collected;
  exec::Registry registry = CollectRegistry(&collected);
  SLUICE_ASSIGN_OR_RAISE(auto config, config::LoadPipelineText(yaml, "test.yaml", {}, registry));
  SLUICE_ASSIGN_OR_RAISE(auto pipeline, exec::Pipeline::Make(config, registry));
  return Status::OK();
}

template <typename ArrayType>
std::shared_ptr<ArrayType> Column(const arrow::Table& table, const std::string& name) {
  auto column = table.GetColumnByName(name);
  EXPECT_NE(column, nullptr) << "no column " << name;
  if (column == nullptr) return nullptr;
  EXPECT_EQ(column->num_chunks(), 1);
  return std::static_pointer_cast<ArrayType>(column->chunk(0));
}

}  // namespace collect

}  // namespace sluice::testing
