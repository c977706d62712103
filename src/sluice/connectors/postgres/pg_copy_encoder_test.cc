#include "sluice/connectors/postgres/pg_copy_encoder.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

namespace sluice::connectors::postgres {
namespace {

/// The bytes of `text` as space-separated hex, for readable expectations.
std::string Hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out += ' ';
    out += "0123456789abcdef"[c >> 4];
    out += "0123456789abcdef"[c & 15];
  }
  return out;
}

std::string Numeric(std::string_view text) {
  std::string out;
  EXPECT_TRUE(AppendNumericFromText(text, &out)) << text;
  return Hex(out);
}

TEST(PgNumeric, EncodesDigitsInBase10000WithWeightSignAndScale) {
  // Length 12; 2 digits, weight 1, positive, scale 0: 1 2345 -> 12345.
  EXPECT_EQ(Numeric("12345"), "00 00 00 0c 00 02 00 01 00 00 00 00 00 01 09 29");
  // -0.0012: one digit 12 at weight -1, negative, scale 4.
  EXPECT_EQ(Numeric("-0.0012"), "00 00 00 0a 00 01 ff ff 40 00 00 04 00 0c");
  // 10000.5: digits 1, 0, 5000 -> trailing and inner zeros kept only inside.
  EXPECT_EQ(Numeric("10000.5"),
            "00 00 00 0e 00 03 00 01 00 00 00 01 00 01 00 00 13 88");
  // Zero keeps its scale and has no digits.
  EXPECT_EQ(Numeric("0.00"), "00 00 00 08 00 00 00 00 00 00 00 02");
  std::string out;
  EXPECT_FALSE(AppendNumericFromText("1e5", &out));
  EXPECT_FALSE(AppendNumericFromText("-", &out));
}

TEST(PgCopyEncoder, WritesTimestampsFromThePostgresEpochAndChecksRanges) {
  auto schema = arrow::schema({arrow::field("ts", arrow::timestamp(arrow::TimeUnit::NANO)),
                               arrow::field("n", arrow::int64())});
  auto encoder = CopyEncoder::Make(
      *schema, {{"ts", oid::kTimestamptz, "timestamp with time zone"},
                {"n", oid::kInt2, "smallint"}});
  ASSERT_TRUE(encoder.ok()) << encoder.status().ToString();
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::NANO),
                             arrow::default_memory_pool());
  arrow::Int64Builder n;
  // 2000-01-01T00:00:00.000001999Z: one microsecond after PostgreSQL's epoch.
  ASSERT_TRUE(ts.Append(946684800LL * 1000000000 + 1999).ok());
  ASSERT_TRUE(n.Append(-32768).ok());
  ASSERT_TRUE(ts.AppendNull().ok());
  ASSERT_TRUE(n.Append(40000).ok());
  auto batch = arrow::RecordBatch::Make(schema, 2, {*ts.Finish(), *n.Finish()});
  std::string out;
  ASSERT_TRUE(encoder->AppendRows(*batch, 0, 1, &out).ok());
  EXPECT_EQ(Hex(out),
            "00 02 00 00 00 08 00 00 00 00 00 00 00 01 00 00 00 02 80 00");
  out.clear();
  Status status = encoder->AppendRows(*batch, 1, 1, &out);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("[22003] row 1"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("smallint"), std::string::npos);
}

TEST(PgCopyEncoder, RefusesAFieldItsColumnCannotHold) {
  auto schema = arrow::schema({arrow::field("price", arrow::float64())});
  auto encoder = CopyEncoder::Make(*schema, {{"price", oid::kText, "text"}});
  ASSERT_FALSE(encoder.ok());
  EXPECT_NE(encoder.status().message().find("field 'price' (double)"), std::string::npos);
  EXPECT_NE(encoder.status().message().find("column 'price' of type text"), std::string::npos);
}

}  // namespace
}  // namespace sluice::connectors::postgres
