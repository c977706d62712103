// The Arrow IPC reader: the file format (random access, starts with "ARROW1") and the stream
// format are told apart by their first bytes, so users need not say which they have.

#include <arrow/buffer.h>
#include <arrow/io/interfaces.h>
#include <arrow/ipc/reader.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <fmt/format.h>

#include <cstring>

#include "sluice/formats/readers_internal.h"

namespace sluice::formats::internal {

Result<std::unique_ptr<RecordReader>> OpenArrowStreamReader(
    std::shared_ptr<arrow::io::InputStream> input, int64_t size, std::string name,
    const ReadOptions& options) {
  auto opened = arrow::ipc::RecordBatchStreamReader::Open(input);
  if (!opened.ok())
    return Status::Invalid(
        fmt::format("{}: not a readable Arrow stream: {}", name, opened.status().message()));
  std::shared_ptr<arrow::ipc::RecordBatchStreamReader> reader = *opened;
  SLUICE_ASSIGN_OR_RAISE(auto schema, OutputSchema(reader->schema(), options));
  auto next = [reader]() { return reader->Next(); };
  auto bytes_read = [input]() {
    auto position = input->Tell();
    return position.ok() ? *position : 0;
  };
  return std::make_unique<BatchSourceReader>(std::move(name), schema, size, std::move(next),
                                             std::move(bytes_read), options.times);
}

Result<std::unique_ptr<RecordReader>> OpenArrowReader(
    std::shared_ptr<arrow::io::RandomAccessFile> file, std::string name,
    const ReadOptions& options) {
  SLUICE_ASSIGN_OR_RAISE(int64_t size, file->GetSize());
  SLUICE_ASSIGN_OR_RAISE(auto magic, file->ReadAt(0, 6));
  bool file_format = magic->size() == 6 && std::memcmp(magic->data(), "ARROW1", 6) == 0;
  if (!file_format) {
    SLUICE_RETURN_NOT_OK(file->Seek(0));
    return OpenArrowStreamReader(std::move(file), size, std::move(name), options);
  }
  auto opened = arrow::ipc::RecordBatchFileReader::Open(file);
  if (!opened.ok())
    return Status::Invalid(
        fmt::format("{}: not a readable Arrow file: {}", name, opened.status().message()));
  std::shared_ptr<arrow::ipc::RecordBatchFileReader> reader = *opened;
  auto index = std::make_shared<int>(0);
  auto next = [reader, index]() -> Result<std::shared_ptr<arrow::RecordBatch>> {
    if (*index >= reader->num_record_batches()) return nullptr;
    return reader->ReadRecordBatch((*index)++);
  };
  auto bytes_read = [reader, index, size]() {
    int batches = reader->num_record_batches();
    return batches == 0 ? size : size * *index / batches;
  };
  SLUICE_ASSIGN_OR_RAISE(auto schema, OutputSchema(reader->schema(), options));
  return std::make_unique<BatchSourceReader>(std::move(name), schema, size, std::move(next),
                                             std::move(bytes_read), options.times);
}

}  // namespace sluice::formats::internal
