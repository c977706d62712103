#include "sluice/formats/message_codec.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sluice/formats/type_names.h"

namespace sluice::formats {
namespace {

std::shared_ptr<arrow::Schema> OrderSchema() {
  return arrow::schema({arrow::field("id", arrow::int64()), arrow::field("item", arrow::utf8()),
                        arrow::field("price", arrow::float64()),
                        arrow::field("ts", TimestampType())});
}

std::shared_ptr<arrow::RecordBatch> Orders() {
  arrow::Int64Builder ids;
  arrow::StringBuilder items;
  arrow::DoubleBuilder prices;
  arrow::TimestampBuilder times(TimestampType(), arrow::default_memory_pool());
  for (int64_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(ids.Append(i).ok());
    EXPECT_TRUE((i == 3 ? items.AppendNull() : items.Append("item, \"" + std::to_string(i))).ok());
    EXPECT_TRUE(prices.Append(0.1 * static_cast<double>(i)).ok());
    EXPECT_TRUE(times.Append(1'700'000'000'000'000 + i * 1'000'001).ok());
  }
  return arrow::RecordBatch::Make(OrderSchema(), 5,
                                  {*ids.Finish(), *items.Finish(), *prices.Finish(),
                                   *times.Finish()});
}

std::string WriteAvsc() {
  auto path = std::filesystem::temp_directory_path() / "sluice_message_codec_test.avsc";
  std::ofstream(path) << R"({"type":"record","name":"order","fields":[
      {"name":"id","type":"long"},{"name":"item","type":["null","string"]},
      {"name":"price","type":"double"},
      {"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}}]})";
  return path.string();
}

/// Encodes `batch` in `format` and decodes the payloads again.
std::shared_ptr<arrow::RecordBatch> RoundTrip(MessageFormat format,
                                              const std::shared_ptr<arrow::RecordBatch>& batch,
                                              std::shared_ptr<AvroCodec> avro = nullptr) {
  PayloadEncoding encoding;
  encoding.format = format;
  encoding.avro = avro;
  auto encoder = PayloadEncoder::Make(encoding, batch->schema());
  EXPECT_TRUE(encoder.ok()) << encoder.status().ToString();
  std::vector<std::string> payloads;
  if ((*encoder)->per_batch()) {
    payloads.push_back(*PayloadEncoder::EncodeBatch(*batch));
  } else {
    EXPECT_TRUE((*encoder)->Prepare(batch).ok());
    for (int64_t row = 0; row < batch->num_rows(); ++row) {
      std::string payload;
      std::string reason;
      EXPECT_TRUE(*(*encoder)->EncodeRow(row, &payload, &reason)) << reason;
      payloads.push_back(std::move(payload));
    }
  }
  PayloadDecoding decoding;
  decoding.format = format;
  decoding.schema = avro != nullptr ? avro->schema() : batch->schema();
  decoding.avro = avro;
  auto decoder = *PayloadDecoder::Make(decoding);
  std::vector<exec::DeadLetter> rejected;
  int64_t rows = 0;
  for (const auto& payload : payloads) {
    std::string reason;
    rows += *decoder->Append(payload, "test", &rejected, &reason);
    EXPECT_EQ(reason, "");
  }
  EXPECT_TRUE(rejected.empty());
  return arrow::RecordBatch::Make(decoding.schema, rows, *decoder->Finish());
}

TEST(MessageCodecTest, EveryFormatRoundTripsRows) {
  auto orders = Orders();
  for (MessageFormat format : {MessageFormat::kJson, MessageFormat::kCsv, MessageFormat::kArrow}) {
    auto decoded = RoundTrip(format, orders);
    EXPECT_TRUE(decoded->Equals(*orders)) << MessageFormatName(format) << "\n"
                                          << decoded->ToString();
  }
  auto avro = std::shared_ptr<AvroCodec>(*AvroCodec::Make(WriteAvsc(), config::Location{}));
  auto decoded = RoundTrip(MessageFormat::kAvro, orders, avro);
  ASSERT_EQ(decoded->num_columns(), orders->num_columns());
  for (int i = 0; i < orders->num_columns(); ++i) {
    // The .avsc says which fields may be null; the values are the same.
    EXPECT_TRUE(decoded->column(i)->Equals(*orders->column(i))) << decoded->ToString();
  }
  auto values = *orders->SelectColumns({1});
  auto raw = RoundTrip(MessageFormat::kRaw, *values->Slice(0, 3)->SelectColumns({0}));
  EXPECT_EQ(raw->num_rows(), 3);
  EXPECT_EQ(std::static_pointer_cast<arrow::StringArray>(raw->column(0))->GetView(2),
            "item, \"2");
}

TEST(MessageCodecTest, AvroMessagesTakeNestedTypesAndMillis) {
  auto path = std::filesystem::temp_directory_path() / "sluice_message_codec_nested.avsc";
  std::ofstream(path) << R"({"type":"record","name":"r","fields":[
      {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
      {"name":"tags","type":{"type":"array","items":"string"}},
      {"name":"at","type":["null",
          {"type":"record","name":"p","fields":[{"name":"x","type":"int"}]}]}]})";
  auto avro = std::shared_ptr<AvroCodec>(*AvroCodec::Make(path.string(), config::Location{}));
  ASSERT_EQ(avro->schema()->field(0)->type()->ToString(), TimestampType()->ToString());
  auto point = arrow::struct_({arrow::field("x", arrow::int32(), false)});
  auto batch = arrow::RecordBatch::Make(
      avro->schema(), 3,
      {*arrow::MakeArrayFromScalar(arrow::TimestampScalar(-1000, TimestampType()), 3),
       *arrow::json::ArrayFromJSONString(arrow::list(arrow::utf8()), R"([["a"], [], ["b", "c"]])"),
       *arrow::json::ArrayFromJSONString(point, R"([{"x": 1}, null, {"x": -2}])")});
  auto decoded = RoundTrip(MessageFormat::kAvro, batch, avro);
  EXPECT_TRUE(decoded->Equals(*batch)) << decoded->ToString();
}

TEST(MessageCodecTest, BadPayloadsAreRejectedWithAReason) {
  struct Case {
    MessageFormat format;
    std::string payload;
    std::string reason;
  };
  std::vector<Case> cases = {
      {MessageFormat::kJson, "{\"id\": 1", "JSON"},
      {MessageFormat::kCsv, "1,a,2.5,2024-01-01T00:00:00Z\n2,b,3,2024-01-01T00:00:00Z",
       "one record, not 2"},
      {MessageFormat::kCsv, "", "no CSV record"},
      {MessageFormat::kArrow, "not arrow", "not an Arrow IPC stream"},
      {MessageFormat::kRaw, std::string("\xff\xfe", 2), "not UTF-8"},
  };
  for (const auto& test : cases) {
    PayloadDecoding decoding;
    decoding.format = test.format;
    decoding.schema = test.format == MessageFormat::kRaw
                          ? arrow::schema({arrow::field("value", arrow::utf8())})
                          : OrderSchema();
    auto decoder = *PayloadDecoder::Make(decoding);
    std::vector<exec::DeadLetter> rejected;
    std::string reason;
    EXPECT_EQ(*decoder->Append(test.payload, "o", &rejected, &reason), 0);
    EXPECT_NE(reason.find(test.reason), std::string::npos)
        << MessageFormatName(test.format) << ": " << reason;
    // Nothing of the rejected payload is left in the next batch.
    EXPECT_EQ((*decoder->Finish())[0]->length(), 0);
  }
}

TEST(MessageCodecTest, BinaryDeadLetterRecordsAreBase64) {
  PayloadDecoding decoding;
  decoding.format = MessageFormat::kArrow;
  decoding.schema = OrderSchema();
  EXPECT_EQ((*PayloadDecoder::Make(decoding))->DeadLetterRecord(std::string("\x01\x02", 2)),
            "AQI=");
  decoding.format = MessageFormat::kJson;
  EXPECT_EQ((*PayloadDecoder::Make(decoding))->DeadLetterRecord("{x"), "{x");
}

TEST(MessageCodecTest, RawEncodesOnlyOneStringField) {
  PayloadEncoding encoding;
  encoding.format = MessageFormat::kRaw;
  auto made = PayloadEncoder::Make(encoding, OrderSchema());
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find("4 fields"), std::string::npos);
  auto nulls = *Orders()->SelectColumns({1});
  auto encoder = *PayloadEncoder::Make(encoding, nulls->schema());
  ASSERT_TRUE(encoder->Prepare(nulls).ok());
  std::string payload;
  std::string reason;
  EXPECT_FALSE(*encoder->EncodeRow(3, &payload, &reason));
  EXPECT_EQ(reason, "field 'item' is null");
}

}  // namespace
}  // namespace sluice::formats
