// libFuzzer target: the Avro object container reader on arbitrary bytes, with damaged input
// skipped. Any input must open with an error or read to its end as valid batches plus dead
// letters, never crash, fail as a whole, or give more rows than its blocks claim.

#include <arrow/buffer.h>
#include <arrow/io/memory.h>
#include <arrow/record_batch.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "sluice/formats/record_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::formats::ReadOptions options;
  options.skip_damaged = true;
  options.batch_rows = 5;
  // Small limits, so that a claimed block size costs the fuzzer little memory.
  options.max_record_size = 1 << 20;
  auto buffer = std::make_shared<arrow::io::BufferReader>(
      arrow::Buffer::FromString(std::string(reinterpret_cast<const char*>(data), size)));
  auto reader =
      sluice::formats::RecordReader::Open(buffer, "fuzz.avro", sluice::formats::Format::kAvro,
                                          options);
  if (!reader.ok()) return 0;
  std::vector<sluice::exec::DeadLetter> rejected;
  while (true) {
    auto batch = (*reader)->Next(&rejected);
    if (!batch.ok()) std::abort();
    if (*batch == nullptr) break;
    if (!(*batch)->ValidateFull().ok()) std::abort();
  }
  return 0;
}
