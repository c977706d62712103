#include "sluice/formats/time_text.h"

#include <arrow/type.h>
#include <gtest/gtest.h>

#include <cmath>

#include "sluice/formats/type_names.h"

namespace sluice::formats {
namespace {

constexpr int64_t kMarch1 = 1709251200LL * 1000000;  // 2024-03-01T00:00:00Z in microseconds

TEST(TimeTextTest, ParsesIsoForms) {
  EXPECT_EQ(ParseTimestampText("2024-03-01"), kMarch1);
  EXPECT_EQ(ParseTimestampText("2024-03-01T00:00:00Z"), kMarch1);
  EXPECT_EQ(ParseTimestampText("2024-03-01 00:00:00"), kMarch1);
  EXPECT_EQ(ParseTimestampText("2024-03-01T00:00"), kMarch1);
  EXPECT_EQ(ParseTimestampText("2024-03-01T00:00:00.5Z"), kMarch1 + 500000);
  EXPECT_EQ(ParseTimestampText("2024-03-01T00:00:00.123456789Z"), kMarch1 + 123456);
  EXPECT_EQ(ParseTimestampText("2024-03-01T01:30:00+01:30"), kMarch1);
  EXPECT_EQ(ParseTimestampText("2024-02-29T22:00:00-0200"), kMarch1);
  EXPECT_EQ(ParseTimestampText("2024-03-01T02:00:00+02"), kMarch1);
}

TEST(TimeTextTest, RejectsMalformedText) {
  for (const char* text :
       {"", "2024-03", "2024-13-01", "2023-02-29", "2024-03-01T25:00", "2024-03-01X", "yesterday",
        "2024-03-01T00:00:00.Z", "2024-03-01T00:00:00+5"}) {
    EXPECT_FALSE(ParseTimestampText(text).has_value()) << text;
  }
}

TEST(TimeTextTest, EpochUnitFollowsMagnitude) {
  EXPECT_EQ(EpochToMicros(int64_t{1709251200}), kMarch1);           // seconds
  EXPECT_EQ(EpochToMicros(int64_t{1709251200000}), kMarch1);        // milliseconds
  EXPECT_EQ(EpochToMicros(int64_t{1709251200000000}), kMarch1);     // microseconds
  EXPECT_EQ(EpochToMicros(int64_t{1709251200000000000}), kMarch1);  // nanoseconds
  EXPECT_EQ(EpochToMicros(1709251200.25), kMarch1 + 250000);
  EXPECT_EQ(ParseTimestampText("1709251200"), kMarch1);
  EXPECT_FALSE(EpochToMicros(std::nan("")).has_value());
}

TEST(TimeTextTest, FormatsWithOnlyNeededDigits) {
  auto format = [](int64_t value, arrow::TimeUnit::type unit) {
    std::string text;
    AppendTimestampText(value, unit, true, &text);
    return text;
  };
  EXPECT_EQ(format(kMarch1, arrow::TimeUnit::MICRO), "2024-03-01T00:00:00Z");
  EXPECT_EQ(format(kMarch1 + 500000, arrow::TimeUnit::MICRO), "2024-03-01T00:00:00.5Z");
  EXPECT_EQ(format(kMarch1 + 123, arrow::TimeUnit::MICRO), "2024-03-01T00:00:00.000123Z");
  EXPECT_EQ(format(-1, arrow::TimeUnit::MICRO), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format(1, arrow::TimeUnit::NANO), "1970-01-01T00:00:00.000000001Z");
  std::string date;
  AppendDateText(19783, &date);
  EXPECT_EQ(date, "2024-03-01");
}

TEST(TimeTextTest, FormatThenParseRoundTrips) {
  for (int64_t value : {kMarch1, kMarch1 + 1, int64_t{-86400000001}, int64_t{253402300799999999}}) {
    std::string text;
    AppendTimestampText(value, arrow::TimeUnit::MICRO, true, &text);
    EXPECT_EQ(ParseTimestampText(text), value) << text;
  }
}

TEST(TypeNamesTest, ParsesNamesAndSuggests) {
  EXPECT_TRUE((*ParseTypeName("double"))->Equals(arrow::float64()));
  EXPECT_TRUE((*ParseTypeName("utf8"))->Equals(arrow::utf8()));
  EXPECT_TRUE((*ParseTypeName("Int64"))->Equals(arrow::int64()));
  EXPECT_TRUE(
      (*ParseTypeName("timestamp"))->Equals(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")));
  EXPECT_TRUE((*ParseTypeName("date"))->Equals(arrow::date32()));
  auto unknown = ParseTypeName("doubel");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("double"), std::string::npos);
  EXPECT_EQ(TypeName(*TimestampType()), "timestamp");
  EXPECT_EQ(TypeName(*arrow::float64()), "double");
}

}  // namespace
}  // namespace sluice::formats
