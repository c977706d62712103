#include "sluice/formats/record_writer.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "sluice/formats/formats_test_support.h"
#include "sluice/formats/type_names.h"

namespace sluice::formats {
namespace {

using testing::ReadAll;
using testing::ReadText;
using testing::ScratchDirectory;

std::shared_ptr<arrow::Schema> AllTypesSchema() {
  return arrow::schema(
      {arrow::field("flag", arrow::boolean()), arrow::field("small", arrow::int32()),
       arrow::field("count", arrow::int64()), arrow::field("price", arrow::float64()),
       arrow::field("name", arrow::utf8()), arrow::field("at", TimestampType()),
       arrow::field("day", arrow::date32())});
}

/// Rows with every type, nulls in every column and awkward strings (delimiters, quotes, empty).
std::shared_ptr<arrow::RecordBatch> AllTypesBatch(bool with_line_breaks) {
  arrow::BooleanBuilder flag;
  arrow::Int32Builder small;
  arrow::Int64Builder count;
  arrow::DoubleBuilder price;
  arrow::StringBuilder name;
  arrow::TimestampBuilder at(TimestampType(), arrow::default_memory_pool());
  arrow::Date32Builder day;
  EXPECT_TRUE(
      flag.AppendValues(std::vector<bool>{true, false, false}, std::vector<bool>{true, true, false})
          .ok());
  EXPECT_TRUE(small.AppendValues({-7, 0, 0}, {true, false, true}).ok());
  EXPECT_TRUE(count.AppendValues({INT64_MAX, INT64_MIN, 0}, {true, true, false}).ok());
  EXPECT_TRUE(price.AppendValues({0.1, -0.0, 0}, {true, true, false}).ok());
  EXPECT_TRUE(name.Append(with_line_breaks ? "a,\"b\"\nc\\d\t" : "a,\"b\" c\\d\t").ok());
  EXPECT_TRUE(name.Append("").ok());
  EXPECT_TRUE(name.AppendNull().ok());
  EXPECT_TRUE(at.AppendValues({1709251200123400, -1, 0}, {true, true, false}).ok());
  EXPECT_TRUE(day.AppendValues({19783, -1, 0}, {true, false, true}).ok());
  return arrow::RecordBatch::Make(AllTypesSchema(), 3,
                                  {*flag.Finish(), *small.Finish(), *count.Finish(),
                                   *price.Finish(), *name.Finish(), *at.Finish(), *day.Finish()});
}

void WriteBatches(const std::string& path, Format format,
                  const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches) {
  auto writer = RecordWriter::Open(path, format, batches.front()->schema());
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  for (const auto& batch : batches) ASSERT_TRUE((*writer)->Write(*batch).ok());
  ASSERT_TRUE((*writer)->Close().ok());
}

class RoundTripTest : public ::testing::TestWithParam<Format> {};

TEST_P(RoundTripTest, AllTypesWithNulls) {
  ScratchDirectory dir;
  Format format = GetParam();
  std::string path = dir.File(std::string("all.") + std::string(FormatName(format)));
  // CSV values cannot hold line breaks on read (see csv_reader.cc).
  auto batch = AllTypesBatch(format != Format::kCsv);
  WriteBatches(path, format, {batch, batch});
  ReadOptions options;
  options.schema = AllTypesSchema();
  auto result = ReadAll(path, format, options);
  EXPECT_TRUE(result.rejected.empty()) << result.rejected.front().reason;
  auto expected = *arrow::Table::FromRecordBatches({batch, batch});
  ASSERT_EQ(result.table->num_rows(), 6);
  for (int i = 0; i < expected->num_columns(); ++i) {
    auto want = *arrow::Concatenate(expected->column(i)->chunks());
    auto got = result.table->column(i)->chunk(0);
    EXPECT_TRUE(got->Equals(*want))
        << expected->field(i)->name() << ": " << got->ToString() << " vs " << want->ToString();
  }
  // -0.0 survives as -0.0.
  auto prices = std::static_pointer_cast<arrow::DoubleArray>(
      result.table->GetColumnByName("price")->chunk(0));
  EXPECT_TRUE(std::signbit(prices->Value(1)));
}

INSTANTIATE_TEST_SUITE_P(AllFormats, RoundTripTest,
                         ::testing::Values(Format::kCsv, Format::kJsonLines, Format::kParquet,
                                           Format::kArrow),
                         [](const auto& info) { return std::string(FormatName(info.param)); });

class PrecisionTest : public ::testing::TestWithParam<Format> {};

TEST_P(PrecisionTest, RandomDoublesReadBackExactly) {
  ScratchDirectory dir;
  Format format = GetParam();
  std::mt19937_64 random(20240301);
  std::uniform_real_distribution<double> ordinary(-1e6, 1e6);
  arrow::DoubleBuilder values;
  for (int i = 0; i < 5000; ++i) {
    double value;
    if (i % 2 == 0) {
      value = ordinary(random);
    } else {
      uint64_t bits = random();
      std::memcpy(&value, &bits, sizeof value);
      if (!std::isfinite(value)) value = 1.0 / (i + 3);
    }
    ASSERT_TRUE(values.Append(value).ok());
  }
  ASSERT_TRUE(values.Append(5e-324).ok());
  ASSERT_TRUE(values.Append(1.7976931348623157e308).ok());
  ASSERT_TRUE(values.Append(3.0).ok());
  auto array = *values.Finish();
  auto schema = arrow::schema({arrow::field("x", arrow::float64())});
  auto batch = arrow::RecordBatch::Make(schema, array->length(), {array});
  std::string path = dir.File(std::string("doubles.") + std::string(FormatName(format)));
  WriteBatches(path, format, {batch});
  for (bool declared : {true, false}) {
    ReadOptions options;
    if (declared) options.schema = schema;
    auto result = ReadAll(path, format, options);
    ASSERT_TRUE(result.rejected.empty());
    ASSERT_TRUE(result.table->field(0)->type()->Equals(arrow::float64()))
        << result.table->field(0)->ToString();
    auto got = std::static_pointer_cast<arrow::DoubleArray>(result.table->column(0)->chunk(0));
    ASSERT_EQ(got->length(), array->length());
    const auto& want = static_cast<const arrow::DoubleArray&>(*array);
    for (int64_t i = 0; i < got->length(); ++i) {
      ASSERT_EQ(got->Value(i), want.Value(i)) << "row " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(TextFormats, PrecisionTest,
                         ::testing::Values(Format::kCsv, Format::kJsonLines),
                         [](const auto& info) { return std::string(FormatName(info.param)); });

TEST(JsonLinesWriterTest, WritesReadableText) {
  ScratchDirectory dir;
  std::string path = dir.File("out.jsonl");
  arrow::DoubleBuilder values;
  ASSERT_TRUE(values.AppendValues({std::nan(""), INFINITY, 2.5}).ok());
  arrow::TimestampBuilder at(TimestampType(), arrow::default_memory_pool());
  ASSERT_TRUE(at.AppendValues({1709251200000000, 1709251200500000, 1709251200000001}).ok());
  auto schema =
      arrow::schema({arrow::field("x", arrow::float64()), arrow::field("at", TimestampType())});
  WriteBatches(path, Format::kJsonLines,
               {arrow::RecordBatch::Make(schema, 3, {*values.Finish(), *at.Finish()})});
  EXPECT_EQ(ReadText(path),
            "{\"x\":\"NaN\",\"at\":\"2024-03-01T00:00:00Z\"}\n"
            "{\"x\":\"Infinity\",\"at\":\"2024-03-01T00:00:00.5Z\"}\n"
            "{\"x\":2.5,\"at\":\"2024-03-01T00:00:00.000001Z\"}\n");
}

class NonFiniteTest : public ::testing::TestWithParam<Format> {};

/// NaN and the infinities read back as themselves in every format, with the schema declared
/// and inferred, as float64 and as float32 (written from a float column).
TEST_P(NonFiniteTest, NaNAndInfinitiesReadBack) {
  ScratchDirectory dir;
  Format format = GetParam();
  arrow::DoubleBuilder doubles;
  arrow::FloatBuilder floats;
  ASSERT_TRUE(doubles.AppendValues({1.5, std::nan(""), INFINITY, -INFINITY}).ok());
  ASSERT_TRUE(doubles.AppendNull().ok());
  ASSERT_TRUE(floats.AppendValues({1.5f, std::nanf(""), INFINITY, -INFINITY}).ok());
  ASSERT_TRUE(floats.AppendNull().ok());
  auto schema =
      arrow::schema({arrow::field("x", arrow::float64()), arrow::field("y", arrow::float32())});
  auto batch = arrow::RecordBatch::Make(schema, 5, {*doubles.Finish(), *floats.Finish()});
  std::string path = dir.File(std::string("non_finite.") + std::string(FormatName(format)));
  WriteBatches(path, format, {batch});
  for (bool declared : {true, false}) {
    ReadOptions options;
    if (declared)
      options.schema =
          arrow::schema({arrow::field("x", arrow::float64()), arrow::field("y", arrow::float64())});
    auto result = ReadAll(path, format, options);
    ASSERT_TRUE(result.rejected.empty()) << result.rejected.front().reason;
    for (const char* name : {"x", "y"}) {
      auto column = *arrow::Concatenate(result.table->GetColumnByName(name)->chunks());
      if (column->type_id() == arrow::Type::FLOAT)
        column = *arrow::compute::Cast(*column, arrow::float64());
      ASSERT_EQ(column->type_id(), arrow::Type::DOUBLE) << name << " " << declared;
      const auto& values = static_cast<const arrow::DoubleArray&>(*column);
      ASSERT_EQ(values.length(), 5);
      EXPECT_EQ(values.Value(0), 1.5);
      EXPECT_TRUE(values.IsValid(1) && std::isnan(values.Value(1))) << name << " " << declared;
      EXPECT_TRUE(values.IsValid(2) && values.Value(2) == INFINITY) << name << " " << declared;
      EXPECT_TRUE(values.IsValid(3) && values.Value(3) == -INFINITY) << name << " " << declared;
      EXPECT_TRUE(values.IsNull(4));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFormats, NonFiniteTest,
                         ::testing::Values(Format::kCsv, Format::kJsonLines, Format::kParquet,
                                           Format::kArrow),
                         [](const auto& info) { return std::string(FormatName(info.param)); });

TEST(CsvWriterTest, WritesNonFiniteNumbersAsArrowReadsThem) {
  ScratchDirectory dir;
  std::string path = dir.File("out.csv");
  arrow::DoubleBuilder values;
  ASSERT_TRUE(values.AppendValues({std::nan(""), INFINITY, -INFINITY}).ok());
  auto schema = arrow::schema({arrow::field("x", arrow::float64())});
  WriteBatches(path, Format::kCsv, {arrow::RecordBatch::Make(schema, 3, {*values.Finish()})});
  // Not "NaN" or "nan": Arrow's CSV reader takes those for nulls unless told otherwise.
  EXPECT_EQ(ReadText(path), "x\nNAN\ninf\n-inf\n");
}

/// Strings that are not valid UTF-8 (a Parquet or Arrow file, a Kafka message can hold them):
/// JSON lines get U+FFFD for each bad byte, so every JSON reader can read the file; CSV, which
/// is bytes, keeps them as they are.
TEST(TextWritersTest, InvalidUtf8IsReplacedInJsonAndKeptInCsv) {
  ScratchDirectory dir;
  arrow::StringBuilder names;
  ASSERT_TRUE(names.Append("caf\xE9").ok());
  ASSERT_TRUE(names.Append("\xE2\x82\xAC ok").ok());
  auto tag_values = std::make_shared<arrow::StringBuilder>();
  arrow::ListBuilder tags(arrow::default_memory_pool(), tag_values);
  ASSERT_TRUE(tags.Append().ok());
  ASSERT_TRUE(tag_values->Append("\xFF\xFE").ok());
  ASSERT_TRUE(tags.Append().ok());
  auto schema = arrow::schema(
      {arrow::field("name\xC0", arrow::utf8()), arrow::field("tags", arrow::list(arrow::utf8()))});
  auto batch = arrow::RecordBatch::Make(schema, 2, {*names.Finish(), *tags.Finish()});
  std::string jsonl = dir.File("out.jsonl");
  WriteBatches(jsonl, Format::kJsonLines, {batch});
  const std::string bad = "\xEF\xBF\xBD";  // U+FFFD
  EXPECT_EQ(ReadText(jsonl), "{\"name" + bad + "\":\"caf" + bad + "\",\"tags\":[\"" + bad + bad +
                                 "\"]}\n{\"name" + bad + "\":\"\xE2\x82\xAC ok\",\"tags\":[]}\n");
  std::string csv = dir.File("out.csv");
  WriteBatches(csv, Format::kCsv, {batch});
  EXPECT_EQ(ReadText(csv), "name\xC0,tags\ncaf\xE9,\"[\"\"\xFF\xFE\"\"]\"\n\xE2\x82\xAC ok,[]\n");
}

TEST(CsvWriterTest, QuotesOnlyWhatNeedsIt) {
  ScratchDirectory dir;
  std::string path = dir.File("out.csv");
  WriteBatches(path, Format::kCsv, {AllTypesBatch(false)});
  EXPECT_EQ(ReadText(path),
            "flag,small,count,price,name,at,day\n"
            "true,-7,9223372036854775807,0.1,\"a,\"\"b\"\" "
            "c\\d\t\",2024-03-01T00:00:00.1234Z,2024-03-01\n"
            "false,,-9223372036854775808,-0.0,\"\",1969-12-31T23:59:59.999999Z,\n"
            ",0,,,,,1970-01-01\n");
}

}  // namespace
}  // namespace sluice::formats
