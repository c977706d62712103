// The MySQL sink's parts that need no server: URL parsing, the dialect's column types and the
// SQL literals rows are written as. The sink against a real server is tested by
// tests/integration/mysql.

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>

#include <string>

#include "sluice/connectors/mysql/mysql_dialect.h"
#include "sluice/connectors/mysql/mysql_url.h"
#include "sluice/connectors/mysql/mysql_values.h"
#include "sluice/connectors/sql/dialect.h"
#include "sluice/testing/connector_from_yaml.h"

namespace sluice::connectors::mysql {
namespace {

TEST(MySqlUrl, ParsesEveryPart) {
  auto target = ParseMySqlUrl("mysql://sluice:s%40cret%3A%2F@db.example:3307/metrics");
  ASSERT_TRUE(target.ok()) << target.status().ToString();
  EXPECT_EQ(target->user, "sluice");
  EXPECT_EQ(target->password, "s@cret:/");
  EXPECT_EQ(target->host, "db.example");
  EXPECT_EQ(target->port, 3307);
  EXPECT_EQ(target->database, "metrics");
  EXPECT_EQ(target->Describe(), "mysql://sluice@db.example:3307/metrics");
}

TEST(MySqlUrl, DefaultsAndIpv6) {
  auto target = ParseMySqlUrl("mariadb://root@[::1]");
  ASSERT_TRUE(target.ok()) << target.status().ToString();
  EXPECT_EQ(target->host, "::1");
  EXPECT_EQ(target->port, 3306);
  EXPECT_EQ(target->password, "");
  EXPECT_EQ(target->database, "");
  EXPECT_EQ(target->Describe(), "mysql://root@[::1]:3306/");
}

TEST(MySqlUrl, AnUnencodedAtInThePasswordStillParses) {
  auto target = ParseMySqlUrl("mysql://u:p@ss@127.0.0.1/db");
  ASSERT_TRUE(target.ok()) << target.status().ToString();
  EXPECT_EQ(target->password, "p@ss");
  EXPECT_EQ(target->host, "127.0.0.1");
}

TEST(MySqlUrl, ErrorsNeverShowThePassword) {
  for (const char* url :
       {"postgresql://u:hunter2@h/db", "mysql://u:hunter2@/db", "mysql://u:hunter2@h:99999/db",
        "mysql://u:hunter2@h:1/a/b", "mysql://u:hunter2%zz@h/db", "mysql://u:hunter2@h/db?x=1",
        "mysql://u:hunter2@[::1/db"}) {
    auto target = ParseMySqlUrl(url);
    ASSERT_FALSE(target.ok()) << url;
    EXPECT_EQ(target.status().message().find("hunter2"), std::string::npos)
        << target.status().message();
  }
}

TEST(MySqlDialect, QuotesWithBackquotesAndEscapesLiterals) {
  const MySqlDialect& dialect = MySqlDialect::Get();
  EXPECT_EQ(dialect.QuoteIdentifier("a`b"), "`a``b`");
  EXPECT_EQ(dialect.QuoteTable("metrics.readings"), "`metrics`.`readings`");
  EXPECT_EQ(dialect.QuoteLiteral("it's a\\b"), "'it\\'s a\\\\b'");
}

TEST(MySqlDialect, MapsArrowTypes) {
  const MySqlDialect& dialect = MySqlDialect::Get();
  auto type = [&](const std::shared_ptr<arrow::DataType>& arrow_type) {
    auto result = dialect.ColumnType(*arrow_type);
    return result.ok() ? *result : "error: " + result.status().message();
  };
  EXPECT_EQ(type(arrow::int8()), "TINYINT");
  EXPECT_EQ(type(arrow::uint64()), "BIGINT UNSIGNED");
  EXPECT_EQ(type(arrow::float32()), "FLOAT");
  EXPECT_EQ(type(arrow::float64()), "DOUBLE");
  EXPECT_EQ(type(arrow::boolean()), "BOOLEAN");
  EXPECT_EQ(type(arrow::utf8()), "TEXT CHARACTER SET utf8mb4");
  EXPECT_EQ(type(arrow::large_utf8()), "LONGTEXT CHARACTER SET utf8mb4");
  EXPECT_EQ(type(arrow::binary()), "LONGBLOB");
  EXPECT_EQ(type(arrow::date32()), "DATE");
  EXPECT_EQ(type(arrow::timestamp(arrow::TimeUnit::NANO, "UTC")), "DATETIME(6)");
  EXPECT_EQ(type(arrow::decimal128(20, 4)), "DECIMAL(20,4)");
  EXPECT_TRUE(dialect.ColumnType(*arrow::list(arrow::int32())).status().IsNotImplemented());
  EXPECT_TRUE(dialect.ColumnType(*arrow::decimal256(70, 2)).status().IsNotImplemented());
  EXPECT_EQ(*dialect.KeyColumnType(*arrow::utf8()),
            "VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin");
  EXPECT_EQ(*MySqlDialect(MySqlDialect::Server::kMySql8).KeyColumnType(*arrow::utf8()),
            "VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_bin");
  EXPECT_EQ(*dialect.KeyColumnType(*arrow::int64()), "BIGINT");
}

TEST(MySqlDialect, CreatesTablesWithBoundedKeys) {
  auto schema = arrow::schema({arrow::field("symbol", arrow::utf8()),
                               arrow::field("total", arrow::float64()),
                               arrow::field("note", arrow::utf8())});
  auto sql = sql::CreateTableSql(MySqlDialect::Get(), "totals", *schema, {"symbol"});
  ASSERT_TRUE(sql.ok()) << sql.status().ToString();
  EXPECT_EQ(*sql,
            "CREATE TABLE IF NOT EXISTS `totals` (`symbol` VARCHAR(255) CHARACTER SET utf8mb4 "
            "COLLATE utf8mb4_nopad_bin NOT NULL, `total` DOUBLE, `note` TEXT CHARACTER SET "
            "utf8mb4, PRIMARY KEY (`symbol`))");
  auto bad = arrow::schema({arrow::field("tags", arrow::list(arrow::utf8()))});
  auto refused = sql::CreateTableSql(MySqlDialect::Get(), "t", *bad, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("'tags'"), std::string::npos);
}

/// The rendered tuple of row `row` of a one-column batch of `type` from JSON.
std::string Render(const std::shared_ptr<arrow::DataType>& type, const std::string& json,
                   int64_t row = 0, std::string* reason = nullptr) {
  auto array = arrow::json::ArrayFromJSONString(type, json).ValueOrDie();
  auto renderer = RowRenderer::Make(*arrow::schema({arrow::field("v", type)})).ValueOrDie();
  Escape escape = [](std::string_view text, std::string* out) {
    *out += MySqlDialect::Get().QuoteLiteral(text).substr(1, std::string::npos);
    out->pop_back();
  };
  std::string out;
  std::string why;
  if (!renderer.AppendRow({array}, row, escape, &out, &why)) {
    if (reason != nullptr) *reason = why;
    return "refused";
  }
  return out;
}

TEST(MySqlValues, RendersLiterals) {
  EXPECT_EQ(Render(arrow::int64(), "[-9223372036854775808]"), "(-9223372036854775808)");
  EXPECT_EQ(Render(arrow::uint64(), "[18446744073709551615]"), "(18446744073709551615)");
  EXPECT_EQ(Render(arrow::float64(), "[0.1]"), "(0.1)");
  EXPECT_EQ(Render(arrow::float64(), "[1e300]"), "(1e+300)");
  EXPECT_EQ(Render(arrow::float32(), "[0.1]"), "(0.1)");
  EXPECT_EQ(Render(arrow::boolean(), "[true]"), "(TRUE)");
  EXPECT_EQ(Render(arrow::utf8(), "[null]"), "(NULL)");
  EXPECT_EQ(Render(arrow::utf8(), R"(["it's"])"), "('it\\'s')");
  EXPECT_EQ(Render(arrow::binary(), R"(["\u0000\u00ff"])"), "(X'00C3BF')");
  EXPECT_EQ(Render(arrow::binary(), R"([""])"), "('')");
  EXPECT_EQ(Render(arrow::date32(), "[-1]"), "('1969-12-31')");
  EXPECT_EQ(Render(arrow::timestamp(arrow::TimeUnit::NANO, "UTC"), "[-1]"),
            "('1969-12-31 23:59:59.999999')");
  EXPECT_EQ(Render(arrow::timestamp(arrow::TimeUnit::SECOND), "[1700000000]"),
            "('2023-11-14 22:13:20.000000')");
  EXPECT_EQ(Render(arrow::decimal128(10, 3), R"(["-12.345"])"), "(-12.345)");
}

TEST(MySqlValues, RefusesWhatTheServerCannotStore) {
  std::string reason;
  EXPECT_EQ(Render(arrow::float64(), "[NaN]", 0, &reason), "refused");
  EXPECT_NE(reason.find("field 'v'"), std::string::npos) << reason;
  EXPECT_EQ(Render(arrow::date32(), "[3000000]", 0, &reason), "refused");
  EXPECT_NE(reason.find("year"), std::string::npos) << reason;
  EXPECT_FALSE(RowRenderer::Make(*arrow::schema({arrow::field("l", arrow::list(arrow::int8()))}))
                   .ok());
}

TEST(MySqlSinkConfig, BadOptionsAreErrorsAtTheirPlaceWithoutThePassword) {
  exec::ConnectorContext context;
  context.name = "out";
  context.input_schema = arrow::schema({arrow::field("id", arrow::int64()),
                                        arrow::field("tags", arrow::list(arrow::utf8()))});
  auto sink = testing::SinkFromYaml("mysql", "{url: 'mysql://u:hunter2@h:0/db', table: t}", context);
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("test.yaml:1:7: error: bad MySQL URL: bad port"),
            std::string::npos)
      << sink.status().message();
  EXPECT_EQ(sink.status().message().find("hunter2"), std::string::npos);
  sink = testing::SinkFromYaml("mysql", "{url: 'mysql://u:hunter2@h/db', table: t}", context);
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("field 'tags'"), std::string::npos)
      << sink.status().message();
  sink = testing::SinkFromYaml("mariadb", "{url: 'mysql://u@h', table: t}", context);
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("database.table"), std::string::npos)
      << sink.status().message();
  context.input_schema = arrow::schema({arrow::field("id", arrow::int64())});
  sink = testing::SinkFromYaml("mysql", "{url: 'mysql://u:p@h/db', table: t, mode: upsert}",
                               context);
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("needs a key"), std::string::npos);
  // Building the sink does not connect.
  sink = testing::SinkFromYaml("mysql", "{url: 'mysql://u:p@h/db', table: t, key: [id]}",
                               context);
  EXPECT_TRUE(sink.ok()) << sink.status().ToString();
}

}  // namespace
}  // namespace sluice::connectors::mysql
