// The Parquet reader: streams row groups through parquet::arrow with a bounded batch size,
// reading only the columns the output needs.

#include <arrow/io/interfaces.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <fmt/format.h>
#include <parquet/arrow/reader.h>
#include <parquet/exception.h>
#include <parquet/file_reader.h>

#include "sluice/formats/readers_internal.h"

namespace sluice::formats::internal {

Result<std::unique_ptr<RecordReader>> OpenParquetReader(
    std::shared_ptr<arrow::io::RandomAccessFile> file, std::string name,
    const ReadOptions& options) {
  SLUICE_ASSIGN_OR_RAISE(int64_t size, file->GetSize());
  // Parquet reports a corrupt footer by exception; none may cross into the engine.
  std::shared_ptr<parquet::arrow::FileReader> reader;
  try {
    auto opened = parquet::arrow::OpenFile(file, arrow::default_memory_pool());
    if (!opened.ok())
      return Status::Invalid(
          fmt::format("{}: not a readable Parquet file: {}", name, opened.status().message()));
    reader = *std::move(opened);
  } catch (const std::exception& error) {
    return Status::Invalid(fmt::format("{}: not a readable Parquet file: {}", name, error.what()));
  }
  reader->set_batch_size(options.batch_rows);
  std::shared_ptr<arrow::Schema> file_schema;
  SLUICE_RETURN_NOT_OK(reader->GetSchema(&file_schema));
  SLUICE_ASSIGN_OR_RAISE(auto schema, OutputSchema(file_schema, options));

  std::vector<int> columns;
  for (const auto& field : schema->fields()) {
    int index = file_schema->GetFieldIndex(field->name());
    if (index >= 0) columns.push_back(index);
  }
  std::vector<int> row_groups(static_cast<size_t>(reader->num_row_groups()));
  for (size_t i = 0; i < row_groups.size(); ++i) row_groups[i] = static_cast<int>(i);
  std::shared_ptr<arrow::RecordBatchReader> batches;
  try {
    SLUICE_ASSIGN_OR_RAISE(batches, reader->GetRecordBatchReader(row_groups, columns));
  } catch (const std::exception& error) {
    return Status::Invalid(fmt::format("{}: {}", name, error.what()));
  }
  int64_t total_rows = reader->parquet_reader()->metadata()->num_rows();
  auto rows_read = std::make_shared<int64_t>(0);
  auto next = [reader, batches, rows_read]() -> Result<std::shared_ptr<arrow::RecordBatch>> {
    try {
      SLUICE_ASSIGN_OR_RAISE(auto batch, batches->Next());
      if (batch) *rows_read += batch->num_rows();
      return batch;
    } catch (const std::exception& error) {
      return Status::IOError(error.what());
    }
  };
  auto bytes_read = [rows_read, total_rows, size]() {
    return total_rows == 0
               ? size
               : static_cast<int64_t>(static_cast<double>(size) * *rows_read / total_rows);
  };
  return std::make_unique<BatchSourceReader>(std::move(name), schema, size, std::move(next),
                                             std::move(bytes_read), options.times);
}

}  // namespace sluice::formats::internal
