// libFuzzer target: message payloads of every format decoded by the shared payload decoder.
// The first byte picks the format (json, csv, avro, arrow, raw); the rest is cut into payloads
// at newlines for the text formats and is one payload for the binary ones. Any payload must
// decode into valid rows or be rejected with a reason, never crash, hang or fail the batch.

#include <arrow/record_batch.h>
#include <arrow/type.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <vector>

#include "sluice/formats/message_codec.h"
#include "sluice/formats/type_names.h"

namespace {

using sluice::formats::MessageFormat;

constexpr MessageFormat kFormats[] = {MessageFormat::kJson, MessageFormat::kCsv,
                                      MessageFormat::kAvro, MessageFormat::kArrow,
                                      MessageFormat::kRaw};

std::shared_ptr<sluice::formats::AvroCodec> Avro() {
  static std::shared_ptr<sluice::formats::AvroCodec> codec = [] {
    auto path = std::filesystem::temp_directory_path() / "sluice_message_codec_fuzz.avsc";
    std::ofstream(path) << R"({"type":"record","name":"r","fields":[
        {"name":"id","type":"long"},{"name":"name","type":["null","string"]},
        {"name":"price","type":"double"},{"name":"ok","type":"boolean"},
        {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}}]})";
    auto made = sluice::formats::AvroCodec::Make(path.string(), sluice::config::Location{});
    if (!made.ok()) std::abort();
    return std::shared_ptr<sluice::formats::AvroCodec>(std::move(*made));
  }();
  return codec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  MessageFormat format = kFormats[data[0] % std::size(kFormats)];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  sluice::formats::PayloadDecoding decoding;
  decoding.format = format;
  switch (format) {
    case MessageFormat::kAvro:
      decoding.avro = Avro();
      decoding.schema = decoding.avro->schema();
      break;
    case MessageFormat::kRaw:
      decoding.schema = arrow::schema({arrow::field("value", arrow::utf8())});
      break;
    default:
      decoding.schema = arrow::schema(
          {arrow::field("id", arrow::int64()), arrow::field("name", arrow::utf8()),
           arrow::field("price", arrow::float64()), arrow::field("ok", arrow::boolean()),
           arrow::field("ts", sluice::formats::TimestampType())});
  }
  std::vector<std::string_view> payloads;
  if (sluice::formats::IsBinary(format)) {
    payloads.push_back(input);
  } else {
    while (!input.empty()) {
      size_t end = input.find('\n');
      payloads.push_back(input.substr(0, end));
      if (end == std::string_view::npos) break;
      input.remove_prefix(end + 1);
    }
  }
  auto decoder = sluice::formats::PayloadDecoder::Make(decoding);
  if (!decoder.ok()) std::abort();
  std::vector<sluice::exec::DeadLetter> rejected;
  int64_t rows = 0;
  for (std::string_view payload : payloads) {
    std::string reason;
    auto added = (*decoder)->Append(payload, "fuzz", &rejected, &reason);
    if (!added.ok()) std::abort();
    if (*added == 0 && reason.empty() && format != MessageFormat::kArrow) std::abort();
    rows += *added;
  }
  auto columns = (*decoder)->Finish();
  if (!columns.ok()) std::abort();
  auto batch = arrow::RecordBatch::Make(decoding.schema, rows, *columns);
  if (auto valid = batch->ValidateFull(); !valid.ok()) {
    fprintf(stderr, "invalid batch: %s\n", valid.ToString().c_str());
    std::abort();
  }
  return 0;
}
