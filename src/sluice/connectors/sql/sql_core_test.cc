#include <arrow/type.h>
#include <arrow/util/key_value_metadata.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "sluice/connectors/sql/dialect.h"
#include "sluice/connectors/sql/reject_isolation.h"
#include "sluice/connectors/sql/table_options.h"

namespace sluice::connectors::sql {
namespace {

TEST(WriteIsolatingRejects, WritesEveryGoodRowOnceAndRejectsEachBadRow) {
  const std::set<int64_t> bad = {0, 3, 50, 51, 99};
  std::multiset<int64_t> written;
  int attempts = 0;
  auto result = WriteIsolatingRejects(
      100,
      [&](int64_t offset, int64_t length) {
        ++attempts;
        for (int64_t row = offset; row < offset + length; ++row) {
          if (bad.count(row) > 0) return Status::Invalid("duplicate key in row ", row);
        }
        for (int64_t row = offset; row < offset + length; ++row) written.insert(row);
        return Status::OK();
      },
      [](const Status& status) { return status.IsInvalid(); });
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  std::set<int64_t> rejected;
  for (const auto& row : *result) {
    rejected.insert(row.row);
    EXPECT_EQ(row.reason, "duplicate key in row " + std::to_string(row.row));
  }
  EXPECT_EQ(rejected, bad);
  EXPECT_EQ(written.size(), 95u);
  for (int64_t row = 0; row < 100; ++row) {
    EXPECT_EQ(written.count(row), bad.count(row) > 0 ? 0u : 1u) << row;
  }
  // Bisection: far fewer attempts than one per row.
  EXPECT_LT(attempts, 60);
}

TEST(WriteIsolatingRejects, ACleanBatchTakesOneAttempt) {
  int attempts = 0;
  auto result = WriteIsolatingRejects(
      65536,
      [&](int64_t, int64_t) {
        ++attempts;
        return Status::OK();
      },
      [](const Status&) { return true; });
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->empty());
  EXPECT_EQ(attempts, 1);
}

TEST(WriteIsolatingRejects, OtherErrorsEndTheWrite) {
  auto result = WriteIsolatingRejects(
      10, [](int64_t, int64_t) { return Status::IOError("connection reset"); },
      [](const Status& status) { return status.IsInvalid(); });
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.status().IsIOError());
}

class TestDialect : public Dialect {
 public:
  std::string_view name() const override { return "TestDB"; }
  Result<std::string> ColumnType(const arrow::DataType& type) const override {
    switch (type.id()) {
      case arrow::Type::INT64:
        return std::string("BIGINT");
      case arrow::Type::STRING:
        return std::string("TEXT");
      default:
        return Status::NotImplemented(type.ToString());
    }
  }
  Result<std::string> KeyColumnType(const arrow::DataType& type) const override {
    if (type.id() == arrow::Type::STRING) return std::string("VARCHAR(255)");
    return ColumnType(type);
  }
};

TEST(CreateTableSql, QuotesNamesAndKeysTheTable) {
  TestDialect dialect;
  auto schema = arrow::schema(
      {arrow::field("site \"a\"", arrow::utf8()), arrow::field("n", arrow::int64())});
  auto sql = CreateTableSql(dialect, "metrics.per site", *schema, {"site \"a\""});
  ASSERT_TRUE(sql.ok()) << sql.status().ToString();
  EXPECT_EQ(*sql,
            "CREATE TABLE IF NOT EXISTS \"metrics\".\"per site\" (\"site \"\"a\"\"\" "
            "VARCHAR(255) NOT NULL, \"n\" BIGINT, PRIMARY KEY (\"site \"\"a\"\"\"))");
  EXPECT_EQ(dialect.QuoteLiteral("it's"), "'it''s'");
}

TEST(CreateTableSql, NamesAFieldWithoutAColumnType) {
  TestDialect dialect;
  auto schema = arrow::schema({arrow::field("tags", arrow::list(arrow::utf8()))});
  auto sql = CreateTableSql(dialect, "t", *schema, {});
  ASSERT_FALSE(sql.ok());
  EXPECT_NE(sql.status().message().find("field 'tags'"), std::string::npos);
  EXPECT_NE(sql.status().message().find("TestDB"), std::string::npos);
}

Result<TableOptions> ReadOptions(const std::string& yaml,
                                 const std::shared_ptr<arrow::Schema>& schema) {
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSink;
  spec.name = "testdb";
  spec.options = TableOptionSpecs();
  SLUICE_ASSIGN_OR_RAISE(auto options,
                         config::ValidateOptions(spec, YAML::Load(yaml), "p.yaml", {"connector"}));
  return TableOptionsFromConfig(options, schema);
}

TEST(TableOptions, AnUpsertStreamUpsertsOnItsKeyByDefault) {
  auto schema = arrow::schema({arrow::field("symbol", arrow::utf8()),
                               arrow::field("volume_sum", arrow::int64())},
                              arrow::key_value_metadata({"sluice.upsert_key"}, {"symbol"}));
  auto options = ReadOptions("{table: totals}", schema);
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->mode, WriteMode::kUpsert);
  EXPECT_EQ(options->key, std::vector<std::string>{"symbol"});
  auto inserting = ReadOptions("{table: totals, mode: insert}", schema);
  ASSERT_TRUE(inserting.ok());
  EXPECT_EQ(inserting->mode, WriteMode::kInsert);
}

TEST(TableOptions, AnUpsertNeedsAKeyThatExists) {
  auto schema = arrow::schema({arrow::field("symbol", arrow::utf8())});
  auto keyless = ReadOptions("{table: t, mode: upsert}", schema);
  ASSERT_FALSE(keyless.ok());
  EXPECT_NE(keyless.status().message().find("p.yaml:1:"), std::string::npos);
  EXPECT_NE(keyless.status().message().find("needs a key"), std::string::npos);
  auto misspelt = ReadOptions("{table: t, mode: upsert, key: [symbl]}", schema);
  ASSERT_FALSE(misspelt.ok());
  EXPECT_NE(misspelt.status().message().find("'symbl' is not in the stream"), std::string::npos);
  EXPECT_NE(misspelt.status().message().find("symbol"), std::string::npos);
}

}  // namespace
}  // namespace sluice::connectors::sql
