#include <arrow/api.h>
#include <arrow/c/abi.h>
#include <arrow/c/bridge.h>
#include <arrow/json/from_string.h>
#include <duckdb.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/duckdb/connection.h"
#include "sluice/duckdb/database.h"

// Arrow's own test macros live in a library the SDK does not ship.
#define SLUICE_ASSERT_OK(expr)                       \
  do {                                               \
    const ::arrow::Status _status = (expr);          \
    ASSERT_TRUE(_status.ok()) << _status.ToString(); \
  } while (false)
#define SLUICE_ASSERT_OK_AND_ASSIGN_IMPL(result, lhs, rexpr) \
  auto result = (rexpr);                                     \
  ASSERT_TRUE(result.ok()) << result.status().ToString();    \
  lhs = std::move(result).ValueOrDie()
#define SLUICE_CONCAT_INNER(a, b) a##b
#define SLUICE_CONCAT(a, b) SLUICE_CONCAT_INNER(a, b)
#define SLUICE_ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  SLUICE_ASSERT_OK_AND_ASSIGN_IMPL(SLUICE_CONCAT(_result_, __LINE__), lhs, rexpr)

namespace sluice::duckdb {
namespace {

std::unique_ptr<Connection> OpenConnection() {
  auto database = Database::Open();
  EXPECT_TRUE(database.ok()) << database.status().ToString();
  auto connection = Connection::Open(*database);
  EXPECT_TRUE(connection.ok()) << connection.status().ToString();
  return std::move(*connection);
}

std::shared_ptr<arrow::Array> ArrayFromJson(const std::shared_ptr<arrow::DataType>& type,
                                            const std::string& json) {
  return arrow::json::ArrayFromJSONString(type, json).ValueOrDie();
}

/// One column of every type a pipeline commonly carries, each with nulls.
std::shared_ptr<arrow::RecordBatch> MixedBatch() {
  auto schema = arrow::schema({
      arrow::field("symbol", arrow::utf8()),
      arrow::field("venue", arrow::utf8()),
      arrow::field("volume", arrow::int64()),
      arrow::field("lots", arrow::int32()),
      arrow::field("ask", arrow::float64()),
      arrow::field("active", arrow::boolean()),
      arrow::field("day", arrow::date32()),
      arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")),
  });
  return arrow::RecordBatch::Make(
      schema, 4,
      {
          ArrayFromJson(arrow::utf8(), R"(["A", null, "a symbol longer than twelve bytes", ""])"),
          ArrayFromJson(arrow::utf8(), R"([null, null, "XNYS", "ünïcode ✓"])"),
          ArrayFromJson(arrow::int64(), "[1, null, -9223372036854775808, 9223372036854775807]"),
          ArrayFromJson(arrow::int32(), "[null, 7, -2147483648, 2147483647]"),
          ArrayFromJson(arrow::float64(), "[1.5, null, -0.0, 1e308]"),
          ArrayFromJson(arrow::boolean(), "[true, false, null, true]"),
          ArrayFromJson(arrow::date32(), "[0, null, 19723, -719162]"),
          ArrayFromJson(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                        "[1704164645123456, null, 0, -2177452800000001]"),
      });
}

/// Once locked, a restricted database stays restricted: no statement can reopen it.
TEST(DuckdbBridgeTest, RestrictedAccessCannotBeLiftedOnceLocked) {
  auto connection = OpenConnection();
  ASSERT_NE(connection, nullptr);
  ASSERT_TRUE(connection->RestrictExternalAccess({}, {}).ok());
  ASSERT_TRUE(connection->LockConfiguration().ok());
  EXPECT_FALSE(connection->Query("SELECT * FROM read_text('/etc/hostname')").ok());
  Status lifted = connection->Execute("SET enable_external_access = true");
  ASSERT_FALSE(lifted.ok());
  EXPECT_NE(lifted.message().find("locked"), std::string::npos) << lifted.message();
  EXPECT_FALSE(connection->Execute("SET allowed_directories = ['/']").ok());
  EXPECT_FALSE(connection->Execute("LOAD httpfs").ok());
  // Registered Arrow data stays readable.
  auto batch = arrow::RecordBatch::Make(
      arrow::schema({arrow::field("v", arrow::int64())}), 2,
      {arrow::json::ArrayFromJSONString(arrow::int64(), "[1, 2]").ValueOrDie()});
  ASSERT_TRUE(connection->RegisterBatch("t", batch).ok());
  auto table = connection->Query("SELECT sum(v) AS s FROM t");
  ASSERT_TRUE(table.ok()) << table.status().message();
}

TEST(DuckdbBridgeTest, TypesSurviveARoundTripWithNulls) {
  auto connection = OpenConnection();
  auto batch = MixedBatch();
  SLUICE_ASSERT_OK(connection->RegisterBatch("quotes", batch));
  SLUICE_ASSERT_OK_AND_ASSIGN(auto table, connection->Query("SELECT * FROM quotes"));
  SLUICE_ASSERT_OK_AND_ASSIGN(auto expected, arrow::Table::FromRecordBatches({batch}));
  EXPECT_TRUE(table->schema()->Equals(*batch->schema(), /*check_metadata=*/false))
      << table->schema()->ToString();
  EXPECT_TRUE(table->Equals(*expected)) << table->ToString();
}

TEST(DuckdbBridgeTest, ValuesComputedInDuckdbComeBackAsArrowTypes) {
  auto connection = OpenConnection();
  SLUICE_ASSERT_OK_AND_ASSIGN(
      auto table,
      connection->Query("SELECT 42::BIGINT AS i, 'x' AS s, 2.5::DOUBLE AS d, true AS b, "
                        "DATE '2024-02-29' AS day, TIMESTAMPTZ '2024-01-02 03:04:05+00' AS ts, "
                        "NULL::VARCHAR AS nothing"));
  auto expected_schema = arrow::schema({
      arrow::field("i", arrow::int64()),
      arrow::field("s", arrow::utf8()),
      arrow::field("d", arrow::float64()),
      arrow::field("b", arrow::boolean()),
      arrow::field("day", arrow::date32()),
      arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")),
      arrow::field("nothing", arrow::utf8()),
  });
  EXPECT_TRUE(table->schema()->Equals(*expected_schema, false)) << table->schema()->ToString();
  ASSERT_EQ(table->num_rows(), 1);
  SLUICE_ASSERT_OK_AND_ASSIGN(auto ts, table->GetColumnByName("ts")->GetScalar(0));
  EXPECT_EQ(std::static_pointer_cast<arrow::TimestampScalar>(ts)->value, 1704164645000000);
  EXPECT_EQ(table->GetColumnByName("nothing")->null_count(), 1);
}

TEST(DuckdbBridgeTest, FiltersApplyToRegisteredData) {
  // The deprecated duckdb_arrow_scan returns unfiltered rows for this query in DuckDB 1.4.
  auto connection = OpenConnection();
  arrow::Int64Builder numbers;
  for (int64_t i = 0; i < 5000; ++i) SLUICE_ASSERT_OK(numbers.Append(i));
  SLUICE_ASSERT_OK_AND_ASSIGN(auto column, numbers.Finish());
  auto batch =
      arrow::RecordBatch::Make(arrow::schema({arrow::field("n", arrow::int64())}), 5000, {column});
  SLUICE_ASSERT_OK(connection->RegisterBatch("numbers", batch));
  SLUICE_ASSERT_OK_AND_ASSIGN(
      auto table,
      connection->Query("SELECT count(*) AS c, sum(n) AS s FROM numbers WHERE n >= 4000"));
  SLUICE_ASSERT_OK_AND_ASSIGN(auto count, table->GetColumnByName("c")->GetScalar(0));
  EXPECT_EQ(count->ToString(), "1000");
  SLUICE_ASSERT_OK_AND_ASSIGN(auto sum, table->GetColumnByName("s")->GetScalar(0));
  EXPECT_EQ(sum->ToString(), "4499500");
}

/// The plan as an indented outline: one line per operator, its name and, for a scan of
/// registered data, "(registered)".
std::string Outline(const PlanNode& node, int depth = 0) {
  std::string text = std::string(static_cast<size_t>(depth) * 2, ' ') + node.name +
                     (node.scans_registered_data ? " (registered)" : "") + "\n";
  for (const auto& child : node.children) text += Outline(child, depth + 1);
  return text;
}

TEST(DuckdbBridgeTest, LogicalPlanIsTheBoundPlanBeforeOptimisation) {
  auto connection = OpenConnection();
  SLUICE_ASSERT_OK(connection->RegisterBatch("quotes", MixedBatch()));
  // The optimiser would fold ORDER BY and LIMIT into a TOP_N and drop the projections.
  SLUICE_ASSERT_OK_AND_ASSIGN(
      PlanNode plan, connection->LogicalPlan(
                         "SELECT symbol, max(ask) AS top FROM quotes WHERE volume > 0 GROUP BY "
                         "symbol ORDER BY top DESC LIMIT 2"));
  const std::string outline = Outline(plan);
  EXPECT_NE(outline.find("LIMIT\n  ORDER_BY\n"), std::string::npos) << outline;
  EXPECT_NE(outline.find("AGGREGATE\n"), std::string::npos) << outline;
  EXPECT_NE(outline.find("FILTER\n"), std::string::npos) << outline;
  EXPECT_EQ(outline.find("TOP_N"), std::string::npos) << outline;
  EXPECT_NE(outline.find("(registered)"), std::string::npos) << outline;

  SLUICE_ASSERT_OK_AND_ASSIGN(
      PlanNode join, connection->LogicalPlan("SELECT * FROM quotes LEFT JOIN (VALUES ('A')) v(s) "
                                             "ON s = symbol"));
  ASSERT_EQ(join.children.size(), 1u);
  EXPECT_EQ(join.children[0].info["Join Type"], "LEFT") << Outline(join);

  // The setting that shows the logical plan is put back.
  SLUICE_ASSERT_OK_AND_ASSIGN(auto setting,
                              connection->Query("SELECT current_setting('explain_output') AS s"));
  SLUICE_ASSERT_OK_AND_ASSIGN(auto value, setting->GetColumnByName("s")->GetScalar(0));
  EXPECT_EQ(value->ToString(), "physical_only");
  EXPECT_FALSE(connection->LogicalPlan("SELECT * FROM nowhere").ok());
}

TEST(DuckdbBridgeTest, RegisteredBatchesCanBeScannedManyTimes) {
  auto connection = OpenConnection();
  auto schema =
      arrow::schema({arrow::field("n", arrow::int64()), arrow::field("s", arrow::utf8())});
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  int64_t total = 0;
  for (int b = 0; b < 3; ++b) {
    arrow::Int64Builder numbers;
    arrow::StringBuilder strings;
    const int64_t rows = 3000 + b * 700;  // crosses DuckDB's 2048-row vectors unevenly
    for (int64_t i = 0; i < rows; ++i) {
      SLUICE_ASSERT_OK(numbers.Append(total + i));
      SLUICE_ASSERT_OK(strings.Append("value number " + std::to_string(total + i)));
    }
    total += rows;
    SLUICE_ASSERT_OK_AND_ASSIGN(auto n, numbers.Finish());
    SLUICE_ASSERT_OK_AND_ASSIGN(auto s, strings.Finish());
    batches.push_back(arrow::RecordBatch::Make(schema, rows, {n, s}));
  }
  // Slices (non-zero offsets) are read from the right place.
  batches.push_back(batches[0]->Slice(100, 50));
  SLUICE_ASSERT_OK(connection->RegisterBatches("t", schema, batches));
  // A self-join and a scalar subquery scan the data twice within one query.
  SLUICE_ASSERT_OK_AND_ASSIGN(
      auto table, connection->Query("SELECT (SELECT count(*) FROM t) AS rows, count(*) AS pairs, "
                                    "max(a.s) AS top FROM t a JOIN t b ON a.n = b.n + 1"));
  EXPECT_EQ(table->GetColumnByName("rows")->GetScalar(0).ValueOrDie()->ToString(),
            std::to_string(total + 50));
  // Values 0..total-1 appear once and 100..149 twice: total - 1 pairs, plus 3 more for each of
  // 101..149 (both sides doubled) and 1 more for 100 and for 150 (one side doubled).
  EXPECT_EQ(table->GetColumnByName("pairs")->GetScalar(0).ValueOrDie()->ToString(),
            std::to_string(total - 1 + 49 * 3 + 2));
  SLUICE_ASSERT_OK_AND_ASSIGN(auto again,
                              connection->Query("SELECT sum(n) AS s FROM t WHERE s LIKE '%99'"));
  int64_t expected = 0;
  for (int64_t i = 0; i < total; ++i) {
    if (i % 100 == 99) expected += i;
  }
  for (int64_t i = 100; i < 150; ++i) {
    if (i % 100 == 99) expected += i;
  }
  EXPECT_EQ(again->GetColumnByName("s")->GetScalar(0).ValueOrDie()->ToString(),
            std::to_string(expected));
}

TEST(DuckdbBridgeTest, DescribeReportsTheResultSchemaWithoutData) {
  auto connection = OpenConnection();
  auto schema =
      arrow::schema({arrow::field("bid", arrow::float64()), arrow::field("ask", arrow::float64()),
                     arrow::field("symbol", arrow::utf8())});
  SLUICE_ASSERT_OK(connection->RegisterBatches("input", schema, {}));
  SLUICE_ASSERT_OK_AND_ASSIGN(
      auto described,
      connection->Describe(
          "SELECT symbol, ask - bid AS spread, count(*) AS n FROM input GROUP BY ALL"));
  auto expected =
      arrow::schema({arrow::field("symbol", arrow::utf8()),
                     arrow::field("spread", arrow::float64()), arrow::field("n", arrow::int64())});
  EXPECT_TRUE(described->Equals(*expected, false)) << described->ToString();

  auto unknown = connection->Describe("SELECT volume FROM input");
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(unknown.status().IsInvalid());
  EXPECT_NE(unknown.status().message().find("volume"), std::string::npos)
      << unknown.status().message();
}

TEST(DuckdbBridgeTest, PreparedStatementRunsOverReplacedBatches) {
  auto connection = OpenConnection();
  auto schema = arrow::schema({arrow::field("n", arrow::int64())});
  SLUICE_ASSERT_OK(connection->RegisterBatches("input", schema, {}));
  SLUICE_ASSERT_OK_AND_ASSIGN(auto statement,
                              connection->Prepare("SELECT sum(n) AS s, count(*) AS c FROM input"));
  for (int round = 1; round <= 3; ++round) {
    auto batch = arrow::RecordBatch::Make(schema, 3, {ArrayFromJson(arrow::int64(), "[1, 2, 3]")});
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches(round, batch);
    SLUICE_ASSERT_OK(connection->SetBatches("input", batches));
    SLUICE_ASSERT_OK_AND_ASSIGN(auto result, statement->Execute());
    ASSERT_EQ(result.size(), 1u);
    EXPECT_TRUE(result[0]->schema()->Equals(*statement->schema()));
    SLUICE_ASSERT_OK_AND_ASSIGN(auto count, result[0]->column(1)->GetScalar(0));
    EXPECT_EQ(count->ToString(), std::to_string(3 * round));
  }
  auto other = arrow::RecordBatch::Make(arrow::schema({arrow::field("m", arrow::int64())}), 1,
                                        {ArrayFromJson(arrow::int64(), "[1]")});
  EXPECT_TRUE(connection->SetBatches("input", {other}).IsInvalid());
  EXPECT_TRUE(connection->SetBatches("missing", {}).IsKeyError());
}

TEST(DuckdbBridgeTest, ReaderIsScannedOnce) {
  auto connection = OpenConnection();
  auto batch = MixedBatch();
  SLUICE_ASSERT_OK_AND_ASSIGN(auto reader, arrow::RecordBatchReader::Make({batch, batch}));
  SLUICE_ASSERT_OK(connection->RegisterReader("stream", reader));
  SLUICE_ASSERT_OK_AND_ASSIGN(auto table,
                              connection->Query("SELECT count(volume) AS c FROM stream"));
  EXPECT_EQ(table->column(0)->GetScalar(0).ValueOrDie()->ToString(), "6");
  auto again = connection->Query("SELECT count(*) FROM stream");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("only once"), std::string::npos)
      << again.status().message();
}

TEST(DuckdbBridgeTest, ErrorsBecomeStatuses) {
  auto connection = OpenConnection();
  EXPECT_TRUE(connection->Execute("SELEC 1").IsInvalid());
  EXPECT_TRUE(connection->Query("SELECT * FROM nowhere").status().IsInvalid());
  EXPECT_TRUE(connection->Query("SELECT CAST('x' AS INTEGER)").status().IsInvalid());
  EXPECT_TRUE(connection->Prepare("SELECT 1; SELECT 2").status().IsInvalid());
  SLUICE_ASSERT_OK(
      connection->Execute("CREATE TABLE t (i INTEGER); INSERT INTO t VALUES (1), (NULL)"));
  SLUICE_ASSERT_OK_AND_ASSIGN(auto table, connection->Query("SELECT * FROM t"));
  EXPECT_EQ(table->num_rows(), 2);
  SLUICE_ASSERT_OK_AND_ASSIGN(auto empty, connection->Query("SELECT * FROM t WHERE i > 5"));
  EXPECT_EQ(empty->num_rows(), 0);
  EXPECT_EQ(empty->schema()->field(0)->type()->id(), arrow::Type::INT32);
}

TEST(DuckdbBridgeTest, RegistrationsAreLocalToTheirConnection) {
  SLUICE_ASSERT_OK_AND_ASSIGN(auto database, Database::Open());
  SLUICE_ASSERT_OK_AND_ASSIGN(auto first, Connection::Open(database));
  SLUICE_ASSERT_OK_AND_ASSIGN(auto second, Connection::Open(database));
  auto schema = arrow::schema({arrow::field("n", arrow::int64())});
  SLUICE_ASSERT_OK(first->RegisterBatch(
      "input", arrow::RecordBatch::Make(schema, 1, {ArrayFromJson(arrow::int64(), "[1]")})));
  SLUICE_ASSERT_OK(second->RegisterBatch(
      "input", arrow::RecordBatch::Make(schema, 2, {ArrayFromJson(arrow::int64(), "[5, 6]")})));
  SLUICE_ASSERT_OK_AND_ASSIGN(auto a, first->Query("SELECT sum(n) FROM input"));
  SLUICE_ASSERT_OK_AND_ASSIGN(auto b, second->Query("SELECT sum(n) FROM input"));
  EXPECT_EQ(a->column(0)->GetScalar(0).ValueOrDie()->ToString(), "1");
  EXPECT_EQ(b->column(0)->GetScalar(0).ValueOrDie()->ToString(), "11");
  first.reset();
  SLUICE_ASSERT_OK_AND_ASSIGN(auto c, second->Query("SELECT sum(n) FROM input"));
  EXPECT_EQ(c->column(0)->GetScalar(0).ValueOrDie()->ToString(), "11");
  SLUICE_ASSERT_OK(second->Unregister("input"));
  EXPECT_FALSE(second->Query("SELECT * FROM input").ok());
}

TEST(DuckdbBridgeTest, DuckdbReadsFixedWidthArrowBuffersInPlace) {
  // The property the bridge's scan relies on: duckdb_data_chunk_from_arrow makes vectors that
  // point into the Arrow buffers instead of copying them.
  SLUICE_ASSERT_OK_AND_ASSIGN(auto database, Database::Open());
  duckdb_connection connection = nullptr;
  ASSERT_EQ(duckdb_connect(database->handle(), &connection), DuckDBSuccess);
  auto column = ArrayFromJson(arrow::int64(), "[10, 20, 30, 40, 50]");
  auto schema = arrow::schema({arrow::field("n", arrow::int64())});
  auto batch = arrow::RecordBatch::Make(schema, 5, {column})->Slice(2);
  struct ArrowSchema c_schema {};
  SLUICE_ASSERT_OK(arrow::ExportSchema(*schema, &c_schema));
  duckdb_arrow_converted_schema converted = nullptr;
  ASSERT_EQ(duckdb_schema_from_arrow(connection, &c_schema, &converted), nullptr);
  struct ArrowArray c_array {};
  SLUICE_ASSERT_OK(arrow::ExportRecordBatch(*batch, &c_array));
  duckdb_data_chunk chunk = nullptr;
  ASSERT_EQ(duckdb_data_chunk_from_arrow(connection, &c_array, converted, &chunk), nullptr);
  const void* duckdb_values = duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, 0));
  EXPECT_EQ(duckdb_values, static_cast<const void*>(column->data()->GetValues<int64_t>(1) + 2));
  EXPECT_EQ(static_cast<const int64_t*>(duckdb_values)[0], 30);
  duckdb_destroy_data_chunk(&chunk);
  if (c_array.release != nullptr) c_array.release(&c_array);
  duckdb_destroy_arrow_converted_schema(&converted);
  c_schema.release(&c_schema);
  duckdb_disconnect(&connection);
}

}  // namespace
}  // namespace sluice::duckdb
