#include "sluice/processors/sql.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "sluice/config/options.h"
#include "sluice/duckdb/connection.h"
#include "sluice/duckdb/database.h"
#include "sluice/exec/dead_letter.h"
#include "sluice/exec/time.h"
#include "sluice/testing/processor_from_yaml.h"

namespace sluice::processors {
namespace {

Result<std::unique_ptr<exec::Processor>> MakeSql(const std::string& step,
                                                 const std::shared_ptr<arrow::Schema>& input,
                                                 exec::ProcessorContext context = {"test", nullptr,
                                                                                   ""}) {
  return testing::ProcessorFromYaml("sql", step, input, std::move(context));
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

TEST(SqlProcessorTest, AggregatesOverTheWholeInputAtItsEnd) {
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
  EXPECT_FALSE(processor->stateless());

  RecordingEmitter out;
  ASSERT_TRUE(
      processor
          ->Process(Quotes(R"(["B", "A", "B"])", "[1, 1, 1]", "[2, 2, 2]", "[10, 20, 30]"), out)
          .ok());
  ASSERT_TRUE(
      processor->Process(Quotes(R"(["A", "A"])", "[1, 1]", "[2, 2]", "[1, null]"), out).ok());
  EXPECT_TRUE(out.batches.empty());
  EXPECT_GT(processor->state_bytes(), 0);
  ASSERT_TRUE(processor->OnWatermark(exec::kMaxTimestamp, out).ok());
  ASSERT_TRUE(processor->Finish(out).ok());  // ran once already, at the final watermark
  ASSERT_EQ(out.batches.size(), 1u);
  EXPECT_EQ(processor->state_bytes(), 0);
  auto all = arrow::RecordBatch::Make(
      expected_schema, 2,
      {Column(arrow::utf8(), R"(["A", "B"])"), Column(arrow::int64(), "[21, 40]"),
       Column(arrow::int64(), "[3, 2]"),
       Column(expected_schema->field(3)->type(), "[1704067200000001, 1704067200000002]")});
  EXPECT_TRUE(out.batches[0]->Equals(*all)) << out.batches[0]->ToString();
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

  // An aggregate over no rows still has an answer, in the declared schema, at the end.
  auto counted =
      MakeOrFail("sql: SELECT count(*) AS n, sum(volume) AS v FROM input", QuoteSchema());
  ASSERT_NE(counted, nullptr);
  ASSERT_TRUE(counted->Process(empty, out).ok());
  EXPECT_TRUE(out.batches.empty());
  ASSERT_TRUE(counted->Finish(out).ok());
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

/// The step reads `input` only: no local file, directory listing or URL, and it says so.
TEST(SqlProcessorTest, FilesAreNotReadableUnlessListed) {
  for (const char* query :
       {"SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')", "SELECT * FROM '/etc/data.csv'",
        "SELECT * FROM read_csv('https://example.com/a.csv')"}) {
    auto processor = MakeSql(fmt::format("sql: \"{}\"", query), QuoteSchema());
    ASSERT_FALSE(processor.ok()) << query;
    const std::string& message = processor.status().message();
    EXPECT_NE(message.find("Permission Error"), std::string::npos) << message;
    EXPECT_NE(message.find("hint: the sql step reads only the table `input`"), std::string::npos)
        << message;
    EXPECT_NE(message.find("allow_files"), std::string::npos) << message;
  }
}

TEST(SqlProcessorTest, AllowFilesOpensTheListedDirectoryOnly) {
  const std::filesystem::path directory =
      std::filesystem::temp_directory_path() / fmt::format("sluice-sql-{}", ::getpid());
  std::filesystem::create_directories(directory / "ref");
  {
    std::ofstream(directory / "ref" / "names.csv") << "symbol,name\nA,Alpha\nB,Beta\n";
    std::ofstream(directory / "secret.csv") << "x\n1\n";
  }
  const std::string listed = (directory / "ref").string() + "/";
  auto processor = MakeOrFail(
      fmt::format(
          "sql: {{query: \"SELECT i.symbol, r.name FROM input i JOIN read_csv('{}') r USING "
          "(symbol)\", allow_files: ['{}']}}",
          (directory / "ref" / "names.csv").string(), listed),
      QuoteSchema());
  ASSERT_NE(processor, nullptr);
  EXPECT_TRUE(processor->row_wise());
  RecordingEmitter out;
  ASSERT_TRUE(
      processor->Process(Quotes(R"(["B", "C", "A"])", "[1, 1, 1]", "[2, 2, 2]", "[1, 1, 1]"), out)
          .ok());
  ASSERT_EQ(out.batches.size(), 1u);
  EXPECT_EQ(out.batches[0]->num_rows(), 2);
  for (const std::string& outside :
       {(directory / "secret.csv").string(), (directory / "ref" / ".." / "secret.csv").string()}) {
    auto refused = MakeSql(fmt::format("sql: {{query: \"SELECT * FROM read_csv('{}')\", "
                                       "allow_files: ['{}']}}",
                                       outside, listed),
                           QuoteSchema());
    ASSERT_FALSE(refused.ok()) << outside;
    EXPECT_NE(refused.status().message().find("Permission Error"), std::string::npos)
        << refused.status().message();
  }
  auto missing = MakeSql(fmt::format("sql: {{query: SELECT 1 AS one, allow_files: ['{}']}}",
                                     (directory / "nope").string()),
                         QuoteSchema());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("which is no file or directory"), std::string::npos)
      << missing.status().message();
  std::filesystem::remove_all(directory);
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

// ---------------------------------------------------------------------------------------
// Row-wise statements run per batch; every other one over a window or the whole input.

/// `text` as a double-quoted YAML scalar.
std::string Quoted(const std::string& text) {
  YAML::Emitter quoted;
  quoted << YAML::DoubleQuoted << text;
  return quoted.c_str();
}

struct ShapeCase {
  std::string query;
  bool row_wise;
  /// For a statement that is not row-wise: part of the reason its refusal on an unbounded
  /// input gives.
  std::string reason;
};

TEST(SqlProcessorTest, DuckDBsPlanTellsRowWiseStatementsFromTheOthers) {
  const std::vector<ShapeCase> cases = {
      {"SELECT * FROM input", true, ""},
      {"SELECT symbol, ask - bid AS spread FROM input WHERE volume > 1000", true, ""},
      {"SELECT upper(symbol) AS s, round(bid, 1) AS b, CASE WHEN bid > 1 THEN 'high' END AS l "
       "FROM input",
       true, ""},
      {"FROM input SELECT symbol WHERE ts > TIMESTAMPTZ '2024-01-01'", true, ""},
      {"SELECT unnest([bid, ask]) AS price FROM input", true, ""},
      {"SELECT * FROM input WHERE symbol IN (SELECT 'A')", true, ""},
      {"SELECT * FROM input WHERE EXISTS (SELECT 1 FROM (VALUES ('A')) t(s) WHERE s = symbol)",
       true, ""},
      {"SELECT i.*, v.n FROM input i JOIN (VALUES ('A', 1)) v(symbol, n) USING (symbol)", true, ""},
      {"SELECT * FROM input LEFT JOIN (VALUES ('A', 1)) v(s, n) ON s = symbol", true, ""},
      {"SELECT *, (SELECT max(x) FROM (VALUES (1), (2)) t(x)) AS m FROM input", true, ""},
      {"WITH t AS (SELECT * FROM input WHERE bid > 1) SELECT symbol FROM t", true, ""},
      {"SELECT symbol, avg(ask - bid) AS spread FROM input GROUP BY symbol", false, "aggregates"},
      {"SELECT count(*) AS n FROM input", false, "aggregates"},
      {"SELECT list(symbol) AS symbols FROM input", false, "aggregates"},
      {"SELECT DISTINCT symbol FROM input", false, "DISTINCT"},
      {"SELECT * FROM input ORDER BY ts", false, "ORDER BY"},
      {"SELECT * FROM input LIMIT 10", false, "LIMIT"},
      {"SELECT * FROM input ORDER BY bid DESC LIMIT 3", false, "ORDER BY"},
      {"SELECT *, row_number() OVER (PARTITION BY symbol ORDER BY ts) AS n FROM input", false,
       "OVER"},
      {"SELECT * FROM input QUALIFY row_number() OVER () = 1", false, "OVER"},
      {"SELECT symbol FROM input UNION ALL SELECT symbol FROM input", false, "UNION"},
      {"SELECT symbol FROM input UNION SELECT 'X'", false, "UNION"},
      {"SELECT symbol FROM input EXCEPT SELECT 'X'", false, "EXCEPT"},
      {"SELECT a.symbol FROM input a JOIN input b ON a.ts < b.ts", false, "itself"},
      {"SELECT * FROM input WHERE bid > (SELECT avg(bid) FROM input)", false, "aggregates"},
      {"SELECT symbol, (SELECT count(*) FROM input i WHERE i.symbol = input.symbol) FROM input",
       false, "aggregates"},
      {"SELECT symbol FROM input WHERE symbol IN (SELECT symbol FROM input)", false, "itself"},
      {"WITH t AS (SELECT * FROM input) SELECT a.symbol FROM t a, t b", false, "itself"},
      {"SELECT * FROM (VALUES ('A')) v(s) LEFT JOIN input ON s = symbol", false, "left join"},
      {"SELECT * FROM input FULL JOIN (VALUES ('A')) v(s) ON s = symbol", false, "full join"},
      {"SELECT * FROM input POSITIONAL JOIN (VALUES (1)) v(n)", false, "position"},
      {"SELECT * FROM input USING SAMPLE 10", false, "samples"},
      {"SELECT 1 AS one", false, "does not read input"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.query);
    const std::string step = "sql: " + Quoted(c.query);
    auto processor = MakeSql(step, QuoteSchema());
    ASSERT_TRUE(processor.ok()) << processor.status().ToString();
    EXPECT_EQ((*processor)->stateless(), c.row_wise);
    // A row-wise statement is fine on an input that never ends; another one is refused there.
    auto unbounded = MakeSql(step, QuoteSchema(), {"test", nullptr, "", {}, /*bounded=*/false});
    EXPECT_EQ(unbounded.ok(), c.row_wise) << unbounded.status().ToString();
    if (!c.row_wise && !unbounded.ok()) {
      EXPECT_NE(unbounded.status().message().find(c.reason), std::string::npos)
          << unbounded.status().message();
    }
  }
}

TEST(SqlProcessorTest, OnlyAProjectionKeepsRowsInPlace) {
  EXPECT_TRUE(
      MakeOrFail("sql: SELECT symbol, bid * 2 AS b FROM input", QuoteSchema())->preserves_rows());
  EXPECT_FALSE(
      MakeOrFail("sql: SELECT * FROM input WHERE bid > 1", QuoteSchema())->preserves_rows());
  EXPECT_FALSE(MakeOrFail("sql: SELECT unnest([bid, ask]) AS p FROM input", QuoteSchema())
                   ->preserves_rows());
}

TEST(SqlProcessorTest, OnlyARowWiseStatementMayBeRetriedOnSlices) {
  for (const char* step :
       {"sql: SELECT symbol, bid * 2 AS b FROM input", "sql: SELECT * FROM input WHERE bid > 1",
        "sql: SELECT unnest([bid, ask]) AS p FROM input"}) {
    EXPECT_TRUE(MakeOrFail(step, QuoteSchema())->row_wise()) << step;
  }
  for (const char* step :
       {"sql: SELECT symbol, count(*) AS n FROM input GROUP BY symbol",
        "sql: SELECT * FROM input LIMIT 5", "sql: SELECT DISTINCT symbol FROM input",
        "sql: SELECT * FROM input ORDER BY bid",
        "sql: SELECT symbol, row_number() OVER (ORDER BY bid) AS r FROM input",
        "sql: {query: \"SELECT count(*) AS n FROM input\", window: 1m}"}) {
    EXPECT_FALSE(MakeOrFail(step, QuoteSchema())->row_wise()) << step;
  }
}

/// Dead-lettering the bad rows and running the statement on the others would give a result
/// that is not the statement's over the input; the run fails instead, naming the step.
TEST(SqlProcessorTest, AFailingWholeInputStatementFailsTheRun) {
  exec::DeadLetterQueue dead_letters;
  auto processor =
      MakeSql("sql: SELECT symbol, sum(CAST(symbol AS INTEGER)) AS total FROM input GROUP BY 1",
              QuoteSchema(), {"test", &dead_letters, "ts"});
  ASSERT_TRUE(processor.ok()) << processor.status().ToString();
  RecordingEmitter out;
  ASSERT_TRUE(
      (*processor)->Process(Quotes(R"(["12", "x"])", "[1, 1]", "[2, 2]", "[1, 1]"), out).ok());
  Status finished = (*processor)->OnWatermark(exec::kMaxTimestamp, out);
  ASSERT_FALSE(finished.ok());
  EXPECT_NE(finished.message().find("the sql step failed over the whole input"), std::string::npos)
      << finished.message();
  EXPECT_NE(finished.message().find("Could not convert string 'x'"), std::string::npos)
      << finished.message();
  // Only DuckDB's first line: not the query with a caret under it.
  EXPECT_EQ(finished.message().find("LINE "), std::string::npos) << finished.message();
  EXPECT_TRUE(out.batches.empty());
  EXPECT_EQ(dead_letters.total(), 0);
}

TEST(SqlProcessorTest, WholeInputStatementOnAnUnboundedInputIsAConfigurationError) {
  auto processor = MakeSql("sql: SELECT symbol, avg(bid) AS bid FROM input GROUP BY symbol",
                           QuoteSchema(), {"test", nullptr, "ts", {}, /*bounded=*/false});
  ASSERT_FALSE(processor.ok());
  EXPECT_EQ(processor.status().message(),
            "test.yaml:1:6: error: this statement needs the whole input (it aggregates), but the "
            "input never ends\n"
            "  hint: add window: {tumbling: 1m} (sql: {query: \"...\", window: {tumbling: 1m}}) "
            "to run it over each minute of event time");
  // With a window it runs.
  EXPECT_TRUE(MakeSql("sql: {query: \"SELECT symbol, avg(bid) AS bid FROM input GROUP BY "
                      "symbol\", window: {tumbling: 1m}}",
                      QuoteSchema(), {"test", nullptr, "ts", {}, /*bounded=*/false})
                  .ok());
}

/// Random quotes: four symbols and nulls, times 50ms apart with up to 2s of disorder (each time
/// distinct), spread over about `rows` / 20 seconds.
std::shared_ptr<arrow::RecordBatch> RandomQuotes(int64_t rows, uint32_t seed) {
  std::mt19937 random(seed);
  arrow::StringBuilder symbols;
  arrow::DoubleBuilder bids, asks;
  arrow::Int64Builder volumes;
  arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                                arrow::default_memory_pool());
  const char* names[] = {"AAPL", "IBM", "MSFT", "ORCL"};
  for (int64_t i = 0; i < rows; ++i) {
    const uint32_t pick = random() % 10;
    EXPECT_TRUE((pick == 9 ? symbols.AppendNull() : symbols.Append(names[pick % 4])).ok());
    const double bid = 100 + static_cast<double>(random() % 10000) / 100;
    EXPECT_TRUE((random() % 20 == 0 ? bids.AppendNull() : bids.Append(bid)).ok());
    EXPECT_TRUE(asks.Append(bid + static_cast<double>(random() % 100) / 100).ok());
    EXPECT_TRUE((random() % 15 == 0 ? volumes.AppendNull()
                                    : volumes.Append(static_cast<int64_t>(random() % 5000)))
                    .ok());
    const int64_t jitter = static_cast<int64_t>(random() % 2000) * 1000;
    EXPECT_TRUE(times.Append(1704067200000000 + i * 50000 + jitter + i % 1000).ok());
  }
  return arrow::RecordBatch::Make(
      QuoteSchema(), rows,
      {symbols.Finish().ValueOrDie(), bids.Finish().ValueOrDie(), asks.Finish().ValueOrDie(),
       volumes.Finish().ValueOrDie(), times.Finish().ValueOrDie()});
}

std::vector<std::string> Rows(const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
                              bool sorted) {
  std::vector<std::string> rows;
  for (const auto& batch : batches) {
    for (int64_t i = 0; i < batch->num_rows(); ++i) rows.push_back(exec::RowToJson(*batch, i));
  }
  if (sorted) std::sort(rows.begin(), rows.end());
  return rows;
}

/// Feeds `input` to `processor` in batches of `rows_per_batch`, moving the watermark after each
/// to the latest event time minus 3s (past the input's disorder), then ends the input.
std::vector<std::shared_ptr<arrow::RecordBatch>> Drive(
    exec::Processor* processor, const std::shared_ptr<arrow::RecordBatch>& input,
    int64_t rows_per_batch) {
  RecordingEmitter out;
  const auto& times = static_cast<const arrow::TimestampArray&>(*input->GetColumnByName("ts"));
  exec::Timestamp latest = exec::kMinTimestamp;
  for (int64_t offset = 0; offset < input->num_rows(); offset += rows_per_batch) {
    auto batch = input->Slice(offset, rows_per_batch);
    EXPECT_TRUE(processor->Process(batch, out).ok());
    for (int64_t i = offset; i < offset + batch->num_rows(); ++i)
      latest = std::max(latest, times.Value(i));
    EXPECT_TRUE(processor->OnWatermark(latest - 3 * 1000000, out).ok());
  }
  EXPECT_TRUE(processor->OnWatermark(exec::kMaxTimestamp, out).ok());
  EXPECT_TRUE(processor->Finish(out).ok());
  EXPECT_EQ(processor->state_bytes(), 0);
  return out.batches;
}

/// DuckDB's answer to `query` over `input` read whole, with `prelude` (a WITH list naming
/// `input`, or nothing) before it; the table itself is `quotes`.
std::vector<std::string> Oracle(const std::string& query,
                                const std::shared_ptr<arrow::RecordBatch>& input, bool sorted,
                                const std::string& prelude = "WITH input AS (FROM quotes) ") {
  auto database = duckdb::Database::Open().ValueOrDie();
  auto connection = duckdb::Connection::Open(database).ValueOrDie();
  EXPECT_TRUE(connection->RegisterBatch("quotes", input).ok());
  auto table = connection->Query(prelude + query);
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  if (!table.ok()) return {};
  return Rows({(*table)->CombineChunksToBatch().ValueOrDie()}, sorted);
}

struct IndependenceCase {
  std::string query;
  /// The statement orders its whole result (ORDER BY ... LIMIT), which must then match row for
  /// row; otherwise rows are compared in any order.
  bool ordered;
};

TEST(SqlProcessorTest, WholeInputResultDoesNotDependOnBatchSizes) {
  const auto input = RandomQuotes(2000, 7);
  const std::vector<IndependenceCase> cases = {
      {"SELECT symbol, count(*) AS n, sum(volume)::BIGINT AS volume, "
       "round(avg(ask - bid), 6) AS spread FROM input GROUP BY symbol",
       false},
      {"SELECT DISTINCT symbol, volume // 1000 AS thousands FROM input", false},
      {"SELECT symbol, ts, bid FROM input ORDER BY bid DESC NULLS LAST, ts LIMIT 25", true},
      {"SELECT symbol, ts, row_number() OVER (PARTITION BY symbol ORDER BY ts) AS n, "
       "sum(volume) OVER (PARTITION BY symbol ORDER BY ts)::BIGINT AS running FROM input",
       false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.query);
    const std::vector<std::string> expected = Oracle(c.query, input, !c.ordered);
    ASSERT_FALSE(expected.empty());
    for (int64_t rows_per_batch : {1, 7, 64, 65536}) {
      SCOPED_TRACE(rows_per_batch);
      auto processor = MakeOrFail("sql: " + Quoted(c.query), QuoteSchema());
      ASSERT_NE(processor, nullptr);
      EXPECT_EQ(Rows(Drive(processor.get(), input, rows_per_batch), !c.ordered), expected);
    }
  }
}

/// `input` of a windowed statement as DuckDB builds it from `quotes` on its own: each row once
/// per window of `size` starting every `slide` (a divisor of size) that holds its time.
std::string WindowedInput(int64_t size, int64_t slide) {
  return fmt::format(
      "WITH input AS (SELECT * EXCLUDE (s, k), make_timestamp(s)::TIMESTAMPTZ AS window_start, "
      "make_timestamp(s + {0})::TIMESTAMPTZ AS window_end FROM (SELECT *, (epoch_us(ts) // {1} - "
      "k) * {1} AS s FROM quotes, range({2}) r(k))) ",
      size, slide, size / slide);
}

TEST(SqlProcessorTest, WindowedStatementsMatchDuckDBOverEachWindow) {
  const auto input = RandomQuotes(2000, 11);  // about 100 seconds
  const std::vector<std::string> queries = {
      "SELECT symbol, window_start, window_end, count(*) AS n, sum(volume)::BIGINT AS volume, "
      "max(bid) AS top FROM input GROUP BY ALL",
      "SELECT DISTINCT window_end, symbol FROM input",
      "SELECT window_end, symbol, ts FROM input QUALIFY row_number() OVER (PARTITION BY "
      "window_start ORDER BY bid DESC NULLS LAST, ts) <= 2",
  };
  struct Window {
    std::string yaml;
    int64_t size, slide;
  };
  const std::vector<Window> windows = {{"{tumbling: 10s}", 10000000, 10000000},
                                       {"{sliding: {size: 20s, slide: 5s}}", 20000000, 5000000}};
  for (const auto& query : queries) {
    for (const auto& window : windows) {
      SCOPED_TRACE(query + " over " + window.yaml);
      const auto expected = Oracle(query, input, true, WindowedInput(window.size, window.slide));
      ASSERT_FALSE(expected.empty());
      for (int64_t rows_per_batch : {1, 7, 64, 65536}) {
        SCOPED_TRACE(rows_per_batch);
        exec::DeadLetterQueue dead_letters;
        auto processor = MakeSql("sql: {query: " + Quoted(query) + ", window: " + window.yaml + "}",
                                 QuoteSchema(), {"test", &dead_letters, "ts"});
        ASSERT_TRUE(processor.ok()) << processor.status().ToString();
        EXPECT_FALSE((*processor)->stateless());
        EXPECT_EQ(Rows(Drive(processor->get(), input, rows_per_batch), true), expected);
        EXPECT_EQ(dead_letters.total(), 0);
      }
    }
  }
}

TEST(SqlProcessorTest, SlidingWindowsWhoseSlideDoesNotDivideTheSize) {
  // size 9s, slide 6s: windows [0, 9), [6, 15), [12, 21), ...; panes of 3s.
  const auto input = RandomQuotes(600, 5);
  const std::string query =
      "SELECT window_start, window_end, count(*) AS n, min(ts) AS first, max(ts) AS last "
      "FROM input GROUP BY ALL";
  // Every window start s (a multiple of 6s) with s <= ts < s + 9s: two candidates per row.
  const std::string prelude =
      "WITH input AS (SELECT * EXCLUDE (s, k), make_timestamp(s)::TIMESTAMPTZ AS window_start, "
      "make_timestamp(s + 9000000)::TIMESTAMPTZ AS window_end FROM (SELECT *, (epoch_us(ts) // "
      "6000000 - k) * 6000000 AS s FROM quotes, range(2) r(k)) WHERE epoch_us(ts) < s + 9000000) ";
  const auto expected = Oracle(query, input, true, prelude);
  for (int64_t rows_per_batch : {1, 64, 65536}) {
    auto processor =
        MakeSql("sql: {query: \"" + query + "\", window: {sliding: {size: 9s, slide: 6s}}}",
                QuoteSchema(), {"test", nullptr, "ts"});
    ASSERT_TRUE(processor.ok()) << processor.status().ToString();
    EXPECT_EQ(Rows(Drive(processor->get(), input, rows_per_batch), true), expected);
  }
}

TEST(SqlProcessorTest, WindowFiresWhenTheWatermarkPassesItsEndAndLateRowsAreDeadLetters) {
  exec::DeadLetterQueue dead_letters;
  auto processor = MakeSql(
      "sql: {query: \"SELECT symbol, window_end, count(*) AS n, sum(volume)::BIGINT AS v FROM "
      "input GROUP BY ALL ORDER BY symbol\", window: 1m}",
      QuoteSchema(), {"test", &dead_letters, "ts"});
  ASSERT_TRUE(processor.ok()) << processor.status().ToString();
  EXPECT_EQ((*processor)->output_event_time_field(), "window_end");
  // Quotes() times are 2024-01-01T00:00:00Z plus 0, 1, 2... microseconds: one window.
  RecordingEmitter out;
  ASSERT_TRUE(
      (*processor)
          ->Process(Quotes(R"(["B", "A", "B"])", "[1, 1, 1]", "[2, 2, 2]", "[1, 2, 3]"), out)
          .ok());
  const exec::Timestamp start = 1704067200000000, minute = 60000000;
  ASSERT_TRUE((*processor)->OnWatermark(start + minute - 1, out).ok());
  EXPECT_TRUE(out.batches.empty());
  ASSERT_TRUE((*processor)->OnWatermark(start + minute, out).ok());
  EXPECT_EQ(Rows(out.batches, false),
            (std::vector<std::string>{
                R"({"symbol":"A","window_end":"2024-01-01T00:01:00Z","n":1,"v":2})",
                R"({"symbol":"B","window_end":"2024-01-01T00:01:00Z","n":2,"v":4})"}));
  EXPECT_EQ((*processor)->state_bytes(), 0);
  // The window has fired: its rows now are late.
  ASSERT_TRUE((*processor)->Process(Quotes(R"(["C"])", "[1]", "[2]", "[5]"), out).ok());
  auto letters = dead_letters.Drain();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason,
            "late: window [2024-01-01T00:00:00Z, 2024-01-01T00:01:00Z) has closed");
  EXPECT_EQ(letters[0].stage, "sql");
  EXPECT_EQ(letters[0].record,
            R"({"symbol":"C","bid":1.0,"ask":2.0,"volume":5,"ts":"2024-01-01T00:00:00Z"})");
  EXPECT_EQ(dead_letters.late(), 1);
  ASSERT_TRUE((*processor)->Finish(out).ok());
  EXPECT_EQ(out.batches.size(), 1u);
}

TEST(SqlProcessorTest, WindowConfigurationErrors) {
  auto error = [](const std::string& step,
                  exec::ProcessorContext context = {"test", nullptr, "ts"}) {
    auto processor = MakeSql(step, QuoteSchema(), std::move(context));
    return processor.ok() ? std::string("(no error)") : processor.status().message();
  };
  EXPECT_EQ(error("sql: {query: SELECT 1, window: {}}").rfind("test.yaml:1:", 0), 0u);
  EXPECT_NE(error("sql: {query: SELECT 1, window: {}}").find("needs its kind"), std::string::npos);
  EXPECT_NE(error("sql: {query: SELECT 1, window: {tumbling: 1m, sliding: {size: 1m, slide: "
                  "1s}}}")
                .find("not both"),
            std::string::npos);
  EXPECT_NE(error("sql: {query: SELECT 1, window: {sliding: {size: 1m, slide: 2m}}}")
                .find("slide cannot be longer"),
            std::string::npos);
  EXPECT_NE(error("sql: {query: SELECT 1, window: 0s}").find("longer than 0"), std::string::npos);
  auto renamed =
      arrow::schema({arrow::field("window_end", arrow::utf8()),
                     arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
  auto clash = MakeSql("sql: {query: SELECT 1, window: 1m}", renamed, {"test", nullptr, "ts"});
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.status().message().find("already has a field 'window_end'"), std::string::npos);
  EXPECT_NE(error("sql: {query: SELECT 1, window: 1m}", {"test", nullptr, "time"})
                .find("event-time field 'time'"),
            std::string::npos);
  // window_start and window_end are columns of `input` only with a window.
  EXPECT_NE(error("sql: SELECT window_end FROM input").find("window_end"), std::string::npos);
}

TEST(SqlProcessorTest, AFailingWindowSendsItsRowsToDeadLetters) {
  exec::DeadLetterQueue dead_letters;
  auto processor = MakeSql(
      "sql: {query: \"SELECT sum(CAST(symbol AS INTEGER)) AS total FROM input\", window: "
      "1m}",
      QuoteSchema(), {"test", &dead_letters, "ts"});
  ASSERT_TRUE(processor.ok()) << processor.status().ToString();
  RecordingEmitter out;
  ASSERT_TRUE(
      (*processor)->Process(Quotes(R"(["12", "x"])", "[1, 1]", "[2, 2]", "[1, 1]"), out).ok());
  ASSERT_TRUE((*processor)->Finish(out).ok());
  EXPECT_TRUE(out.batches.empty());
  auto letters = dead_letters.Drain();
  ASSERT_EQ(letters.size(), 2u);
  EXPECT_NE(letters[0].reason.find("Could not convert string 'x'"), std::string::npos)
      << letters[0].reason;
  EXPECT_NE(letters[0].reason.find("(window [2024-01-01T00:00:00Z, 2024-01-01T00:01:00Z))"),
            std::string::npos)
      << letters[0].reason;
}

}  // namespace
}  // namespace sluice::processors
