// Integration tests of the Kafka source and sink against a real broker. run_tests.sh starts the
// broker (broker.sh) and passes its address in SLUICE_KAFKA_BOOTSTRAP; without it every test
// fails rather than passing silently.
#include <arrow/api.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "kafka_test_support.h"
#include "sluice/common/logging.h"
#include "sluice/config/pipeline_config.h"
#include "sluice/exec/pipeline.h"
#include "sluice/exec/registry.h"

namespace sluice {
namespace {

using testing::Bootstrap;
using testing::CreateTopic;
using testing::UniqueName;

int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

/// Produces `values` (as they are, not through Sluice) to partition 0 of `topic`.
void ProduceRaw(const std::string& topic, const std::vector<std::string>& values) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  ASSERT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", Bootstrap().c_str(), error, sizeof(error)),
            RD_KAFKA_CONF_OK);
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  ASSERT_NE(producer, nullptr) << error;
  for (const auto& value : values) {
    ASSERT_EQ(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  EXPECT_EQ(rd_kafka_flush(producer, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(producer);
}

using testing::collect::Build;
using testing::collect::Column;
using testing::collect::RunPipeline;
using testing::collect::RunResult;

class KafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(Bootstrap().empty())
        << "SLUICE_KAFKA_BOOTSTRAP is not set: run these tests with "
           "tests/integration/kafka/run_tests.sh, which starts a broker";
    directory_ = std::filesystem::temp_directory_path() / UniqueName("sluice-kafka-test");
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }

  std::filesystem::path directory_;
};

TEST_F(KafkaTest, SinkThenBoundedSourceDeliversEveryRecordOnceWithItsFields) {
  constexpr int64_t kRows = 3000;
  std::string topic = UniqueName("round-trip");
  CreateTopic(topic, 3);
  std::string input = (directory_ / "in.jsonl").string();
  {
    std::ofstream out(input);
    for (int64_t i = 0; i < kRows; ++i)
      out << fmt::format(R"({{"id":{},"name":"n{}","amount":{}}})", i, i, i * 0.5) << '\n';
  }
  auto produced = RunPipeline(fmt::format(R"(
name: produce
sources:
  input: {{connector: file, path: "{}", schema: {{id: int64, name: string, amount: double}}, batch_size: 1000}}
sinks:
  out: {{connector: kafka, brokers: ["{}"], topic: "{}", key: [id], compression: zstd}}
)",
                                          input, Bootstrap(), topic));
  ASSERT_TRUE(produced.ok()) << produced.status().ToString();
  EXPECT_EQ(produced->summary.rows_out, kRows);

  std::string consume = fmt::format(R"(
name: consume
sources:
  input:
    connector: kafka
    brokers: ["{}"]
    topics: ["{}"]
    group: "{}"
    until: end
    metadata: true
    batch_size: 700
    schema: {{id: int64, name: string, amount: double}}
sinks:
  out: {{connector: collect}}
)",
                                    Bootstrap(), topic, UniqueName("group"));
  auto consumed = RunPipeline(consume);
  ASSERT_TRUE(consumed.ok()) << consumed.status().ToString();
  EXPECT_EQ(consumed->summary.dead_letters, 0);
  const arrow::Table& table = *consumed->tables.at("out");
  ASSERT_EQ(table.num_rows(), kRows);
  auto ids = Column<arrow::Int64Array>(table, "id");
  auto names = Column<arrow::StringArray>(table, "name");
  auto amounts = Column<arrow::DoubleArray>(table, "amount");
  auto keys = Column<arrow::StringArray>(table, "_key");
  auto topics = Column<arrow::StringArray>(table, "_topic");
  auto partitions = Column<arrow::Int32Array>(table, "_partition");
  auto offsets = Column<arrow::Int64Array>(table, "_offset");
  auto timestamps = Column<arrow::TimestampArray>(table, "_timestamp");
  ASSERT_TRUE(ids && names && amounts && keys && topics && partitions && offsets && timestamps);
  std::set<int64_t> seen;
  std::set<std::pair<int32_t, int64_t>> positions;
  std::map<int64_t, int32_t> partition_of_key;
  for (int64_t row = 0; row < table.num_rows(); ++row) {
    int64_t id = ids->Value(row);
    EXPECT_TRUE(seen.insert(id).second) << "id " << id << " arrived twice";
    EXPECT_EQ(names->GetString(row), fmt::format("n{}", id));
    EXPECT_DOUBLE_EQ(amounts->Value(row), id * 0.5);
    EXPECT_EQ(keys->GetString(row), std::to_string(id));
    EXPECT_EQ(topics->GetString(row), topic);
    EXPECT_TRUE(positions.insert({partitions->Value(row), offsets->Value(row)}).second);
    EXPECT_FALSE(timestamps->IsNull(row));
    partition_of_key[id] = partitions->Value(row);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kRows));
  EXPECT_EQ(*seen.begin(), 0);
  EXPECT_EQ(*seen.rbegin(), kRows - 1);
  std::set<int32_t> used;
  for (const auto& [id, partition] : partition_of_key) used.insert(partition);
  EXPECT_EQ(used, (std::set<int32_t>{0, 1, 2})) << "keys should spread over all three partitions";

  // The offsets were committed after the batches were written: the same group reads nothing more.
  auto again = RunPipeline(consume);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->summary.rows_in, 0);
}

TEST_F(KafkaTest, UndecodableMessageBecomesDeadLetterWithTopicPartitionAndOffset) {
  std::string topic = UniqueName("malformed");
  CreateTopic(topic, 1);
  ProduceRaw(topic, {R"({"id":1})", "not json", R"({"id":"two"})", R"({"id":4})"});
  auto consumed = RunPipeline(fmt::format(R"(
name: consume
sources:
  input: {{connector: kafka, brokers: ["{}"], topics: ["{}"], until: end, schema: {{id: int64}}}}
sinks:
  out: {{connector: collect}}
dead_letters: {{connector: collect}}
)",
                                          Bootstrap(), topic));
  ASSERT_TRUE(consumed.ok()) << consumed.status().ToString();
  const arrow::Table& table = *consumed->tables.at("out");
  ASSERT_EQ(table.num_rows(), 2);
  auto ids = Column<arrow::Int64Array>(table, "id");
  EXPECT_EQ(ids->Value(0), 1);
  EXPECT_EQ(ids->Value(1), 4);
  ASSERT_EQ(consumed->summary.dead_letters, 2);
  const arrow::Table& letters = *consumed->tables.at("dead_letters");
  ASSERT_EQ(letters.num_rows(), 2);
  auto origins = Column<arrow::StringArray>(letters, "origin");
  auto records = Column<arrow::StringArray>(letters, "record");
  auto stages = Column<arrow::StringArray>(letters, "stage");
  EXPECT_EQ(origins->GetString(0), topic + "/0@1");
  EXPECT_EQ(records->GetString(0), "not json");
  EXPECT_EQ(stages->GetString(0), "source");
  EXPECT_EQ(origins->GetString(1), topic + "/0@2");
}

TEST_F(KafkaTest, RawFormatKeepsTheMessageText) {
  std::string topic = UniqueName("raw");
  CreateTopic(topic, 1);
  ProduceRaw(topic, {"first line", "second, with a comma"});
  auto consumed = RunPipeline(fmt::format(R"(
name: consume
sources:
  input: {{connector: kafka, brokers: ["{}"], topics: ["{}"], until: end, format: raw}}
sinks:
  out: {{connector: collect}}
)",
                                          Bootstrap(), topic));
  ASSERT_TRUE(consumed.ok()) << consumed.status().ToString();
  auto values = Column<arrow::StringArray>(*consumed->tables.at("out"), "value");
  ASSERT_EQ(values->length(), 2);
  EXPECT_EQ(values->GetString(0), "first line");
  EXPECT_EQ(values->GetString(1), "second, with a comma");
}

TEST_F(KafkaTest, UntilCountAndIdleEndALiveSource) {
  std::string topic = UniqueName("until");
  CreateTopic(topic, 1);
  std::vector<std::string> messages;
  for (int i = 0; i < 10; ++i) messages.push_back(fmt::format("m{}", i));
  ProduceRaw(topic, messages);
  // count: exactly the first 4 messages, even though more are waiting; the group's committed
  // offset then says where the next run starts.
  std::string group = UniqueName("until-group");
  auto counted = RunPipeline(fmt::format(R"(
name: consume
sources:
  input: {{connector: kafka, brokers: ["{}"], topics: ["{}"], group: "{}", format: raw,
          until: {{count: 4}}}}
sinks:
  out: {{connector: collect}}
)",
                                         Bootstrap(), topic, group));
  ASSERT_TRUE(counted.ok()) << counted.status().ToString();
  auto first = Column<arrow::StringArray>(*counted->tables.at("out"), "value");
  ASSERT_EQ(first->length(), 4);
  EXPECT_EQ(first->GetString(3), "m3");
  // idle: the rest, then the source ends by itself once nothing comes for 1.5 s.
  auto started = std::chrono::steady_clock::now();
  auto idled = RunPipeline(fmt::format(R"(
name: consume
sources:
  input: {{connector: kafka, brokers: ["{}"], topics: ["{}"], group: "{}", format: raw,
          until: {{idle: 1500ms}}}}
sinks:
  out: {{connector: collect}}
)",
                                       Bootstrap(), topic, group));
  ASSERT_TRUE(idled.ok()) << idled.status().ToString();
  auto rest = Column<arrow::StringArray>(*idled->tables.at("out"), "value");
  ASSERT_EQ(rest->length(), 6);
  EXPECT_EQ(rest->GetString(0), "m4");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
}

TEST_F(KafkaTest, StartAtATimestampSkipsOlderMessages) {
  std::string topic = UniqueName("start-at");
  CreateTopic(topic, 1);
  ProduceRaw(topic, {"before 1", "before 2"});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  // Messages carry their produce time; start between the two bursts.
  auto middle = std::chrono::system_clock::now() - std::chrono::milliseconds(500);
  int64_t middle_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(middle.time_since_epoch()).count();
  ProduceRaw(topic, {"after 1", "after 2", "after 3"});
  auto consumed = RunPipeline(fmt::format(R"(
name: consume
sources:
  input: {{connector: kafka, brokers: ["{}"], topics: ["{}"], until: end, format: raw, start: "{}"}}
sinks:
  out: {{connector: collect}}
)",
                                          Bootstrap(), topic, middle_ms));
  ASSERT_TRUE(consumed.ok()) << consumed.status().ToString();
  auto values = Column<arrow::StringArray>(*consumed->tables.at("out"), "value");
  ASSERT_EQ(values->length(), 3);
  EXPECT_EQ(values->GetString(0), "after 1");
  EXPECT_EQ(values->GetString(2), "after 3");
}

/// Runs a bounded job over `topic` in consumer group `group` with the given `start` option
/// (none when empty) and returns the values it read and the source's warnings that it read
/// nothing.
struct BoundedRun {
  std::vector<std::string> values;
  std::vector<std::string> warnings;
};
BoundedRun RunBoundedJob(const std::string& topic, const std::string& group,
                         const std::string& start) {
  BoundedRun run;
  std::string source_name = UniqueName("rerun");
  auto logger = ComponentLogger("source " + source_name);
  auto captured = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  captured->set_level(spdlog::level::warn);
  logger->sinks().push_back(captured);
  auto consumed = RunPipeline(fmt::format(R"(
name: rerun
sources:
  {}: {{connector: kafka, brokers: ["{}"], topics: ["{}"], group: "{}", until: end, format: raw{}}}
sinks:
  out: {{connector: collect}}
)",
                                          source_name, Bootstrap(), topic, group,
                                          start.empty() ? "" : ", start: " + start));
  logger->sinks().pop_back();
  EXPECT_TRUE(consumed.ok()) << consumed.status().ToString();
  if (!consumed.ok()) return run;
  for (const auto& line : captured->last_formatted()) {
    if (line.find("read nothing") != std::string::npos) run.warnings.push_back(line);
  }
  auto out = consumed->tables.find("out");
  if (out == consumed->tables.end() || out->second->num_rows() == 0) return run;
  auto values = Column<arrow::StringArray>(*out->second, "value");
  for (int64_t i = 0; i < values->length(); ++i) run.values.push_back(values->GetString(i));
  return run;
}

TEST_F(KafkaTest, ABoundedRerunOfTheSameGroupReadsNothingAndSaysWhyUnlessStartIsExplicit) {
  std::string topic = UniqueName("rerun");
  std::string group = UniqueName("rerun-group");
  CreateTopic(topic, 2);
  ProduceRaw(topic, {"a", "b", "c", "d"});

  // The default start is the group's committed offsets, earliest for a new group: all of it.
  BoundedRun first = RunBoundedJob(topic, group, "");
  EXPECT_EQ(first.values.size(), 4u);
  EXPECT_TRUE(first.warnings.empty()) << first.warnings.front();

  // Again with the same group: it has committed the end of both partitions, so nothing is
  // read, and a warning names the group and each partition's committed offset.
  BoundedRun second = RunBoundedJob(topic, group, "");
  EXPECT_TRUE(second.values.empty());
  ASSERT_EQ(second.warnings.size(), 1u);
  const std::string& warning = second.warnings.front();
  EXPECT_NE(warning.find("read nothing"), std::string::npos) << warning;
  EXPECT_NE(warning.find("'" + group + "'"), std::string::npos) << warning;
  int64_t committed_total = 0;
  for (int partition = 0; partition < 2; ++partition) {
    std::string prefix = fmt::format("{}/{}@", topic, partition);
    size_t at = warning.find(prefix);
    ASSERT_NE(at, std::string::npos) << warning;
    // A partition that got no message has no committed offset: "none".
    std::string offset = warning.substr(at + prefix.size());
    if (offset.rfind("none", 0) != 0) committed_total += std::stoll(offset);
  }
  EXPECT_EQ(committed_total, 4) << warning;
  EXPECT_NE(warning.find("start: earliest"), std::string::npos) << warning;

  // An explicit start ignores the committed offsets: everything again, and no warning.
  BoundedRun again = RunBoundedJob(topic, group, "earliest");
  std::multiset<std::string> values(again.values.begin(), again.values.end());
  EXPECT_EQ(values, (std::multiset<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(again.warnings.empty()) << again.warnings.front();

  // start: latest reads nothing by design; the warning still says so, without the hint.
  BoundedRun latest = RunBoundedJob(topic, group, "latest");
  EXPECT_TRUE(latest.values.empty());
  ASSERT_EQ(latest.warnings.size(), 1u);
  EXPECT_NE(latest.warnings.front().find("start: latest"), std::string::npos);
}

TEST_F(KafkaTest, ResetAppliesOnlyToStartGroup) {
  Status built = Build(fmt::format(R"(
name: bad
sources:
  input: {{connector: kafka, brokers: ["{}"], topics: [t], start: earliest, reset: latest, format: raw}}
sinks:
  out: {{connector: collect}}
)",
                                   Bootstrap()));
  ASSERT_FALSE(built.ok());
  EXPECT_NE(built.message().find("reset applies to start: group"), std::string::npos)
      << built.ToString();
}

TEST_F(KafkaTest, UnreachableBrokerFailsABoundedRunClearlyWithinTheTimeout) {
  auto started = std::chrono::steady_clock::now();
  auto consumed = RunPipeline(fmt::format(R"(
name: consume
sources:
  input: {{connector: kafka, brokers: ["127.0.0.1:{}"], topics: [absent], until: end, connect_timeout: 2s, schema: {{id: int64}}}}
sinks:
  out: {{connector: collect}}
)",
                                          ClosedPort()));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_FALSE(consumed.ok());
  EXPECT_TRUE(consumed.status().IsIOError()) << consumed.status().ToString();
  EXPECT_NE(consumed.status().message().find("cannot reach the Kafka brokers"), std::string::npos)
      << consumed.status().ToString();
  EXPECT_GE(seconds, 1.5);
  EXPECT_LT(seconds, 15);
}

TEST_F(KafkaTest, UnreachableBrokerFailsTheSinkAfterItsDeliveryTimeout) {
  std::string input = (directory_ / "in.jsonl").string();
  std::ofstream(input) << R"({"id":1})" << '\n';
  auto started = std::chrono::steady_clock::now();
  auto produced = RunPipeline(fmt::format(R"(
name: produce
sources:
  input: {{connector: file, path: "{}", schema: {{id: int64}}}}
sinks:
  out: {{connector: kafka, brokers: ["127.0.0.1:{}"], topic: absent, delivery_timeout: 2s}}
)",
                                          input, ClosedPort()));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_FALSE(produced.ok());
  EXPECT_NE(produced.status().message().find("could not be delivered to Kafka brokers"),
            std::string::npos)
      << produced.status().ToString();
  EXPECT_LT(seconds, 15);
}

}  // namespace
}  // namespace sluice
