#include "sluice/processors/sql.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <vector>

#include "sluice/config/options.h"
#include "sluice/testing/processor_from_yaml.h"

namespace sluice::processors {
namespace {

Result<std::unique_ptr<exec::Processor>> MakeSql(const std::string& step,
                                                 const std::shared_ptr<arrow::Schema>& input) {
  return testing::ProcessorFromYaml("sql", step, input);
}

std::shared_ptr<arrow::Array> Column(const std::shared_ptr<arrow::DataType>& type,
                                     const std::string& json) {
  return arrow::json::ArrayFromJSONString(type, json).ValueOrDie();
}

std::shared_ptr<arrow::Schema> QuoteSchema() {
  return arrow::schema(
      {arrow::field("symbol", arrow::utf8()), arrow::field("bid", arrow::float64()),
       arrow::field("ask", arrow::float64()), arrow::field("volume", arrow::int64()),
       arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
}

std::shared_ptr<arrow::RecordBatch> Quotes(const std::string& symbols, const std::string& bids,
                                           const std::string& asks, const std::string& volumes) {
  auto schema = QuoteSchema();
  auto symbol = Column(arrow::utf8(), symbols);
  const int64_t rows = symbol->length();
  std::string times = "[";
  for (int64_t i = 0; i < rows; ++i)
    times += (i > 0 ? ", " : "") + std::to_string(1704067200000000 + i);
  times += "]";
  return arrow::RecordBatch::Make(
      schema, rows,
      {symbol, Column(arrow::float64(), bids), Column(arrow::float64(), asks),
       Column(arrow::int64(), volumes), Column(schema->field(4)->type(), times)});
}

/// Keeps every emitted batch, empty ones included.
class RecordingEmitter : public exec::Emitter {
 public:
  Status Emit(std::shared_ptr<arrow::RecordBatch> batch) override {
    batches.push_back(std::move(batch));
    return Status::OK();
  }
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
};

std::unique_ptr<exec::Processor> MakeOrFail(const std::string& step,
                                            const std::shared_ptr<arrow::Schema>& input) {
  auto processor = MakeSql(step, input);
  EXPECT_TRUE(processor.ok()) << processor.status().ToString();
  return processor.ok() ? std::move(*processor) : nullptr;
}

TEST(SqlProcessorTest, FiltersAndProjectsEachBatch) {
  auto processor = MakeOrFail(
      R"(sql: "SELECT symbol, ask - bid AS spread FROM input WHERE volume > 1000")", QuoteSchema());
  ASSERT_NE(processor, nullptr);
  auto expected_schema = arrow::schema(
      {arrow::field("symbol", arrow::utf8()), arrow::field("spread", arrow::float64())});
  EXPECT_TRUE(processor->output_schema()->Equals(*expected_schema, false))
      << processor->output_schema()->ToString();

  RecordingEmitter out;
  ASSERT_TRUE(
      processor
          ->Process(
              Quotes(R"(["A", "B", null])", "[1, 2, 3]", "[1.5, 2.25, 4]", "[5000, 10, 2000]"), out)
          .ok());
  ASSERT_TRUE(processor->Process(Quotes(R"(["C"])", "[10]", "[11]", "[null]"), out).ok());
  ASSERT_TRUE(
      processor->Process(Quotes(R"(["D", "E"])", "[1, null]", "[3, 1]", "[1001, 1002]"), out).ok());
  ASSERT_EQ(out.batches.size(), 2u);  // the second batch has no row left
  for (const auto& batch : out.batches) {
    EXPECT_TRUE(batch->schema()->Equals(*processor->output_schema()))
        << batch->schema()->ToString();
  }
  auto first = arrow::RecordBatch::Make(
      expected_schema, 2,
      {Column(arrow::utf8(), R"(["A", null])"), Column(arrow::float64(), "[0.5, 1]")});
  auto third = arrow::RecordBatch::Make(
      expected_schema, 2,
      {Column(arrow::utf8(), R"(["D", "E"])"), Column(arrow::float64(), "[2, null]")});
  EXPECT_TRUE(out.batches[0]->Equals(*first)) << out.batches[0]->ToString();
  EXPECT_TRUE(out.batches[1]->Equals(*third)) << out.batches[1]->ToString();
}

TEST(SqlProcessorTest, AggregatesPerBatch) {
  auto processor = MakeOrFail(
      "sql: SELECT symbol, sum(volume) AS volume, count(*) AS n, max(ts) AS last FROM input "
      "GROUP BY symbol ORDER BY symbol",
      QuoteSchema());
  ASSERT_NE(processor, nullptr);
  // Sums of int64 stay int64 (DuckDB's HUGEINT is narrowed), timestamps keep their zone.
  auto expected_schema =
      arrow::schema({arrow::field("symbol", arrow::utf8()), arrow::field("volume", arrow::int64()),
                     arrow::field("n", arrow::int64()),
                     arrow::field("last", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
  EXPECT_TRUE(processor->output_schema()->Equals(*expected_schema, false))
      << processor->output_schema()->ToString();
  EXPECT_TRUE(processor->stateless());

  RecordingEmitter out;
  ASSERT_TRUE(
      processor
          ->Process(Quotes(R"(["B", "A", "B"])", "[1, 1, 1]", "[2, 2, 2]", "[10, 20, 30]"), out)
          .ok());
  ASSERT_TRUE(
      processor->Process(Quotes(R"(["A", "A"])", "[1, 1]", "[2, 2]", "[1, null]"), out).ok());
  ASSERT_EQ(out.batches.size(), 2u);
  auto first = arrow::RecordBatch::Make(
      expected_schema, 2,
      {Column(arrow::utf8(), R"(["A", "B"])"), Column(arrow::int64(), "[20, 40]"),
       Column(arrow::int64(), "[1, 2]"),
       Column(expected_schema->field(3)->type(), "[1704067200000001, 1704067200000002]")});
  auto second =
      arrow::RecordBatch::Make(expected_schema, 1,
                               {Column(arrow::utf8(), R"(["A"])"), Column(arrow::int64(), "[1]"),
                                Column(arrow::int64(), "[2]"),
                                Column(expected_schema->field(3)->type(), "[1704067200000001]")});
  EXPECT_TRUE(out.batches[0]->Equals(*first)) << out.batches[0]->ToString();
  EXPECT_TRUE(out.batches[1]->Equals(*second)) << out.batches[1]->ToString();
}

TEST(SqlProcessorTest, PassesEveryTypeThroughUnchanged) {
  auto schema =
      arrow::schema({arrow::field("s", arrow::utf8()), arrow::field("i", arrow::int64()),
                     arrow::field("d", arrow::float64()), arrow::field("b", arrow::boolean()),
                     arrow::field("day", arrow::date32()),
                     arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
  auto processor = MakeOrFail("sql: SELECT * FROM input", schema);
  ASSERT_NE(processor, nullptr);
  EXPECT_TRUE(processor->output_schema()->Equals(*schema, false))
      << processor->output_schema()->ToString();
  auto batch = arrow::RecordBatch::Make(
      schema, 3,
      {Column(arrow::utf8(), R"(["x", null, "a string longer than twelve"])"),
       Column(arrow::int64(), "[1, null, -3]"), Column(arrow::float64(), "[null, 0.1, 1e-300]"),
       Column(arrow::boolean(), "[true, null, false]"), Column(arrow::date32(), "[19000, 0, null]"),
       Column(schema->field(5)->type(), "[null, 0, 1704067200123456]")});
  RecordingEmitter out;
  ASSERT_TRUE(processor->Process(batch, out).ok());
  ASSERT_EQ(out.batches.size(), 1u);
  EXPECT_TRUE(out.batches[0]->Equals(*batch)) << out.batches[0]->ToString();
}

TEST(SqlProcessorTest, ZeroRowBatches) {
  auto filtered = MakeOrFail("sql: SELECT * FROM input WHERE volume > 0", QuoteSchema());
  ASSERT_NE(filtered, nullptr);
  auto empty = Quotes("[]", "[]", "[]", "[]");
  RecordingEmitter out;
  ASSERT_TRUE(filtered->Process(empty, out).ok());
  EXPECT_TRUE(out.batches.empty());

  // An aggregate over no rows still has an answer, in the declared schema.
  auto counted =
      MakeOrFail("sql: SELECT count(*) AS n, sum(volume) AS v FROM input", QuoteSchema());
  ASSERT_NE(counted, nullptr);
  ASSERT_TRUE(counted->Process(empty, out).ok());
  ASSERT_EQ(out.batches.size(), 1u);
  EXPECT_TRUE(out.batches[0]->schema()->Equals(*counted->output_schema()));
  EXPECT_EQ(out.batches[0]->ToString(), arrow::RecordBatch::Make(counted->output_schema(), 1,
                                                                 {Column(arrow::int64(), "[0]"),
                                                                  Column(arrow::int64(), "[null]")})
                                            ->ToString());
}

TEST(SqlProcessorTest, LargeBatchesComeOutWhole) {
  auto schema = arrow::schema({arrow::field("n", arrow::int64())});
  arrow::Int64Builder numbers;
  for (int64_t i = 0; i < 10000; ++i) ASSERT_TRUE(numbers.Append(i).ok());
  auto batch = arrow::RecordBatch::Make(schema, 10000, {numbers.Finish().ValueOrDie()});
  auto processor = MakeOrFail("sql: SELECT n * 2 AS twice FROM input WHERE n % 3 <> 0", schema);
  ASSERT_NE(processor, nullptr);
  RecordingEmitter out;
  ASSERT_TRUE(processor->Process(batch, out).ok());
  ASSERT_EQ(out.batches.size(), 1u);
  EXPECT_EQ(out.batches[0]->num_rows(), 6666);
  EXPECT_TRUE(out.batches[0]->schema()->Equals(*processor->output_schema()));
}

TEST(SqlProcessorTest, SyntaxErrorIsAConfigurationError) {
  auto processor = MakeSql("sql: \"SELEC * FROM input\"", QuoteSchema());
  ASSERT_FALSE(processor.ok());
  const std::string message = processor.status().message();
  EXPECT_TRUE(processor.status().IsInvalid());
  EXPECT_EQ(message.rfind("test.yaml:1:", 0), 0u) << message;
  EXPECT_NE(message.find("error: Parser Error"), std::string::npos) << message;
}

TEST(SqlProcessorTest, UnknownColumnIsAConfigurationErrorAtTheColumn) {
  auto processor = MakeSql("sql: \"SELECT * FROM input WHERE volumes > 1000\"", QuoteSchema());
  ASSERT_FALSE(processor.ok());
  const std::string message = processor.status().message();
  // `volumes` is character 26 (from 0) of the query, which starts after the quote, at column 7.
  EXPECT_EQ(message.rfind("test.yaml:1:33: error: Binder Error", 0), 0u) << message;
  EXPECT_NE(message.find("volumes"), std::string::npos) << message;
  EXPECT_NE(message.find("hint:"), std::string::npos) << message;
  EXPECT_NE(message.find("volume"), std::string::npos) << message;
}

TEST(SqlProcessorTest, UnknownTableAndCommandsAreConfigurationErrors) {
  auto other_table = MakeSql("sql: SELECT * FROM quotes", QuoteSchema());
  ASSERT_FALSE(other_table.ok());
  EXPECT_EQ(other_table.status().message().rfind("test.yaml:1:", 0), 0u)
      << other_table.status().message();
  auto command = MakeSql("sql: CREATE TABLE t AS SELECT * FROM input", QuoteSchema());
  ASSERT_FALSE(command.ok());
  EXPECT_NE(command.status().message().find("not a command"), std::string::npos)
      << command.status().message();
  auto missing = MakeSql("sql: {}", QuoteSchema());
  EXPECT_FALSE(missing.ok());
}

TEST(SqlProcessorTest, FailedCastFailsTheBatchAsADataError) {
  auto processor =
      MakeOrFail("sql: SELECT CAST(symbol AS INTEGER) AS code FROM input", QuoteSchema());
  ASSERT_NE(processor, nullptr);
  RecordingEmitter out;
  Status status =
      processor->Process(Quotes(R"(["12", "not a number"])", "[1, 1]", "[2, 2]", "[1, 1]"), out);
  EXPECT_TRUE(status.IsInvalid()) << status.ToString();
  EXPECT_NE(status.message().find("not a number"), std::string::npos) << status.message();
  // The processor keeps working afterwards.
  ASSERT_TRUE(processor->Process(Quotes(R"(["12"])", "[1]", "[2]", "[1]"), out).ok());
  ASSERT_EQ(out.batches.size(), 1u);
  EXPECT_EQ(out.batches[0]->column(0)->ToString(), Column(arrow::int32(), "[12]")->ToString());
}

}  // namespace
}  // namespace sluice::processors
