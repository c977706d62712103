// What PgConnection's errors may say: passwords taken out of URLs, keyword strings and libpq
// messages; the SQLSTATE read back from a status. Connections themselves are tested against a
// real server (tests/integration/postgres).

#include <gtest/gtest.h>

#include <string>

#include "sluice/connectors/postgres/pg_connection.h"

namespace sluice::connectors::postgres {
namespace {

TEST(PgRedact, UrlKeepsUserHostAndOptionsButNotThePassword) {
  EXPECT_EQ(RedactUrl("postgresql://reader:s3cr%40t@db:5432/shop?sslmode=require"),
            "postgresql://reader@db:5432/shop?sslmode=require");
  EXPECT_EQ(RedactUrl("postgres://reader@db/shop"), "postgres://reader@db/shop");
  EXPECT_EQ(RedactUrl("postgresql://db/shop?password=hunter2&sslmode=disable"),
            "postgresql://db/shop?password=***&sslmode=disable");
  EXPECT_EQ(RedactUrl("host=db user=reader password=hunter2 dbname=shop"),
            "host=db user=reader password=*** dbname=shop");
}

TEST(PgRedact, MessagesLoseThePasswordInAnyForm) {
  const std::string url = "postgresql://reader:s3cr%40t@db:5432/shop";
  EXPECT_EQ(RedactPassword("invalid percent-encoded token: \"s3cr%40t\"", url),
            "invalid percent-encoded token: \"***\"");
  EXPECT_EQ(RedactPassword("decoded s3cr@t here", url), "decoded *** here");
  EXPECT_EQ(RedactPassword("see postgresql://other:pw@host/db", "x"),
            "see postgresql://other:***@host/db");
  EXPECT_EQ(RedactPassword("password=abc def", ""), "password=*** def");
  EXPECT_EQ(RedactPassword("nothing secret", url), "nothing secret");
}

TEST(PgSqlState, AndConnectionLossReadFromTheMessageWhenTheDetailIsGone) {
  EXPECT_EQ(SqlState(Status::IOError("PostgreSQL error: [23505] duplicate key value")), "23505");
  EXPECT_EQ(SqlState(Status::IOError("no state here")), "");
  EXPECT_TRUE(IsConnectionLost(Status::IOError("PostgreSQL error: [08006] gone")));
  EXPECT_FALSE(IsConnectionLost(Status::IOError("PostgreSQL error: [42P01] no table")));
}

}  // namespace
}  // namespace sluice::connectors::postgres
