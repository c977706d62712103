// The amqp source and sink against a real RabbitMQ node (run_tests.sh starts it and passes its
// URL in SLUICE_AMQP_URL): round trips in every format, routing keys, headers and
// declarations, dead letters for undecodable, nacked and unroutable messages, and clear errors
// for a missing queue, wrong credentials and an unreachable broker.

#include <arpa/inet.h>
#include <arrow/api.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "../kafka/kafka_test_support.h"
#include "amqp_test_support.h"
#include "sluice/exec/dead_letter.h"

namespace sluice::testing {
namespace {

using collect::RunPipeline;

class AmqpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (AmqpUrl().empty()) GTEST_SKIP() << "SLUICE_AMQP_URL is not set (run run_tests.sh)";
  }
};

/// Every row of `table` as a JSON object, in order.
std::vector<std::string> Rows(const std::shared_ptr<arrow::Table>& table) {
  std::vector<std::string> rows;
  if (table == nullptr) return rows;
  arrow::TableBatchReader reader(*table);
  std::shared_ptr<arrow::RecordBatch> batch;
  while (reader.ReadNext(&batch).ok() && batch != nullptr) {
    for (int64_t row = 0; row < batch->num_rows(); ++row)
      rows.push_back(exec::RowToJson(*batch, row));
  }
  return rows;
}

int64_t NumRows(const collect::RunResult& result, const std::string& sink) {
  auto it = result.tables.find(sink);
  return it == result.tables.end() ? 0 : it->second->num_rows();
}

const char* kQuoteSchema =
    "{symbol: string, bid: double, ask: double, volume: int64, ts: timestamp}";

std::string Generator(int count) {
  return fmt::format(
      "  quotes: {{connector: generator, count: {}, seed: 7, symbols: 5}}\n", count);
}

TEST_F(AmqpTest, RoundTripInEveryFormat) {
  std::string avsc = ::testing::TempDir() + "quote.avsc";
  std::ofstream(avsc) << R"({"type": "record", "name": "Quote", "fields": [
    {"name": "symbol", "type": "string"}, {"name": "bid", "type": "double"},
    {"name": "ask", "type": "double"}, {"name": "volume", "type": "long"},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}}]})";
  constexpr int kRows = 300;
  auto expected_run = RunPipeline("name: expected\nsources:\n" + Generator(kRows) +
                                   "sinks:\n  out: {connector: collect}\n");
  ASSERT_TRUE(expected_run.ok()) << expected_run.status().ToString();
  auto& expected = *expected_run;
  for (const std::string format : {"json", "csv", "avro", "arrow", "raw"}) {
    SCOPED_TRACE(format);
    std::string queue = UniqueName("round-trip-" + format);
    std::string select = format == "raw" ? "pipeline:\n  - select: [symbol]\n" : "";
    std::string avro_option = format == "avro" ? ", avro_schema: " + avsc : "";
    std::string write = fmt::format(
        "name: write\nsources:\n{}{}sinks:\n  out: {{connector: amqp, url: '{}', routing_key: "
        "{}, format: {}{}, declare: {{queue: {{name: {}}}}}}}\n",
        Generator(kRows), select, AmqpUrl(), queue, format, avro_option, queue);
    auto written_run = RunPipeline(write);
  ASSERT_TRUE(written_run.ok()) << written_run.status().ToString();
  auto& written = *written_run;
    EXPECT_EQ(written.summary.dead_letters, 0);

    std::string schema = format == "raw" || format == "avro"
                             ? std::string()
                             : std::string(", schema: ") + kQuoteSchema;
    // An arrow message holds a whole batch: the source ends when the queue is idle.
    std::string until = format == "arrow" ? "{idle: 1s}" : fmt::format("{{count: {}}}", kRows);
    std::string read = fmt::format(
        "name: read\nsources:\n  in: {{connector: amqp, url: '{}', queue: {}, format: {}{}{}, "
        "until: {}}}\nsinks:\n  out: {{connector: collect}}\n",
        AmqpUrl(), queue, format, avro_option, schema, until);
    auto result_run = RunPipeline(read);
  ASSERT_TRUE(result_run.ok()) << result_run.status().ToString();
  auto& result = *result_run;
    EXPECT_EQ(result.summary.dead_letters, 0);
    std::vector<std::string> got = Rows(result.tables["out"]);
    std::vector<std::string> want = Rows(expected.tables["out"]);
    if (format == "raw") {
      // One field `value` holding the symbol.
      ASSERT_EQ(got.size(), want.size());
      auto symbols = collect::Column<arrow::StringArray>(*expected.tables["out"], "symbol");
      auto values = collect::Column<arrow::StringArray>(*result.tables["out"], "value");
      for (int64_t row = 0; row < kRows; ++row)
        EXPECT_EQ(values->GetView(row), symbols->GetView(row));
      continue;
    }
    EXPECT_EQ(got, want);
    TestClient client;
    EXPECT_EQ(client.Count(queue), 0) << "every message is acknowledged";
  }
}

TEST_F(AmqpTest, RoutingKeyFromFieldHeadersMessageIdAndDeclarations) {
  std::string exchange = UniqueName("quotes-exchange");
  std::string all = UniqueName("all-quotes");
  std::string apple = UniqueName("apple-quotes");
  // The source declares its queue and binding (and the exchange) before anything is published.
  std::string read_apple = fmt::format(
      "name: read\nsources:\n  in:\n    connector: amqp\n    url: '{}'\n    queue: {}\n"
      "    declare: {{exchange: {{name: {}, type: topic}}, queue: {{durable: true}}, "
      "bindings: [quote.AAPL]}}\n    schema: {}\n    metadata: true\n    until: {{idle: 500ms}}\n"
      "sinks:\n  out: {{connector: collect}}\n",
      AmqpUrl(), apple, exchange, kQuoteSchema);
  auto empty_run = RunPipeline(read_apple);
  ASSERT_TRUE(empty_run.ok()) << empty_run.status().ToString();
  auto& empty = *empty_run;
  EXPECT_EQ(NumRows(empty, "out"), 0);

  std::string write = fmt::format(
      "name: write\nsources:\n{}pipeline:\n  - derive: {{key: \"concat('quote.', symbol)\", id: "
      "\"concat(symbol, '-', CAST(volume AS VARCHAR))\"}}\n"
      "sinks:\n  out:\n    connector: amqp\n    url: '{}'\n    exchange: {}\n"
      "    routing_key_field: key\n    headers: [symbol, volume]\n    message_id_field: id\n"
      "    declare: {{exchange: {{name: {}, type: topic}}, queue: {{name: {}}}, bindings: "
      "['quote.#']}}\n",
      Generator(100), AmqpUrl(), exchange, exchange, all);
  auto written_run = RunPipeline(write);
  ASSERT_TRUE(written_run.ok()) << written_run.status().ToString();
  auto& written = *written_run;
  EXPECT_EQ(written.summary.dead_letters, 0);

  TestClient client;
  std::vector<ReadMessage> messages = client.Drain(all);
  ASSERT_EQ(messages.size(), 100u);
  int64_t apples = 0;
  for (const auto& message : messages) {
    EXPECT_EQ(message.routing_key, "quote." + message.headers.at("symbol"));
    EXPECT_EQ(message.content_type, "application/json");
    EXPECT_EQ(message.delivery_mode, 2) << "persistent";
    ASSERT_TRUE(message.message_id.has_value());
    EXPECT_EQ(*message.message_id,
              message.headers.at("symbol") + "-" + message.headers.at("volume"));
    EXPECT_NE(message.body.find("\"id\":\"" + *message.message_id + "\""), std::string::npos);
    if (message.headers.at("symbol") == "AAPL") ++apples;
  }
  ASSERT_GT(apples, 0);

  std::string until = fmt::format("{{count: {}}}", apples);
  std::string read = read_apple;
  read.replace(read.find("{idle: 500ms}"), 13, until);
  auto result_run = RunPipeline(read);
  ASSERT_TRUE(result_run.ok()) << result_run.status().ToString();
  auto& result = *result_run;
  ASSERT_EQ(NumRows(result, "out"), apples);
  const arrow::Table& table = *result.tables["out"];
  auto exchanges = collect::Column<arrow::StringArray>(table, "_exchange");
  auto keys = collect::Column<arrow::StringArray>(table, "_routing_key");
  auto ids = collect::Column<arrow::StringArray>(table, "_message_id");
  auto headers = collect::Column<arrow::StringArray>(table, "_headers");
  auto tags = collect::Column<arrow::Int64Array>(table, "_delivery_tag");
  auto redelivered = collect::Column<arrow::BooleanArray>(table, "_redelivered");
  for (int64_t row = 0; row < table.num_rows(); ++row) {
    EXPECT_EQ(exchanges->GetView(row), exchange);
    EXPECT_EQ(keys->GetView(row), "quote.AAPL");
    EXPECT_EQ(ids->GetView(row).substr(0, 5), "AAPL-");
    EXPECT_NE(headers->GetString(row).find(R"("symbol":"AAPL")"), std::string::npos)
        << headers->GetString(row);
    EXPECT_EQ(tags->Value(row), row + 1);
    EXPECT_FALSE(redelivered->Value(row));
  }
}

TEST_F(AmqpTest, WithCheckpointsMessagesAreAcknowledgedOnceTheCheckpointCompletes) {
  std::string input = UniqueName("checkpointed-in");
  std::string output = UniqueName("checkpointed-out");
  TestClient client;
  client.DeclareQueue(input);
  client.DeclareQueue(output);
  for (int i = 0; i < 500; ++i) client.Publish(input, fmt::format(R"({{"id": {}}})", i));
  std::string state = ::testing::TempDir() + UniqueName("amqp-checkpoints");
  std::string relay = fmt::format(
      "name: relay\nsources:\n  in: {{connector: amqp, url: '{}', queue: {}, schema: {{id: "
      "int64}}, batch_size: 50, until: {{count: 500}}}}\npipeline:\n  - dedup: {{key: [id], "
      "within: 1h}}\ncheckpoint: {{dir: {}, interval: 50ms}}\nsinks:\n  out: {{connector: amqp, "
      "url: '{}', routing_key: {}}}\n",
      AmqpUrl(), input, state, AmqpUrl(), output);
  auto result_run = RunPipeline(relay);
  ASSERT_TRUE(result_run.ok()) << result_run.status().ToString();
  EXPECT_EQ(result_run->summary.rows_out, 500);
  EXPECT_EQ(client.Count(input), 0) << "acknowledged with the last checkpoint";
  EXPECT_EQ(client.Drain(output).size(), 500u);
}

/// A sink that holds every Write() until the test opens it: a pipeline stuck on a slow sink.
class GateSink final : public exec::Sink {
 public:
  explicit GateSink(std::atomic<bool>* open, std::atomic<int64_t>* rows)
      : open_(open), rows_(rows) {}
  Status Open(const std::shared_ptr<arrow::Schema>&) override { return Status::OK(); }
  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    while (!open_->load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    *rows_ += batch->num_rows();
    return Status::OK();
  }
  Status Close() override { return Status::OK(); }

 private:
  std::atomic<bool>* open_;
  std::atomic<int64_t>* rows_;
};

TEST_F(AmqpTest, ASlowSinkHoldsTheSourceAtPrefetch) {
  std::string queue = UniqueName("backpressure");
  TestClient client;
  client.DeclareQueue(queue);
  for (int i = 0; i < 500; ++i) client.Publish(queue, fmt::format(R"({{"id": {}}})", i));
  std::atomic<bool> open{false};
  std::atomic<int64_t> rows{0};
  exec::Registry registry = exec::BuiltinRegistry();
  registry.AddSink({config::PluginKind::kSink, "gate", "Holds writes until the test opens it.", {}},
                   [&](const exec::ConnectorContext&,
                       const config::Options&) -> Result<std::unique_ptr<exec::Sink>> {
                     return std::make_unique<GateSink>(&open, &rows);
                   });
  std::string yaml = fmt::format(
      "name: slow\nsources:\n  in: {{connector: amqp, url: '{}', queue: {}, schema: {{id: int64}}, "
      "prefetch: 20, batch_size: 5, linger: 10ms, until: {{count: 500}}}}\nsinks:\n  out: "
      "{{connector: gate}}\n",
      AmqpUrl(), queue);
  auto config = config::LoadPipelineText(yaml, "test.yaml", {}, registry);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  auto pipeline = exec::Pipeline::Make(*config, registry);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().ToString();
  Result<exec::RunSummary> summary = Status::UnknownError("not run");
  std::thread runner([&] { summary = (*pipeline)->Run(); });
  std::this_thread::sleep_for(std::chrono::seconds(1));
  // Nothing is written, so nothing is acknowledged, and the broker stops at prefetch.
  int64_t ready = client.Count(queue);
  open = true;
  runner.join();
  EXPECT_EQ(ready, 480) << "unacknowledged messages are bounded by prefetch";
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(rows.load(), 500);
  EXPECT_EQ(client.Count(queue), 0);
}

TEST_F(AmqpTest, TwoConsumersOfOneQueueShareItsMessages) {
  std::string queue = UniqueName("shared");
  TestClient client;
  client.DeclareQueue(queue);
  constexpr int kMessages = 2000;
  for (int i = 0; i < kMessages; ++i) client.Publish(queue, fmt::format(R"({{"id": {}}})", i));
  // Two sources (two connections, two consumers) on one queue: RabbitMQ's competing consumers.
  std::string source = fmt::format(
      "{{connector: amqp, url: '{}', queue: {}, schema: {{id: int64}}, prefetch: 50, "
      "batch_size: 20, until: {{idle: 700ms}}}}",
      AmqpUrl(), queue);
  std::string read = "name: shared\nsources:\n  first: " + source + "\n  second: " + source +
                     "\nsinks:\n  out: {connector: collect}\n";
  auto result = RunPipeline(read);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(NumRows(*result, "out"), kMessages);
  auto ids = collect::Column<arrow::Int64Array>(*result->tables["out"], "id");
  std::vector<bool> seen(kMessages, false);
  for (int64_t row = 0; row < ids->length(); ++row) {
    ASSERT_FALSE(seen[ids->Value(row)]) << "id " << ids->Value(row) << " twice";
    seen[ids->Value(row)] = true;
  }
  EXPECT_EQ(client.Count(queue), 0);
}

TEST_F(AmqpTest, UndecodableMessagesBecomeDeadLettersAndAreAcknowledged) {
  std::string queue = UniqueName("malformed");
  TestClient client;
  client.DeclareQueue(queue);
  int good = 0;
  for (int i = 0; i < 20; ++i) {
    if (i % 4 == 3) {
      client.Publish(queue, i % 8 == 3 ? "{\"id\": 1, " : "not json at all");
    } else {
      client.Publish(queue, fmt::format(R"({{"id": {}, "name": "n{}"}})", i, i));
      ++good;
    }
  }
  std::string read = fmt::format(
      "name: read\nsources:\n  in: {{connector: amqp, url: '{}', queue: {}, schema: {{id: int64, "
      "name: string}}, until: {{count: 20}}}}\nsinks:\n  out: {{connector: collect}}\n"
      "dead_letters: {{connector: collect}}\n",
      AmqpUrl(), queue);
  auto result_run = RunPipeline(read);
  ASSERT_TRUE(result_run.ok()) << result_run.status().ToString();
  auto& result = *result_run;
  EXPECT_EQ(NumRows(result, "out"), good);
  EXPECT_EQ(result.summary.dead_letters, 20 - good);
  EXPECT_EQ(result.summary.rows_out + result.summary.dead_letters, 20) << "conservation";
  ASSERT_EQ(NumRows(result, "dead_letters"), 20 - good);
  auto origins = collect::Column<arrow::StringArray>(*result.tables["dead_letters"], "origin");
  auto records = collect::Column<arrow::StringArray>(*result.tables["dead_letters"], "record");
  for (int64_t row = 0; row < origins->length(); ++row) {
    EXPECT_EQ(origins->GetString(row).rfind("amqp:" + queue + "#", 0), 0u)
        << origins->GetString(row);
  }
  EXPECT_EQ(records->GetString(0), "{\"id\": 1, ");
  EXPECT_EQ(records->GetString(1), "not json at all");
  EXPECT_EQ(client.Count(queue), 0) << "dead-lettered messages are acknowledged too";
}

TEST_F(AmqpTest, RejectBrokerNacksToTheQueuesDeadLetterExchange) {
  std::string queue = UniqueName("reject-broker");
  std::string parking = UniqueName("parking");
  TestClient client;
  client.DeclareQueue(parking);
  client.DeclareQueue(queue,
                      {{"x-dead-letter-exchange", ""}, {"x-dead-letter-routing-key", parking}});
  for (int i = 0; i < 10; ++i)
    client.Publish(queue, i % 5 == 0 ? "broken" : fmt::format(R"({{"id": {}}})", i));
  std::string read = fmt::format(
      "name: read\nsources:\n  in: {{connector: amqp, url: '{}', queue: {}, schema: {{id: int64}}, "
      "reject: broker, until: {{count: 10}}}}\nsinks:\n  out: {{connector: collect}}\n",
      AmqpUrl(), queue);
  auto result_run = RunPipeline(read);
  ASSERT_TRUE(result_run.ok()) << result_run.status().ToString();
  auto& result = *result_run;
  EXPECT_EQ(NumRows(result, "out"), 8);
  EXPECT_EQ(result.summary.dead_letters, 0);
  std::vector<ReadMessage> parked;
  for (int wait = 0; wait < 50 && parked.size() < 2; ++wait) {
    auto more = client.Drain(parking);
    parked.insert(parked.end(), more.begin(), more.end());
    if (parked.size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(parked.size(), 2u);
  EXPECT_EQ(parked[0].body, "broken");
  EXPECT_EQ(client.Count(queue), 0);
}

TEST_F(AmqpTest, NackedMessagesAreRetriedThenDeadLettered) {
  // A full queue that refuses publishes: the broker nacks what does not fit.
  std::string queue = UniqueName("full");
  TestClient client;
  client.DeclareQueue(queue, {{"x-max-length", "5"}, {"x-overflow", "reject-publish"}});
  std::string write = fmt::format(
      "name: write\nsources:\n{}sinks:\n  out: {{connector: amqp, url: '{}', routing_key: {}, "
      "max_retries: 2}}\ndead_letters: {{connector: collect}}\n",
      Generator(12), AmqpUrl(), queue);
  auto result_run = RunPipeline(write);
  ASSERT_TRUE(result_run.ok()) << result_run.status().ToString();
  auto& result = *result_run;
  EXPECT_EQ(result.summary.dead_letters, 7);
  ASSERT_EQ(NumRows(result, "dead_letters"), 7);
  auto reasons = collect::Column<arrow::StringArray>(*result.tables["dead_letters"], "reason");
  EXPECT_NE(reasons->GetString(0).find("basic.nack) 3 times"), std::string::npos)
      << reasons->GetString(0);
  EXPECT_EQ(client.Count(queue), 5);
}

TEST_F(AmqpTest, UnroutableMessagesAreDeadLettered) {
  std::string write = fmt::format(
      "name: write\nsources:\n{}sinks:\n  out: {{connector: amqp, url: '{}', exchange: "
      "amq.direct, routing_key: {}}}\ndead_letters: {{connector: collect}}\n",
      Generator(10), AmqpUrl(), UniqueName("nobody-listens"));
  auto result_run = RunPipeline(write);
  ASSERT_TRUE(result_run.ok()) << result_run.status().ToString();
  auto& result = *result_run;
  EXPECT_EQ(result.summary.dead_letters, 10);
  auto reasons = collect::Column<arrow::StringArray>(*result.tables["dead_letters"], "reason");
  ASSERT_NE(reasons, nullptr);
  EXPECT_NE(reasons->GetString(0).find("312 NO_ROUTE"), std::string::npos)
      << reasons->GetString(0);
}

TEST_F(AmqpTest, MissingQueueFailsWithTheBrokersReply) {
  std::string queue = UniqueName("no-such-queue");
  std::string read = fmt::format(
      "name: read\nsources:\n  in: {{connector: amqp, url: '{}', queue: {}, format: raw, until: "
      "{{idle: 5s}}}}\nsinks:\n  out: {{connector: collect}}\n",
      AmqpUrl(), queue);
  auto result = RunPipeline(read);
  ASSERT_FALSE(result.ok());
  std::string message = result.status().message();
  EXPECT_NE(message.find("queue '" + queue + "'"), std::string::npos) << message;
  EXPECT_NE(message.find("404 NOT_FOUND"), std::string::npos) << message;
}

TEST_F(AmqpTest, AQueueDeletedWhileConsumingFailsTheRun) {
  std::string queue = UniqueName("deleted");
  TestClient client;
  client.DeclareQueue(queue);
  std::string read = fmt::format(
      "name: read\nsources:\n  in: {{connector: amqp, url: '{}', queue: {}, format: raw, until: "
      "{{idle: 10s}}}}\nsinks:\n  out: {{connector: collect}}\n",
      AmqpUrl(), queue);
  std::thread deleter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    TestClient other;
    other.DeleteQueue(queue);
  });
  auto started = std::chrono::steady_clock::now();
  auto result = RunPipeline(read);
  deleter.join();
  ASSERT_FALSE(result.ok());
  std::string message = result.status().message();
  EXPECT_NE(message.find("cancelled the consumer of queue '" + queue + "'"), std::string::npos)
      << message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST_F(AmqpTest, AMissingExchangeFailsTheSinkWithTheBrokersReply) {
  std::string exchange = UniqueName("no-such-exchange");
  std::string write = fmt::format(
      "name: write\nsources:\n{}sinks:\n  out: {{connector: amqp, url: '{}', exchange: {}, "
      "routing_key: x}}\n",
      Generator(10), AmqpUrl(), exchange);
  auto result = RunPipeline(write);
  ASSERT_FALSE(result.ok());
  std::string message = result.status().message();
  EXPECT_NE(message.find("404 NOT_FOUND - no exchange '" + exchange + "'"), std::string::npos)
      << message;
}

TEST_F(AmqpTest, DeclaringAQueueWithOtherSettingsFailsWithTheBrokersReply) {
  std::string queue = UniqueName("declared");
  TestClient client;
  client.DeclareQueue(queue, {{"x-max-length", "5"}});
  std::string read = fmt::format(
      "name: read\nsources:\n  in: {{connector: amqp, url: '{}', queue: {}, format: raw, declare: "
      "{{queue: {{durable: false}}}}, until: {{idle: 5s}}}}\nsinks:\n  out: {{connector: "
      "collect}}\n",
      AmqpUrl(), queue);
  auto result = RunPipeline(read);
  ASSERT_FALSE(result.ok());
  std::string message = result.status().message();
  EXPECT_NE(message.find("406 PRECONDITION_FAILED"), std::string::npos) << message;
  EXPECT_NE(message.find(queue), std::string::npos) << message;
}

/// `url` with its password replaced, or its port.
std::string WithPassword(const std::string& password) {
  std::string url = AmqpUrl();
  size_t at = url.find('@');
  size_t colon = url.rfind(':', at);
  return url.substr(0, colon + 1) + password + url.substr(at);
}

TEST_F(AmqpTest, WrongCredentialsFailWithinConnectTimeout) {
  auto started = std::chrono::steady_clock::now();
  std::string read = fmt::format(
      "name: read\nsources:\n  in: {{connector: amqp, url: '{}', queue: anything, format: raw, "
      "connect_timeout: 2s, until: {{idle: 30s}}}}\nsinks:\n  out: {{connector: collect}}\n",
      WithPassword("wrong"));
  auto result = RunPipeline(read);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_FALSE(result.ok());
  std::string message = result.status().message();
  EXPECT_NE(message.find("ACCESS_REFUSED"), std::string::npos) << message;
  EXPECT_NE(message.find("connect_timeout"), std::string::npos) << message;
  EXPECT_EQ(message.find("wrong"), std::string::npos) << "the password is not shown: " << message;
  EXPECT_LT(seconds, 8.0);
}

TEST_F(AmqpTest, UnreachableBrokerFailsWithinConnectTimeout) {
  // A port nobody listens on: bind one, then close it.
  int port = 0;
  {
    TestClient probe;  // the broker is up; the closed port below is another one
    (void)probe;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  port = ntohs(address.sin_port);
  close(fd);
  auto started = std::chrono::steady_clock::now();
  for (const std::string side : {"source", "sink"}) {
    SCOPED_TRACE(side);
    std::string url = fmt::format("amqp://guest:guest@127.0.0.1:{}/", port);
    std::string yaml =
        side == "source"
            ? fmt::format("name: read\nsources:\n  in: {{connector: amqp, url: '{}', queue: q, "
                          "format: raw, connect_timeout: 1s, until: {{count: 1}}}}\nsinks:\n  "
                          "out: {{connector: collect}}\n",
                          url)
            : fmt::format("name: write\nsources:\n{}sinks:\n  out: {{connector: amqp, url: "
                          "'{}', routing_key: q, connect_timeout: 1s}}\n",
                          Generator(1), url);
    auto result = RunPipeline(yaml);
    ASSERT_FALSE(result.ok());
    std::string message = result.status().message();
    EXPECT_NE(message.find(fmt::format("cannot connect to amqp://guest@127.0.0.1:{}/", port)),
              std::string::npos)
        << message;
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_LT(seconds, 8.0);
}

TEST_F(AmqpTest, TlsRoundTripChecksTheBrokersCertificate) {
  const char* url = std::getenv("SLUICE_AMQPS_URL");
  const char* ca = std::getenv("SLUICE_AMQP_CA");
  if (url == nullptr || ca == nullptr) GTEST_SKIP() << "no TLS listener (run run_tests.sh)";
  std::string queue = UniqueName("tls");
  std::string write = fmt::format(
      "name: write\nsources:\n{}sinks:\n  out: {{connector: amqp, url: '{}', tls: {{ca: {}}}, "
      "connect_timeout: 2s, routing_key: {}, declare: {{queue: {{name: {}}}}}}}\n",
      Generator(50), url, ca, queue, queue);
  auto written = RunPipeline(write);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  std::string read = fmt::format(
      "name: read\nsources:\n  in: {{connector: amqp, url: '{}', tls: {{ca: {}}}, queue: {}, "
      "schema: {}, connect_timeout: 2s, until: {{count: 50}}}}\nsinks:\n  out: {{connector: "
      "collect}}\n",
      url, ca, queue, kQuoteSchema);
  auto result = RunPipeline(read);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(NumRows(*result, "out"), 50);

  // Without the test CA the broker's certificate is not trusted: a clear, bounded failure.
  std::string untrusted = fmt::format(
      "name: read\nsources:\n  in: {{connector: amqp, url: '{}', queue: {}, format: raw, "
      "connect_timeout: 1s, until: {{count: 1}}}}\nsinks:\n  out: {{connector: collect}}\n",
      url, queue);
  auto refused = RunPipeline(untrusted);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("cannot connect to amqps://guest@localhost:"),
            std::string::npos)
      << refused.status().message();
  // verify: false accepts it.
  std::string unverified = fmt::format(
      "name: read\nsources:\n  in: {{connector: amqp, url: '{}', tls: {{verify: false}}, queue: "
      "{}, format: raw, until: {{idle: 300ms}}}}\nsinks:\n  out: {{connector: collect}}\n",
      url, queue);
  auto accepted = RunPipeline(unverified);
  EXPECT_TRUE(accepted.ok()) << accepted.status().ToString();
}

TEST_F(AmqpTest, ConfigurationErrorsNameTheirPlace) {
  std::string both = fmt::format(
      "name: write\nsources:\n{}sinks:\n  out: {{connector: amqp, url: '{}', routing_key: a, "
      "routing_key_field: symbol}}\n",
      Generator(1), AmqpUrl());
  Status status = collect::Build(both);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("test.yaml:"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("not both"), std::string::npos) << status.message();

  std::string no_field = fmt::format(
      "name: write\nsources:\n{}sinks:\n  out: {{connector: amqp, url: '{}', "
      "routing_key_field: symbl}}\n",
      Generator(1), AmqpUrl());
  status = collect::Build(no_field);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("symbol"), std::string::npos) << "a did-you-mean hint: "
                                                               << status.message();

  std::string tls = fmt::format(
      "name: read\nsources:\n  in: {{connector: amqp, url: '{}', queue: q, format: raw, tls: "
      "{{verify: false}}}}\nsinks:\n  out: {{connector: collect}}\n",
      AmqpUrl());
  status = collect::Build(tls);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("amqps://host"), std::string::npos) << status.message();

  std::string bad_url =
      "name: read\nsources:\n  in: {connector: amqp, url: 'http://x', queue: q, format: raw}\n"
      "sinks:\n  out: {connector: collect}\n";
  status = collect::Build(bad_url);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("is not an AMQP URL"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace sluice::testing
