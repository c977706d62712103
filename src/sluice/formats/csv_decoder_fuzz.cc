// libFuzzer target: CSV reading of arbitrary bytes through RecordReader, with a declared
// schema and with inferred types, in small blocks so that several batches are read. Bad rows
// must become dead letters; only input Arrow cannot parse at all may fail, and cleanly.

#include <arrow/buffer.h>
#include <arrow/io/memory.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "sluice/formats/record_reader.h"
#include "sluice/formats/type_names.h"

namespace {

void ReadAll(const std::shared_ptr<arrow::Buffer>& buffer,
             const sluice::formats::ReadOptions& options) {
  auto reader =
      sluice::formats::RecordReader::Open(std::make_shared<arrow::io::BufferReader>(buffer), "fuzz",
                                          sluice::formats::Format::kCsv, options);
  if (!reader.ok()) return;
  std::vector<sluice::exec::DeadLetter> rejected;
  while (true) {
    auto batch = (*reader)->Next(&rejected);
    if (!batch.ok() || *batch == nullptr) return;
    if (!(*batch)->ValidateFull().ok() || !(*batch)->schema()->Equals(*(*reader)->schema()))
      std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto buffer = std::make_shared<arrow::Buffer>(data, static_cast<int64_t>(size));
  sluice::formats::ReadOptions options;
  options.block_size = 256;
  ReadAll(buffer, options);
  options.schema = arrow::schema(
      {arrow::field("a", arrow::int64()), arrow::field("b", arrow::float64()),
       arrow::field("c", arrow::utf8()), arrow::field("d", sluice::formats::TimestampType()),
       arrow::field("e", arrow::boolean())});
  ReadAll(buffer, options);
  options.header = false;
  ReadAll(buffer, options);
  return 0;
}
