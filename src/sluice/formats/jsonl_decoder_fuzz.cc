// libFuzzer target: JSON lines decoding of arbitrary bytes, with a declared schema covering
// every supported field type and with a schema inferred from the input. Any input must decode
// to valid batches plus dead letters, never crash or fail as a whole.

#include <arrow/record_batch.h>
#include <arrow/type.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "sluice/formats/jsonl_decoder.h"
#include "sluice/formats/type_names.h"

namespace {

std::vector<std::string_view> SplitLines(std::string_view input) {
  std::vector<std::string_view> lines;
  while (!input.empty()) {
    size_t end = input.find('\n');
    lines.push_back(input.substr(0, end));
    if (end == std::string_view::npos) break;
    input.remove_prefix(end + 1);
  }
  return lines;
}

void DecodeOrDie(const std::shared_ptr<arrow::Schema>& schema,
                 const std::vector<std::string_view>& lines) {
  auto decoder = sluice::formats::JsonLinesDecoder::Make(schema);
  if (!decoder.ok()) std::abort();
  std::vector<sluice::exec::DeadLetter> rejected;
  auto batch = (*decoder)->Decode(lines, nullptr, &rejected);
  if (!batch.ok() || !(*batch)->ValidateFull().ok()) std::abort();
  if ((*batch)->num_rows() + static_cast<int64_t>(rejected.size()) >
      static_cast<int64_t>(lines.size()))
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines = SplitLines(input);
  static const auto declared = arrow::schema({
      arrow::field("b", arrow::boolean()),
      arrow::field("i8", arrow::int8()),
      arrow::field("i", arrow::int64()),
      arrow::field("u", arrow::uint64()),
      arrow::field("f", arrow::float32()),
      arrow::field("d", arrow::float64()),
      arrow::field("s", arrow::utf8()),
      arrow::field("t", sluice::formats::TimestampType()),
      arrow::field("day", arrow::date32()),
  });
  DecodeOrDie(declared, lines);
  DecodeOrDie(sluice::formats::JsonLinesDecoder::InferSchema(lines), lines);
  return 0;
}
