#include "sluice/formats/time_text.h"

#include <arrow/type.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

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

TEST(TimeTextTest, ParsesFormattedText) {
  EXPECT_EQ(ParseFormattedTime("01/03/2024 00:00", "%d/%m/%Y %H:%M"), kMarch1);
  EXPECT_EQ(ParseFormattedTime("1/3/2024 1:30", "%d/%m/%Y %H:%M"), kMarch1 + 5400000000LL);
  EXPECT_EQ(ParseFormattedTime("20240301T013000+0130", "%Y%m%dT%H%M%S%z"), kMarch1);
  EXPECT_EQ(ParseFormattedTime("Mar 1, 2024 12:00:00.25 AM", "%b %d, %Y %I:%M:%S.%f %p"),
            kMarch1 + 250000);
  EXPECT_EQ(ParseFormattedTime("Friday 1 March 24 1:00 PM UTC", "%A %e %B %y %I:%M %p %Z"),
            kMarch1 + 13 * 3600000000LL);
  EXPECT_EQ(ParseFormattedTime("2024-061", "%Y-%j"), kMarch1);  // 2024 is a leap year
  EXPECT_EQ(ParseFormattedTime("2024-03-01 00:00:00", "%F %T"), kMarch1);
  EXPECT_EQ(ParseFormattedTime("1709251200", "%s"), kMarch1);
  EXPECT_EQ(ParseFormattedTime("100%", "100%%"), 0);  // no fields: the epoch
  for (const auto& [text, format] : std::vector<std::pair<const char*, const char*>>{
           {"31/02/2024 00:00", "%d/%m/%Y %H:%M"},
           {"01/03/2024", "%d/%m/%Y %H:%M"},
           {"01/03/2024 00:00 extra", "%d/%m/%Y %H:%M"},
           {"2024-03-01", "%d/%m/%Y"},
           {"13:00 PM", "%I:%M %p"},
           {"2023-366", "%Y-%j"}}) {
    EXPECT_EQ(ParseFormattedTime(text, format), std::nullopt) << text << " as " << format;
  }
}

TEST(TimeTextTest, ChecksFormats) {
  EXPECT_TRUE(CheckTimeFormat("%d/%m/%Y %H:%M").ok());
  EXPECT_TRUE(CheckTimeFormat("%FT%T%z").ok());
  EXPECT_FALSE(CheckTimeFormat("%Q").ok());
  EXPECT_FALSE(CheckTimeFormat("%Y%").ok());
  EXPECT_FALSE(CheckTimeFormat("dd/mm/yyyy").ok());
}

TEST(TimeTextTest, EpochUnitsAreTakenAsGiven) {
  // 1709251200 read as seconds by magnitude; as milliseconds when so declared.
  EXPECT_EQ(EpochToMicros(int64_t{1709251200}, std::nullopt), kMarch1);
  EXPECT_EQ(EpochToMicros(int64_t{1709251200}, arrow::TimeUnit::MILLI), 1709251200LL * 1000);
  EXPECT_EQ(EpochToMicros(int64_t{1709251200}, arrow::TimeUnit::SECOND), kMarch1);
  EXPECT_EQ(EpochToMicros(int64_t{5}, arrow::TimeUnit::MICRO), 5);
  EXPECT_EQ(EpochToMicros(int64_t{-1500}, arrow::TimeUnit::NANO), -2);
  EXPECT_EQ(EpochToMicros(1.5, arrow::TimeUnit::MILLI), 1500);
  EXPECT_EQ(EpochToMicros(std::numeric_limits<int64_t>::max(), arrow::TimeUnit::SECOND),
            std::nullopt);
  TimeReading millis{arrow::TimeUnit::MILLI, ""};
  EXPECT_EQ(ParseTimestampText("1709251200000", millis), kMarch1);
  EXPECT_EQ(ParseTimestampText("2024-03-01T00:00:00Z", millis), kMarch1);  // ISO still reads
  TimeReading formatted{std::nullopt, "%d.%m.%Y"};
  EXPECT_EQ(ParseDateText("01.03.2024", formatted), 19783);
  EXPECT_EQ(ParseDateText("2024-03-01", formatted), std::nullopt);
}

TEST(TypeNamesTest, EpochUnitTypesAreMicrosecondTimestamps) {
  for (const auto& [name, unit] : std::vector<std::pair<const char*, arrow::TimeUnit::type>>{
           {"timestamp_s", arrow::TimeUnit::SECOND},
           {"timestamp_ms", arrow::TimeUnit::MILLI},
           {"TIMESTAMP_US", arrow::TimeUnit::MICRO},
           {"timestamp_ns", arrow::TimeUnit::NANO}}) {
    auto declared = ParseDeclaredType(name);
    ASSERT_TRUE(declared.ok()) << name;
    EXPECT_TRUE(declared->type->Equals(*TimestampType())) << name;
    EXPECT_EQ(declared->epoch_unit, unit) << name;
  }
  EXPECT_EQ(ParseDeclaredType("timestamp")->epoch_unit, std::nullopt);
  auto unknown = ParseDeclaredType("timestamp_sec");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("timestamp_s"), std::string::npos);
  // Not a type of its own: cast keeps to plain type names.
  EXPECT_FALSE(ParseTypeName("timestamp_ms").ok());
}

}  // namespace
}  // namespace sluice::formats
