// Integration tests of the Kafka message formats csv and arrow against a real broker: a round
// trip sink → topic → source keeps every value (nulls, exact doubles, text with commas and
// quotes, timestamps), and a message that cannot be decoded becomes one dead letter with its
// origin topic/partition@offset. run_tests.sh starts the broker.
#include <arrow/api.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/writer.h>
#include <arrow/json/from_string.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "kafka_test_support.h"
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

using testing::collect::Build;
using testing::collect::Column;
using testing::collect::RunPipeline;
using testing::collect::RunResult;

/// `batch` as an Arrow IPC stream, written with Arrow directly (not through Sluice).
std::string ArrowMessage(const std::shared_ptr<arrow::RecordBatch>& batch) {
  auto stream = arrow::io::BufferOutputStream::Create().ValueOrDie();
  auto writer = arrow::ipc::MakeStreamWriter(stream, batch->schema()).ValueOrDie();
  EXPECT_TRUE(writer->WriteRecordBatch(*batch).ok());
  EXPECT_TRUE(writer->Close().ok());
  return stream->Finish().ValueOrDie()->ToString();
}

/// One row of the round-trip data; a std::nullopt field is null.
struct Row {
  int64_t id;
  std::optional<std::string> name;
  std::optional<double> amount;
  std::optional<std::string> ts;
  /// The microseconds since the epoch `ts` stands for.
  int64_t micros = 0;
};

const std::vector<Row>& RoundTripRows() {
  static const std::vector<Row> rows = {
      {1, "plain", 0.1, "2024-03-01T12:34:56.123456Z", 1709296496123456},
      {2, "a, \"quoted\" name", 1.0 / 3.0, std::nullopt},
      {3, "", std::nullopt, "1970-01-01T00:00:00Z", 0},
      {4, std::nullopt, 1e300, "2024-03-01T00:00:00.5Z", 1709251200500000},
      {5, "two\nlines", -2.5e-310, "2000-02-29T23:59:59Z", 951868799000000},
      {6, "ünïcode ☃", 123456789.0, std::nullopt},
  };
  return rows;
}

class KafkaFormatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(Bootstrap().empty())
        << "SLUICE_KAFKA_BOOTSTRAP is not set: run these tests with "
           "tests/integration/kafka/run_tests.sh, which starts a broker";
    directory_ = std::filesystem::temp_directory_path() / UniqueName("sluice-kafka-formats");
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }

  /// Writes the round-trip rows to a JSON lines file and returns its path.
  std::string WriteInput() {
    std::string path = (directory_ / "in.jsonl").string();
    std::ofstream out(path);
    for (const Row& row : RoundTripRows()) {
      std::string name = "null";
      if (row.name) {
        name = "\"";
        for (char c : *row.name) {
          if (c == '"')
            name += "\\\"";
          else if (c == '\n')
            name += "\\n";
          else
            name += c;
        }
        name += "\"";
      }
      out << fmt::format(R"({{"id":{},"name":{},"amount":{},"ts":{}}})", row.id, name,
                         row.amount ? fmt::format("{:.17g}", *row.amount) : "null",
                         row.ts ? "\"" + *row.ts + "\"" : "null")
          << '\n';
    }
    return path;
  }

  /// Writes the rows to a new topic with the kafka sink in `format`, reads them back with the
  /// kafka source in the same format, and checks every value.
  void RoundTrip(const std::string& format) {
    std::string topic = UniqueName("formats-" + format);
    CreateTopic(topic, 1);
    auto produced = RunPipeline(fmt::format(R"(
name: produce
sources:
  input: {{connector: file, path: "{}", schema: {{id: int64, name: string, amount: double, ts: timestamp}}, batch_size: 4}}
sinks:
  out: {{connector: kafka, brokers: ["{}"], topic: "{}", format: {}}}
)",
                                            WriteInput(), Bootstrap(), topic, format));
    ASSERT_TRUE(produced.ok()) << produced.status().ToString();
    ASSERT_EQ(produced->summary.rows_out, static_cast<int64_t>(RoundTripRows().size()));

    auto consumed = RunPipeline(fmt::format(R"(
name: consume
sources:
  input:
    connector: kafka
    brokers: ["{}"]
    topics: ["{}"]
    until: end
    format: {}
    metadata: true
    schema: {{id: int64, name: string, amount: double, ts: timestamp}}
sinks:
  out: {{connector: collect}}
dead_letters: {{connector: collect}}
)",
                                            Bootstrap(), topic, format));
    ASSERT_TRUE(consumed.ok()) << consumed.status().ToString();
    EXPECT_EQ(consumed->summary.dead_letters, 0);
    const arrow::Table& table = *consumed->tables.at("out");
    ASSERT_EQ(table.num_rows(), static_cast<int64_t>(RoundTripRows().size()));
    auto ids = Column<arrow::Int64Array>(table, "id");
    auto names = Column<arrow::StringArray>(table, "name");
    auto amounts = Column<arrow::DoubleArray>(table, "amount");
    auto timestamps = Column<arrow::TimestampArray>(table, "ts");
    auto offsets = Column<arrow::Int64Array>(table, "_offset");
    ASSERT_TRUE(ids && names && amounts && timestamps && offsets);
    for (int64_t i = 0; i < table.num_rows(); ++i) {
      const Row& row = RoundTripRows()[static_cast<size_t>(i)];
      EXPECT_EQ(ids->Value(i), row.id);
      ASSERT_EQ(names->IsNull(i), !row.name) << "row " << row.id;
      if (row.name) EXPECT_EQ(names->GetString(i), *row.name);
      ASSERT_EQ(amounts->IsNull(i), !row.amount) << "row " << row.id;
      // Exact: the text formats write the shortest text that reads back as the same double.
      if (row.amount) EXPECT_EQ(amounts->Value(i), *row.amount) << "row " << row.id;
      ASSERT_EQ(timestamps->IsNull(i), !row.ts) << "row " << row.id;
      if (row.ts) EXPECT_EQ(timestamps->Value(i), row.micros) << "row " << row.id;
    }
    // csv: one message per row; arrow: one message per micro-batch of at most 4 rows.
    int64_t last_offset = offsets->Value(table.num_rows() - 1);
    EXPECT_EQ(last_offset, format == "csv" ? table.num_rows() - 1 : 1);
  }

  std::filesystem::path directory_;
};

TEST_F(KafkaFormatsTest, CsvRoundTripKeepsNullsDoublesQuotedTextAndTimestamps) { RoundTrip("csv"); }

TEST_F(KafkaFormatsTest, ArrowRoundTripWritesOneMessagePerBatchAndKeepsEveryValue) {
  RoundTrip("arrow");
}

TEST_F(KafkaFormatsTest, CsvSinkWritesOneHeaderlessLinePerRow) {
  std::string topic = UniqueName("csv-text");
  CreateTopic(topic, 1);
  auto produced = RunPipeline(fmt::format(R"(
name: produce
sources:
  input: {{connector: file, path: "{}", schema: {{id: int64, name: string, amount: double, ts: timestamp}}}}
sinks:
  out: {{connector: kafka, brokers: ["{}"], topic: "{}", format: csv}}
)",
                                          WriteInput(), Bootstrap(), topic));
  ASSERT_TRUE(produced.ok()) << produced.status().ToString();
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
  ASSERT_EQ(values->length(), 6);
  EXPECT_EQ(values->GetString(0), "1,plain,0.1,2024-03-01T12:34:56.123456Z");
  EXPECT_EQ(values->GetString(1), "2,\"a, \"\"quoted\"\" name\",0.3333333333333333,");
  EXPECT_EQ(values->GetString(2), "3,\"\",,1970-01-01T00:00:00Z");
}

TEST_F(KafkaFormatsTest, MalformedCsvMessagesBecomeDeadLettersWithTopicPartitionAndOffset) {
  std::string topic = UniqueName("csv-malformed");
  CreateTopic(topic, 1);
  Produce(topic, {{0, "1,first,2024-03-01T00:00:00Z"},
                  {0, "2,only two fields"},
                  {0, "three,bad id,2024-03-01T00:00:00Z"},
                  {0, "4,\"quoted, text\",\n"},
                  {0, "5,a\n6,b,\n"}});
  auto consumed = RunPipeline(fmt::format(R"(
name: consume
sources:
  input: {{connector: kafka, brokers: ["{}"], topics: ["{}"], until: end, format: csv, schema: {{id: int64, name: string, ts: timestamp}}}}
sinks:
  out: {{connector: collect}}
dead_letters: {{connector: collect}}
)",
                                          Bootstrap(), topic));
  ASSERT_TRUE(consumed.ok()) << consumed.status().ToString();
  const arrow::Table& table = *consumed->tables.at("out");
  ASSERT_EQ(table.num_rows(), 2);
  auto ids = Column<arrow::Int64Array>(table, "id");
  auto names = Column<arrow::StringArray>(table, "name");
  auto timestamps = Column<arrow::TimestampArray>(table, "ts");
  EXPECT_EQ(ids->Value(0), 1);
  EXPECT_EQ(ids->Value(1), 4);
  EXPECT_EQ(names->GetString(1), "quoted, text");
  EXPECT_TRUE(timestamps->IsNull(1));
  ASSERT_EQ(consumed->summary.dead_letters, 3);
  const arrow::Table& letters = *consumed->tables.at("dead_letters");
  ASSERT_EQ(letters.num_rows(), 3);
  auto origins = Column<arrow::StringArray>(letters, "origin");
  auto records = Column<arrow::StringArray>(letters, "record");
  auto reasons = Column<arrow::StringArray>(letters, "reason");
  auto stages = Column<arrow::StringArray>(letters, "stage");
  EXPECT_EQ(origins->GetString(0), topic + "/0@1");
  EXPECT_EQ(records->GetString(0), "2,only two fields");
  EXPECT_NE(reasons->GetString(0).find("expected 3 fields"), std::string::npos)
      << reasons->GetString(0);
  EXPECT_EQ(stages->GetString(0), "source");
  EXPECT_EQ(origins->GetString(1), topic + "/0@2");
  EXPECT_EQ(records->GetString(1), "three,bad id,2024-03-01T00:00:00Z");
  EXPECT_NE(reasons->GetString(1).find("id"), std::string::npos) << reasons->GetString(1);
  EXPECT_EQ(origins->GetString(2), topic + "/0@4");
  EXPECT_NE(reasons->GetString(2).find("one record"), std::string::npos) << reasons->GetString(2);
}

TEST_F(KafkaFormatsTest, GarbageArrowMessageBecomesOneDeadLetterWithTopicPartitionAndOffset) {
  std::string topic = UniqueName("arrow-malformed");
  CreateTopic(topic, 1);
  auto first = arrow::RecordBatch::Make(
      arrow::schema({arrow::field("id", arrow::int64()), arrow::field("name", arrow::utf8())}), 2,
      {arrow::json::ArrayFromJSONString(arrow::int64(), "[1, 2]").ValueOrDie(),
       arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["a", null])").ValueOrDie()});
  // Another field order and an extra field: matched by name, the extra one dropped.
  auto last = arrow::RecordBatch::Make(
      arrow::schema({arrow::field("extra", arrow::boolean()), arrow::field("name", arrow::utf8()),
                     arrow::field("id", arrow::int32())}),
      1,
      {arrow::json::ArrayFromJSONString(arrow::boolean(), "[true]").ValueOrDie(),
       arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["c"])").ValueOrDie(),
       arrow::json::ArrayFromJSONString(arrow::int32(), "[3]").ValueOrDie()});
  auto other = arrow::RecordBatch::Make(
      arrow::schema({arrow::field("unrelated", arrow::int64())}), 1,
      {arrow::json::ArrayFromJSONString(arrow::int64(), "[9]").ValueOrDie()});
  std::string truncated = ArrowMessage(first);
  truncated.resize(truncated.size() / 2);
  Produce(topic, {{0, ArrowMessage(first)},
                  {0, "this is not an Arrow IPC stream"},
                  {0, ArrowMessage(other)},
                  {0, truncated},
                  {0, ArrowMessage(last)}});
  auto consumed = RunPipeline(fmt::format(R"(
name: consume
sources:
  input: {{connector: kafka, brokers: ["{}"], topics: ["{}"], until: end, format: arrow, schema: {{id: int64, name: string}}}}
sinks:
  out: {{connector: collect}}
dead_letters: {{connector: collect}}
)",
                                          Bootstrap(), topic));
  ASSERT_TRUE(consumed.ok()) << consumed.status().ToString();
  const arrow::Table& table = *consumed->tables.at("out");
  ASSERT_EQ(table.num_rows(), 3);
  auto ids = Column<arrow::Int64Array>(table, "id");
  auto names = Column<arrow::StringArray>(table, "name");
  EXPECT_EQ(ids->Value(0), 1);
  EXPECT_EQ(ids->Value(2), 3);
  EXPECT_TRUE(names->IsNull(1));
  EXPECT_EQ(names->GetString(2), "c");
  ASSERT_EQ(consumed->summary.dead_letters, 3);
  auto origins = Column<arrow::StringArray>(*consumed->tables.at("dead_letters"), "origin");
  auto reasons = Column<arrow::StringArray>(*consumed->tables.at("dead_letters"), "reason");
  EXPECT_EQ(origins->GetString(0), topic + "/0@1");
  EXPECT_NE(reasons->GetString(0).find("Arrow IPC"), std::string::npos) << reasons->GetString(0);
  EXPECT_EQ(origins->GetString(1), topic + "/0@2");
  EXPECT_NE(reasons->GetString(1).find("no field 'id'"), std::string::npos)
      << reasons->GetString(1);
  EXPECT_EQ(origins->GetString(2), topic + "/0@3");
}

TEST_F(KafkaFormatsTest, FormatsAreCheckedWhenThePipelineIsBuilt) {
  auto no_schema = RunPipeline(R"(
name: consume
sources:
  input: {connector: kafka, brokers: ["127.0.0.1:1"], topics: [t], format: csv}
sinks:
  out: {connector: collect}
)");
  ASSERT_FALSE(no_schema.ok());
  EXPECT_NE(no_schema.status().message().find("format csv needs a schema"), std::string::npos)
      << no_schema.status().ToString();
  auto keyed_arrow = RunPipeline(R"(
name: produce
sources:
  input: {connector: kafka, brokers: ["127.0.0.1:1"], topics: [t], schema: {id: int64}}
sinks:
  out: {connector: kafka, brokers: ["127.0.0.1:1"], topic: u, format: arrow, key: [id]}
)");
  ASSERT_FALSE(keyed_arrow.ok());
  EXPECT_NE(keyed_arrow.status().message().find("one message per batch"), std::string::npos)
      << keyed_arrow.status().ToString();
}

}  // namespace
}  // namespace sluice
