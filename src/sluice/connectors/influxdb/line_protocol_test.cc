#include "sluice/connectors/influxdb/line_protocol.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace sluice::connectors::influxdb {
namespace {

std::string Escaped(std::string_view text, Element element) {
  std::string out;
  AppendEscaped(text, element, &out);
  return out;
}

std::string Quoted(std::string_view text) {
  std::string out;
  AppendStringField(text, &out);
  return out;
}

TEST(LineProtocolEscapingTest, MeasurementEscapesCommasAndSpacesOnly) {
  EXPECT_EQ(Escaped("cpu load,a=b", Element::kMeasurement), "cpu\\ load\\,a=b");
  EXPECT_EQ(Escaped("caf\xc3\xa9 \"x\"", Element::kMeasurement), "caf\xc3\xa9\\ \"x\"");
  // A backslash stays literal, also before an escaped character.
  EXPECT_EQ(Escaped("a\\b", Element::kMeasurement), "a\\b");
  EXPECT_EQ(Escaped("a\\,b", Element::kMeasurement), "a\\\\,b");
}

TEST(LineProtocolEscapingTest, KeysAndTagValuesEscapeEqualsSignsToo) {
  for (Element element : {Element::kTagKey, Element::kTagValue, Element::kFieldKey}) {
    EXPECT_EQ(Escaped("a b,c=d", element), "a\\ b\\,c\\=d");
    EXPECT_EQ(Escaped("say \"hi\"", element), "say\\ \"hi\"");
    EXPECT_EQ(Escaped("tab\there", element), "tab\there");
  }
}

TEST(LineProtocolEscapingTest, StringFieldsEscapeQuotesAndBackslashes) {
  EXPECT_EQ(Quoted(""), "\"\"");
  EXPECT_EQ(Quoted("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(Quoted("C:\\dir\\"), "\"C:\\\\dir\\\\\"");
  EXPECT_EQ(Quoted("a,b c=d"), "\"a,b c=d\"");
  EXPECT_EQ(Quoted("two\nlines"), "\"two\nlines\"");
}

TEST(LineProtocolEscapingTest, WhatCannotBeWritten) {
  EXPECT_NE(WhyUnwritable("", Element::kTagKey), "");
  EXPECT_NE(WhyUnwritable("a\nb", Element::kTagValue), "");
  EXPECT_NE(WhyUnwritable("ends\\", Element::kFieldKey), "");
  EXPECT_NE(WhyUnwritable("#comment", Element::kMeasurement), "");
  EXPECT_EQ(WhyUnwritable("#tag", Element::kTagValue), "");
  EXPECT_EQ(WhyUnwritable("in\\side", Element::kMeasurement), "");
  EXPECT_EQ(WhyUnwritable("caf\xc3\xa9", Element::kMeasurement), "");
}

std::shared_ptr<arrow::RecordBatch> Batch(
    std::vector<std::pair<std::shared_ptr<arrow::Field>, std::string>> columns) {
  arrow::FieldVector fields;
  arrow::ArrayVector arrays;
  for (auto& [field, json] : columns) {
    fields.push_back(field);
    arrays.push_back(arrow::json::ArrayFromJSONString(field->type(), json).ValueOrDie());
  }
  int64_t rows = arrays.empty() ? 0 : arrays.front()->length();
  return arrow::RecordBatch::Make(arrow::schema(fields), rows, arrays);
}

RenderedLines Render(PointLayout layout, const arrow::RecordBatch& batch) {
  auto renderer = LineRenderer::Make(std::move(layout), *batch.schema());
  EXPECT_TRUE(renderer.ok()) << renderer.status().ToString();
  auto lines = (*renderer)->Render(batch);
  EXPECT_TRUE(lines.ok()) << lines.status().ToString();
  return std::move(*lines);
}

TEST(LineRendererTest, EveryTypeAndNulls) {
  auto batch = Batch({
      {arrow::field("host", arrow::utf8()), R"(["a b", "x,y=z", null])"},
      {arrow::field("zone", arrow::int32()), R"([1, null, -3])"},
      {arrow::field("i", arrow::int64()), R"([-9223372036854775808, 2, null])"},
      {arrow::field("u", arrow::uint64()), R"([18446744073709551615, 7, 0])"},
      {arrow::field("f", arrow::float64()), R"([0.1, 1e300, -2])"},
      {arrow::field("g", arrow::float32()), R"([0.1, null, 3.5])"},
      {arrow::field("ok", arrow::boolean()), R"([true, false, null])"},
      {arrow::field("s", arrow::utf8()), R"(["q\"uote\\", "", "l1\nl2"])"},
      {arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MILLI)), R"([1500, -1, 0])"},
  });
  PointLayout layout;
  layout.measurement = "m 1";
  layout.tags = {"zone", "host"};
  layout.time_field = "ts";
  auto lines = Render(layout, *batch);
  ASSERT_EQ(lines.rejected.size(), 1u);
  EXPECT_EQ(lines.rejected[0].first, 0);  // uint64 above int64
  EXPECT_NE(lines.rejected[0].second.find("'u'"), std::string::npos);
  ASSERT_EQ(lines.num_lines(), 2u);
  EXPECT_EQ(lines.rows, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(lines.Line(0), "m\\ 1,host=x\\,y\\=z i=2i,u=7i,f=1e+300,ok=false,s=\"\" -1000000\n");
  EXPECT_EQ(lines.Line(1), "m\\ 1,zone=-3 u=0i,f=-2,g=3.5,s=\"l1\nl2\" 0\n");
  EXPECT_EQ(lines.text, std::string(lines.Line(0)) + std::string(lines.Line(1)));
}

TEST(LineRendererTest, TagsAreSortedAndEmptyTagsLeftOut) {
  auto batch = Batch({
      {arrow::field("b", arrow::utf8()), R"(["1", ""])"},
      {arrow::field("a", arrow::boolean()), R"([true, null])"},
      {arrow::field("v", arrow::int16()), R"([5, 6])"},
  });
  PointLayout layout;
  layout.measurement = "m";
  layout.tags = {"b", "a"};
  auto lines = Render(layout, *batch);
  ASSERT_EQ(lines.num_lines(), 2u);
  EXPECT_EQ(lines.Line(0), "m,a=true,b=1 v=5i\n");
  EXPECT_EQ(lines.Line(1), "m v=6i\n");
}

TEST(LineRendererTest, RowsThatMakeNoPoint) {
  auto batch = Batch({
      {arrow::field("name", arrow::utf8()), R"(["cpu", null, "#c", "mem", "disk", "net"])"},
      {arrow::field("t", arrow::utf8()), R"(["x", "x", "x", "bad\\", "x", "x"])"},
      {arrow::field("v", arrow::float64()), R"([1, 2, 3, 4, null, NaN])"},
      {arrow::field("ts", arrow::timestamp(arrow::TimeUnit::NANO)), R"([1, 2, 3, 4, 5, null])"},
  });
  PointLayout layout;
  layout.measurement_field = "name";
  layout.tags = {"t"};
  layout.time_field = "ts";
  layout.precision = Precision::kNanoseconds;
  auto lines = Render(layout, *batch);
  ASSERT_EQ(lines.num_lines(), 1u);
  EXPECT_EQ(lines.Line(0), "cpu,t=x v=1 1\n");
  ASSERT_EQ(lines.rejected.size(), 5u);
  EXPECT_NE(lines.rejected[0].second.find("measurement field 'name' is null"), std::string::npos);
  EXPECT_NE(lines.rejected[1].second.find("comment"), std::string::npos);
  EXPECT_NE(lines.rejected[2].second.find("backslash"), std::string::npos);
  EXPECT_NE(lines.rejected[3].second.find("a point needs at least one"), std::string::npos);
  EXPECT_EQ(lines.rejected[4].first, 5);  // NaN and a null time: one dead letter
}

TEST(LineRendererTest, PrecisionFloorsFinerTimesAndScalesCoarserOnes) {
  auto batch = Batch({
      {arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")),
       R"([1999999, -1, 2000000])"},
      {arrow::field("v", arrow::int8()), R"([1, 2, 3])"},
  });
  PointLayout layout;
  layout.measurement = "m";
  layout.time_field = "ts";
  layout.precision = Precision::kSeconds;
  auto lines = Render(layout, *batch);
  EXPECT_EQ(lines.text, "m v=1i 1\nm v=2i -1\nm v=3i 2\n");
  layout.precision = Precision::kNanoseconds;
  lines = Render(layout, *batch);
  EXPECT_EQ(lines.text, "m v=1i 1999999000\nm v=2i -1000\nm v=3i 2000000000\n");
}

TEST(LineRendererTest, DefaultFieldsSkipTypesThatCannotBeFields) {
  auto batch = Batch({
      {arrow::field("host", arrow::utf8()), R"(["h"])"},
      {arrow::field("day", arrow::date32()), R"([1])"},
      {arrow::field("v", arrow::uint8()), R"([200])"},
      {arrow::field("w", arrow::large_utf8()), R"(["x y"])"},
  });
  PointLayout layout;
  layout.measurement = "m";
  layout.tags = {"host"};
  auto renderer = LineRenderer::Make(layout, *batch->schema());
  ASSERT_TRUE(renderer.ok());
  EXPECT_EQ((*renderer)->field_names(), (std::vector<std::string>{"v", "w"}));
  auto lines = (*renderer)->Render(*batch);
  ASSERT_TRUE(lines.ok());
  EXPECT_EQ(lines->text, "m,host=h v=200i,w=\"x y\"\n");
}

TEST(LineRendererTest, DictionaryStringsAreDecoded) {
  auto type = arrow::dictionary(arrow::int32(), arrow::utf8());
  auto tags = arrow::json::DictArrayFromJSONString(type, "[0, 1, 0]", R"(["eu west", "us"])")
                  .ValueOrDie();
  auto values = arrow::json::ArrayFromJSONString(arrow::int64(), "[1, 2, 3]").ValueOrDie();
  auto batch = arrow::RecordBatch::Make(
      arrow::schema({arrow::field("region", type), arrow::field("v", arrow::int64())}), 3,
      {tags, values});
  PointLayout layout;
  layout.measurement = "m";
  layout.tags = {"region"};
  auto lines = Render(layout, *batch);
  EXPECT_EQ(lines.text, "m,region=eu\\ west v=1i\nm,region=us v=2i\nm,region=eu\\ west v=3i\n");
}

TEST(LineRendererTest, LayoutErrorsNameTheOption) {
  auto batch = Batch({
      {arrow::field("time", arrow::int64()), R"([1])"},
      {arrow::field("when", arrow::timestamp(arrow::TimeUnit::SECOND)), R"([1])"},
      {arrow::field("list", arrow::list(arrow::int32())), R"([[1]])"},
      {arrow::field("v", arrow::float64()), R"([1])"},
  });
  auto error = [&](PointLayout layout) {
    layout.measurement = "m";
    auto renderer = LineRenderer::Make(std::move(layout), *batch->schema());
    return renderer.ok() ? std::string("ok") : renderer.status().message();
  };
  PointLayout layout;
  layout.time_field = "when";
  EXPECT_EQ(error(layout).rfind("fields: InfluxDB refuses a tag or field named 'time'", 0), 0u)
      << error(layout);
  layout.time_field = "time";
  EXPECT_EQ(error(layout), "ok");
  layout.tags = {"nope"};
  EXPECT_EQ(error(layout).rfind("tags: the stream has no field 'nope'", 0), 0u);
  layout.tags = {"list"};
  EXPECT_EQ(error(layout).rfind("tags: 'list' is list", 0), 0u) << error(layout);
  layout.tags = {};
  layout.fields = {"when"};
  EXPECT_EQ(error(layout).rfind("fields: 'when' is timestamp", 0), 0u) << error(layout);
  layout.fields = {"v"};
  layout.time_field = "v";
  EXPECT_EQ(error(layout).rfind("fields: 'v' is also", 0), 0u) << error(layout);
}

}  // namespace
}  // namespace sluice::connectors::influxdb
