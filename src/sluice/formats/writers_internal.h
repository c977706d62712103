#pragma once

// The text writers behind RecordWriter::Open; not part of the public API.

#include <arrow/io/type_fwd.h>

#include <memory>

#include "sluice/formats/record_writer.h"

namespace sluice::formats::internal {

Result<std::unique_ptr<RecordWriter>> OpenCsvWriter(std::shared_ptr<arrow::io::OutputStream> stream,
                                                    const std::shared_ptr<arrow::Schema>& schema,
                                                    const WriteOptions& options);
Result<std::unique_ptr<RecordWriter>> OpenAvroWriter(
    std::shared_ptr<arrow::io::OutputStream> stream, const std::shared_ptr<arrow::Schema>& schema,
    const WriteOptions& options);
Result<std::unique_ptr<RecordWriter>> OpenJsonLinesWriter(
    std::shared_ptr<arrow::io::OutputStream> stream, const std::shared_ptr<arrow::Schema>& schema);

}  // namespace sluice::formats::internal
