#include "sluice/connectors/console/console_sink.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

namespace sluice::connectors {
namespace {

Result<std::unique_ptr<exec::Sink>> MakeSink(const std::string& yaml) {
  exec::Registry registry;
  RegisterConsoleSink(&registry);
  const config::PluginSpec* spec = registry.FindSpec(config::PluginKind::kSink, "console");
  if (spec == nullptr) return Status::Invalid("console not registered");
  SLUICE_ASSIGN_OR_RAISE(
      config::Options options,
      config::ValidateOptions(*spec, YAML::Load(yaml), "test.yaml", {"connector"}));
  return (*registry.FindSink("console"))(exec::ConnectorContext{"test", "screen"}, options);
}

std::shared_ptr<arrow::Array> Column(const std::shared_ptr<arrow::DataType>& type,
                                     const char* json) {
  return arrow::json::ArrayFromJSONString(type, json).ValueOrDie();
}

/// Three rows covering nulls, a double that must keep its shortest form, timestamps with and
/// without fractions, a string with a newline and one with a non-ASCII character.
std::shared_ptr<arrow::RecordBatch> SampleBatch() {
  auto timestamp = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  auto schema =
      arrow::schema({arrow::field("symbol", arrow::utf8()), arrow::field("bid", arrow::float64()),
                     arrow::field("volume", arrow::int64()), arrow::field("ts", timestamp),
                     arrow::field("note", arrow::utf8())});
  return arrow::RecordBatch::Make(schema, 3,
                                  {Column(arrow::utf8(), R"(["AAPL", "MSFT", null])"),
                                   Column(arrow::float64(), "[187.42, 0.1, null]"),
                                   Column(arrow::int64(), "[100, null, 25000]"),
                                   Column(timestamp, "[1704067200000000, 1704067200001500, null]"),
                                   Column(arrow::utf8(), R"(["a\nb", "", "é"])")});
}

/// Runs a whole sink lifecycle over `batches` and returns what it printed on `stream`.
std::string Print(const std::string& yaml,
                  const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
                  bool on_stderr = false) {
  auto sink = MakeSink(yaml);
  EXPECT_TRUE(sink.ok()) << sink.status().ToString();
  if (!sink.ok()) return "";
  if (on_stderr) {
    testing::internal::CaptureStderr();
  } else {
    testing::internal::CaptureStdout();
  }
  EXPECT_TRUE((*sink)->Open(batches.front()->schema()).ok());
  for (const auto& batch : batches) EXPECT_TRUE((*sink)->Write(batch).ok());
  EXPECT_TRUE((*sink)->Close().ok());
  return on_stderr ? testing::internal::GetCapturedStderr()
                   : testing::internal::GetCapturedStdout();
}

TEST(ConsoleSink, PrintsAnAlignedTable) {
  EXPECT_EQ(Print("{}", {SampleBatch()}),
            "symbol     bid  volume  ts                         note\n"
            "------  ------  ------  -------------------------  ----\n"
            "AAPL    187.42     100  2024-01-01T00:00:00Z       a\\nb\n"
            "MSFT       0.1    NULL  2024-01-01T00:00:00.0015Z\n"
            "NULL      NULL   25000  NULL                       é\n");
}

TEST(ConsoleSink, CapsRowsPerBatchAndSaysHowManyMore) {
  auto batch = SampleBatch();
  std::string printed = Print("{max_rows: 1}", {batch, batch->Slice(0, 2)});
  EXPECT_EQ(printed,
            "symbol     bid  volume  ts                    note\n"
            "------  ------  ------  --------------------  ----\n"
            "AAPL    187.42     100  2024-01-01T00:00:00Z  a\\nb\n"
            "… 2 more rows\n"
            "\n"
            "symbol     bid  volume  ts                    note\n"
            "------  ------  ------  --------------------  ----\n"
            "AAPL    187.42     100  2024-01-01T00:00:00Z  a\\nb\n"
            "… 1 more row\n");
}

TEST(ConsoleSink, PrintsJsonLines) {
  EXPECT_EQ(
      Print("{format: jsonl}", {SampleBatch()}),
      R"({"symbol":"AAPL","bid":187.42,"volume":100,"ts":"2024-01-01T00:00:00Z","note":"a\nb"})"
      "\n"
      R"({"symbol":"MSFT","bid":0.1,"volume":null,"ts":"2024-01-01T00:00:00.0015Z","note":""})"
      "\n"
      R"({"symbol":null,"bid":null,"volume":25000,"ts":null,"note":"é"})"
      "\n");
}

TEST(ConsoleSink, CanPrintOnStderr) {
  auto batch = SampleBatch()->Slice(2, 1);
  EXPECT_EQ(Print("{format: jsonl, stream: stderr}", {batch}, /*on_stderr=*/true),
            R"({"symbol":null,"bid":null,"volume":25000,"ts":null,"note":"é"})"
            "\n");
}

TEST(ConsoleSink, SkipsEmptyBatches) { EXPECT_EQ(Print("{}", {SampleBatch()->Slice(0, 0)}), ""); }

TEST(ConsoleSink, RejectsAnUnknownFormatWithAHint) {
  auto sink = MakeSink("{format: json}");
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("jsonl"), std::string::npos) << sink.status().ToString();
}

}  // namespace
}  // namespace sluice::connectors
