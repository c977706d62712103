#pragma once

// The format-specific readers behind RecordReader::Open; not part of the public API.

#include <memory>
#include <string>

#include <arrow/io/type_fwd.h>

#include "sluice/formats/record_reader.h"

namespace sluice::formats::internal {

Result<std::unique_ptr<RecordReader>> OpenCsvReader(std::shared_ptr<arrow::io::RandomAccessFile> file,
                                                    std::string name, const ReadOptions& options);
Result<std::unique_ptr<RecordReader>> OpenJsonLinesReader(std::shared_ptr<arrow::io::RandomAccessFile> file,
                                                          std::string name, const ReadOptions& options);
Result<std::unique_ptr<RecordReader>> OpenParquetReader(std::shared_ptr<arrow::io::RandomAccessFile> file,
                                                        std::string name, const ReadOptions& options);
Result<std::unique_ptr<RecordReader>> OpenArrowReader(std::shared_ptr<arrow::io::RandomAccessFile> file,
                                                      std::string name, const ReadOptions& options);

/// The schema a reader outputs: the declared one, or `file_schema` narrowed to `columns`.
/// An unknown column in `columns` is Status::Invalid.
Result<std::shared_ptr<arrow::Schema>> OutputSchema(const std::shared_ptr<arrow::Schema>& file_schema,
                                                    const ReadOptions& options);

}  // namespace sluice::formats::internal
