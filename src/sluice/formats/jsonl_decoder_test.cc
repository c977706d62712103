#include "sluice/formats/jsonl_decoder.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <cmath>

#include "sluice/formats/type_names.h"

namespace sluice::formats {
namespace {

std::shared_ptr<arrow::Schema> QuoteSchema() {
  return arrow::schema({arrow::field("symbol", arrow::utf8()),
                        arrow::field("bid", arrow::float64()),
                        arrow::field("volume", arrow::int64()), arrow::field("ts", TimestampType()),
                        arrow::field("ok", arrow::boolean())});
}

TEST(JsonLinesDecoderTest, DecodesRecordsWithMissingAndExtraFields) {
  auto decoder = *JsonLinesDecoder::Make(QuoteSchema());
  std::vector<exec::DeadLetter> rejected;
  auto batch = *decoder->Decode(
      {R"({"symbol":"A","bid":1.5,"volume":10,"ts":"2024-03-01T00:00:00Z","ok":true,"extra":[1,2]})",
       R"({"symbol":"B"})", R"({"bid":2,"volume":"7","ts":1709251200000,"ok":null})"},
      nullptr, &rejected);
  EXPECT_TRUE(rejected.empty());
  ASSERT_EQ(batch->num_rows(), 3);
  auto symbol = std::static_pointer_cast<arrow::StringArray>(batch->column(0));
  auto bid = std::static_pointer_cast<arrow::DoubleArray>(batch->column(1));
  auto volume = std::static_pointer_cast<arrow::Int64Array>(batch->column(2));
  auto ts = std::static_pointer_cast<arrow::TimestampArray>(batch->column(3));
  EXPECT_EQ(symbol->GetView(0), "A");
  EXPECT_EQ(bid->Value(0), 1.5);
  EXPECT_TRUE(bid->IsNull(1));
  EXPECT_TRUE(symbol->IsNull(2));
  EXPECT_EQ(bid->Value(2), 2.0);
  EXPECT_EQ(volume->Value(2), 7);
  EXPECT_EQ(ts->Value(0), ts->Value(2));
  EXPECT_TRUE(batch->column(4)->IsNull(2));
}

TEST(JsonLinesDecoderTest, BadRecordsAreDeadLettersAndOthersGoOn) {
  auto decoder = *JsonLinesDecoder::Make(QuoteSchema());
  std::vector<exec::DeadLetter> rejected;
  std::vector<std::string_view> records = {
      R"({"symbol":"A","volume":1})",      R"({"symbol":"B","volume":)",
      R"({"symbol":"C","volume":"lots"})", R"([1,2])",
      R"({"symbol":"D","volume":2.5})",    R"({"symbol":"E","volume":3.0})"};
  auto batch = *decoder->Decode(
      records, [](size_t i) { return "msg " + std::to_string(i); }, &rejected);
  ASSERT_EQ(batch->num_rows(), 2);
  EXPECT_EQ(std::static_pointer_cast<arrow::StringArray>(batch->column(0))->GetView(1), "E");
  ASSERT_EQ(rejected.size(), 4u);
  EXPECT_EQ(rejected[0].origin, "msg 1");
  EXPECT_NE(rejected[0].reason.find("invalid JSON"), std::string::npos);
  EXPECT_EQ(rejected[0].record, records[1]);
  EXPECT_NE(rejected[1].reason.find("field 'volume'"), std::string::npos) << rejected[1].reason;
  EXPECT_NE(rejected[1].reason.find("int64"), std::string::npos);
  EXPECT_EQ(rejected[2].reason, "not a JSON object");
  EXPECT_EQ(rejected[3].origin, "msg 4");
}

TEST(JsonLinesDecoderTest, SingleMessageApi) {
  auto decoder = *JsonLinesDecoder::Make(QuoteSchema());
  std::vector<exec::DeadLetter> rejected;
  auto batch = *decoder->Decode(R"({"symbol":"A"})", "topic/0@17", &rejected);
  EXPECT_EQ(batch->num_rows(), 1);
  batch = *decoder->Decode("nope", "topic/0@18", &rejected);
  EXPECT_EQ(batch->num_rows(), 0);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].origin, "topic/0@18");
}

TEST(JsonLinesDecoderTest, InfersSchema) {
  auto schema = JsonLinesDecoder::InferSchema(
      {R"({"a":1,"b":"x","c":true,"d":{"k":1},"t":"2024-03-01T10:00:00Z"})",
       R"({"a":2.5,"b":null,"e":null,"f":"2024-03-01"})", "garbage"});
  ASSERT_EQ(schema->num_fields(), 7);
  EXPECT_TRUE(schema->GetFieldByName("a")->type()->Equals(arrow::float64()));
  EXPECT_TRUE(schema->GetFieldByName("b")->type()->Equals(arrow::utf8()));
  EXPECT_TRUE(schema->GetFieldByName("c")->type()->Equals(arrow::boolean()));
  EXPECT_TRUE(schema->GetFieldByName("d")->type()->Equals(arrow::utf8()));
  EXPECT_TRUE(schema->GetFieldByName("t")->type()->Equals(TimestampType()));
  EXPECT_TRUE(schema->GetFieldByName("e")->type()->Equals(arrow::utf8()));
  EXPECT_TRUE(schema->GetFieldByName("f")->type()->Equals(arrow::date32()));
  // A nested value bound for a string field keeps its JSON text.
  auto decoder = *JsonLinesDecoder::Make(schema);
  std::vector<exec::DeadLetter> rejected;
  auto batch = *decoder->Decode(R"({"d":{"k":[1,"x"]}})", "m", &rejected);
  EXPECT_EQ(std::static_pointer_cast<arrow::StringArray>(batch->GetColumnByName("d"))->GetView(0),
            R"({"k":[1,"x"]})");
}

/// The JSON lines writer spells NaN and the infinities as strings; next to numbers they make a
/// double field, and they read back into one.
TEST(JsonLinesDecoderTest, ReadsNonFiniteNumbersBack) {
  auto schema = JsonLinesDecoder::InferSchema({R"({"x":1,"y":"NaN","z":"nan"})",
                                               R"({"x":"NaN","y":"Infinity","z":2.5})",
                                               R"({"x":"-Infinity","y":null,"z":1})"});
  EXPECT_TRUE(schema->GetFieldByName("x")->type()->Equals(arrow::float64()));
  EXPECT_TRUE(schema->GetFieldByName("y")->type()->Equals(arrow::float64()));
  // Only the writer's spellings count: "nan" is text.
  EXPECT_TRUE(schema->GetFieldByName("z")->type()->Equals(arrow::utf8()));
  auto decoder = *JsonLinesDecoder::Make(arrow::schema({arrow::field("x", arrow::float64())}));
  std::vector<exec::DeadLetter> rejected;
  auto batch = *decoder->Decode(
      {R"({"x":"NaN"})", R"({"x":"Infinity"})", R"({"x":"-Infinity"})"},
      [](size_t i) { return std::to_string(i); }, &rejected);
  EXPECT_TRUE(rejected.empty());
  auto x = std::static_pointer_cast<arrow::DoubleArray>(batch->column(0));
  ASSERT_EQ(x->length(), 3);
  EXPECT_TRUE(std::isnan(x->Value(0)));
  EXPECT_EQ(x->Value(1), INFINITY);
  EXPECT_EQ(x->Value(2), -INFINITY);
}

TEST(JsonLinesDecoderTest, IntegerRangesAreChecked) {
  auto schema =
      arrow::schema({arrow::field("small", arrow::int8()), arrow::field("big", arrow::uint64()),
                     arrow::field("f", arrow::float32())});
  auto decoder = *JsonLinesDecoder::Make(schema);
  std::vector<exec::DeadLetter> rejected;
  auto batch = *decoder->Decode(
      {R"({"small":127,"big":18446744073709551615,"f":0.1})", R"({"small":128})", R"({"big":-1})"},
      nullptr, &rejected);
  ASSERT_EQ(batch->num_rows(), 1);
  EXPECT_EQ(rejected.size(), 2u);
  EXPECT_EQ(std::static_pointer_cast<arrow::UInt64Array>(batch->column(1))->Value(0), UINT64_MAX);
  EXPECT_EQ(std::static_pointer_cast<arrow::FloatArray>(batch->column(2))->Value(0), 0.1f);
}

}  // namespace
}  // namespace sluice::formats
