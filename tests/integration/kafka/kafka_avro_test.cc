// Integration tests of the Kafka message format avro against a real broker: a round trip
// sink → topic → source keeps every value (nulls, exact doubles, text, timestamps), records
// encoded by hand (not by Sluice) decode to the expected values, a message that is not a record
// of the schema becomes one dead letter with its origin topic/partition@offset, and a missing,
// unreadable or invalid .avsc is a configuration error. run_tests.sh starts the broker.
#include <arrow/api.h>
#include <arrow/util/base64.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
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
using testing::Produce;
using testing::UniqueName;

using testing::collect::Build;
using testing::collect::Column;
using testing::collect::RunPipeline;
using testing::collect::RunResult;

constexpr const char* kOrdersSchema = R"({
  "type": "record", "name": "Order",
  "fields": [
    {"name": "id", "type": "long"},
    {"name": "name", "type": ["null", "string"]},
    {"name": "amount", "type": ["null", "double"]},
    {"name": "ts", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}]}
  ]
})";

/// A record with the remaining supported types, for messages encoded by hand.
constexpr const char* kReadingSchema = R"({
  "type": "record", "name": "Reading",
  "fields": [
    {"name": "flag", "type": "boolean"},
    {"name": "count", "type": "int"},
    {"name": "ratio", "type": "float"},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "note", "type": ["string", "null"]}
  ]
})";

/// {flag: true, count: -3, ratio: 1.5, at: 1000 ms, note: "hi"} in Avro's binary encoding:
/// boolean byte, zig-zag varints, a little-endian float, a union branch then a length-prefixed
/// string.
std::string HandEncodedReading() {
  return std::string(
      "\x01"              // flag: true
      "\x05"              // count: -3 → zig-zag 5
      "\x00\x00\xc0\x3f"  // ratio: 1.5f
      "\xd0\x0f"          // at: 1000 → zig-zag 2000
      "\x00"              // note: branch 0 (string)
      "\x04hi",           // note: length 2 → zig-zag 4, "hi"
      12);
}

class KafkaAvroTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() / UniqueName("sluice-kafka-avro");
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }

  bool HaveBroker() const { return !Bootstrap().empty(); }

  std::string WriteFile(const std::string& name, const std::string& contents) {
    std::string path = (directory_ / name).string();
    std::ofstream(path) << contents;
    return path;
  }

  std::filesystem::path directory_;
};

TEST_F(KafkaAvroTest, RoundTripKeepsNullsDoublesStringsAndTimestamps) {
  ASSERT_TRUE(HaveBroker()) << "run with tests/integration/kafka/run_tests.sh";
  std::string avsc = WriteFile("orders.avsc", kOrdersSchema);
  std::string input =
      WriteFile("in.jsonl",
                R"({"id":1,"name":"plain","amount":0.1,"ts":"2024-03-01T12:34:56.123456Z"}
{"id":2,"name":"a, \"quoted\" name","amount":0.33333333333333331,"ts":null}
{"id":3,"name":"","amount":null,"ts":"1970-01-01T00:00:00Z"}
{"id":4,"name":null,"amount":1e300,"ts":"1960-03-01T00:00:00.5Z"}
{"id":5,"name":"ünïcode ☃","amount":-2.5e-310,"ts":null}
)");
  std::string topic = UniqueName("formats-avro");
  CreateTopic(topic, 1);
  auto produced = RunPipeline(fmt::format(R"(
name: produce
sources:
  input: {{connector: file, path: "{}", schema: {{id: int64, name: string, amount: double, ts: timestamp}}, batch_size: 2}}
sinks:
  out: {{connector: kafka, brokers: ["{}"], topic: "{}", format: avro, avro_schema: "{}"}}
)",
                                          input, Bootstrap(), topic, avsc));
  ASSERT_TRUE(produced.ok()) << produced.status().ToString();
  ASSERT_EQ(produced->summary.rows_out, 5);

  auto consumed = RunPipeline(fmt::format(R"(
name: consume
sources:
  input: {{connector: kafka, brokers: ["{}"], topics: ["{}"], until: end, format: avro, avro_schema: "{}", metadata: true}}
sinks:
  out: {{connector: collect}}
dead_letters: {{connector: collect}}
)",
                                          Bootstrap(), topic, avsc));
  ASSERT_TRUE(consumed.ok()) << consumed.status().ToString();
  EXPECT_EQ(consumed->summary.dead_letters, 0);
  const arrow::Table& table = *consumed->tables.at("out");
  ASSERT_EQ(table.num_rows(), 5);
  EXPECT_EQ(table.schema()->field(0)->name(), "id");
  EXPECT_TRUE(table.schema()->GetFieldByName("ts")->type()->Equals(
      arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")));
  auto ids = Column<arrow::Int64Array>(table, "id");
  auto names = Column<arrow::StringArray>(table, "name");
  auto amounts = Column<arrow::DoubleArray>(table, "amount");
  auto timestamps = Column<arrow::TimestampArray>(table, "ts");
  auto offsets = Column<arrow::Int64Array>(table, "_offset");
  ASSERT_TRUE(ids && names && amounts && timestamps && offsets);
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(ids->Value(i), i + 1);
  EXPECT_EQ(names->GetString(0), "plain");
  EXPECT_EQ(names->GetString(1), "a, \"quoted\" name");
  EXPECT_EQ(names->GetString(2), "");
  EXPECT_TRUE(names->IsNull(3));
  EXPECT_EQ(names->GetString(4), "ünïcode ☃");
  EXPECT_EQ(amounts->Value(0), 0.1);
  EXPECT_EQ(amounts->Value(1), 1.0 / 3.0);
  EXPECT_TRUE(amounts->IsNull(2));
  EXPECT_EQ(amounts->Value(3), 1e300);
  EXPECT_EQ(amounts->Value(4), -2.5e-310);
  EXPECT_EQ(timestamps->Value(0), 1709296496123456);
  EXPECT_TRUE(timestamps->IsNull(1));
  EXPECT_EQ(timestamps->Value(2), 0);
  EXPECT_EQ(timestamps->Value(3), -310435199500000);
  EXPECT_TRUE(timestamps->IsNull(4));
  // One message per row.
  EXPECT_EQ(offsets->Value(4), 4);
}

TEST_F(KafkaAvroTest, GarbageMessageBecomesOneDeadLetterBetweenHandEncodedRecords) {
  ASSERT_TRUE(HaveBroker()) << "run with tests/integration/kafka/run_tests.sh";
  std::string avsc = WriteFile("reading.avsc", kReadingSchema);
  std::string topic = UniqueName("avro-malformed");
  CreateTopic(topic, 1);
  std::string garbage = "this is not an Avro record";
  Produce(topic, {{0, HandEncodedReading()}, {0, garbage}, {0, HandEncodedReading()}});
  auto consumed = RunPipeline(fmt::format(R"(
name: consume
sources:
  input: {{connector: kafka, brokers: ["{}"], topics: ["{}"], until: end, format: avro, avro_schema: "{}"}}
sinks:
  out: {{connector: collect}}
dead_letters: {{connector: collect}}
)",
                                          Bootstrap(), topic, avsc));
  ASSERT_TRUE(consumed.ok()) << consumed.status().ToString();
  const arrow::Table& table = *consumed->tables.at("out");
  ASSERT_EQ(table.num_rows(), 2);
  auto flags = Column<arrow::BooleanArray>(table, "flag");
  auto counts = Column<arrow::Int32Array>(table, "count");
  auto ratios = Column<arrow::FloatArray>(table, "ratio");
  auto ats = Column<arrow::TimestampArray>(table, "at");
  auto notes = Column<arrow::StringArray>(table, "note");
  ASSERT_TRUE(flags && counts && ratios && ats && notes);
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(flags->Value(i));
    EXPECT_EQ(counts->Value(i), -3);
    EXPECT_EQ(ratios->Value(i), 1.5f);
    EXPECT_EQ(ats->Value(i), 1000000);  // 1000 ms as microseconds
    EXPECT_EQ(notes->GetString(i), "hi");
  }
  ASSERT_EQ(consumed->summary.dead_letters, 1);
  const arrow::Table& letters = *consumed->tables.at("dead_letters");
  ASSERT_EQ(letters.num_rows(), 1);
  EXPECT_EQ(Column<arrow::StringArray>(letters, "origin")->GetString(0), topic + "/0@1");
  EXPECT_EQ(Column<arrow::StringArray>(letters, "record")->GetString(0),
            arrow::util::base64_encode(garbage));
  EXPECT_EQ(Column<arrow::StringArray>(letters, "stage")->GetString(0), "source");
}

TEST_F(KafkaAvroTest, MissingUnreadableOrInvalidSchemaFileIsAConfigError) {
  std::string invalid = WriteFile("invalid.avsc", R"({"type": "record", "fields": 7})");
  std::string unsupported = WriteFile(
      "unsupported.avsc",
      R"({"type": "record", "name": "R", "fields": [{"name": "tags", "type": ["int", "string"]}]})");
  auto source = [](const std::string& extra) {
    return fmt::format(R"(
name: consume
sources:
  input: {{connector: kafka, brokers: ["127.0.0.1:9"], topics: [t], format: avro{}}}
sinks:
  out: {{connector: collect}}
)",
                       extra);
  };
  Status missing = Build(source(""));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("avro_schema"), std::string::npos) << missing.ToString();
  EXPECT_NE(missing.message().find("test.yaml:4:"), std::string::npos) << missing.ToString();

  Status unreadable = Build(source(", avro_schema: /nonexistent/x.avsc"));
  ASSERT_FALSE(unreadable.ok());
  EXPECT_NE(unreadable.message().find("cannot read the Avro schema file"), std::string::npos)
      << unreadable.ToString();

  Status bad = Build(source(fmt::format(", avro_schema: \"{}\"", invalid)));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("invalid Avro schema"), std::string::npos) << bad.ToString();

  Status array = Build(source(fmt::format(", avro_schema: \"{}\"", unsupported)));
  ASSERT_FALSE(array.ok());
  EXPECT_NE(array.message().find("'tags'"), std::string::npos) << array.ToString();

  Status sink_missing = Build(R"(
name: produce
sources:
  input: {connector: kafka, brokers: ["127.0.0.1:9"], topics: [t], format: raw}
sinks:
  out: {connector: kafka, brokers: ["127.0.0.1:9"], topic: t, format: avro}
)");
  ASSERT_FALSE(sink_missing.ok());
  EXPECT_NE(sink_missing.message().find("avro_schema"), std::string::npos)
      << sink_missing.ToString();
}

TEST_F(KafkaAvroTest, SinkRefusesAnOutputItsAvroSchemaCannotRepresent) {
  std::string avsc = WriteFile("orders.avsc", kOrdersSchema);
  std::string input = WriteFile("in.jsonl", "{\"id\": 1, \"name\": \"a\", \"amount\": 1.5}\n");
  auto run = [&](const std::string& schema) {
    // The sink checks the output when it opens, before it contacts a broker.
    return RunPipeline(fmt::format(R"(
name: produce
sources:
  input: {{connector: file, path: "{}", schema: {{{}}}}}
sinks:
  out: {{connector: kafka, brokers: ["127.0.0.1:9"], topic: t, format: avro, avro_schema: "{}"}}
)",
                                   input, schema, avsc))
        .status();
  };
  Status missing_field = run("id: int64, name: string, amount: double");
  ASSERT_FALSE(missing_field.ok());
  EXPECT_NE(missing_field.message().find("Avro field 'ts'"), std::string::npos)
      << missing_field.ToString();
  Status lossy = run("id: double, name: string, amount: double, ts: timestamp");
  ASSERT_FALSE(lossy.ok());
  EXPECT_NE(lossy.message().find("'id' of type"), std::string::npos) << lossy.ToString();
}

}  // namespace
}  // namespace sluice
