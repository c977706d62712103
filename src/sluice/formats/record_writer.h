#pragma once

#include <arrow/io/type_fwd.h>
#include <arrow/type_fwd.h>

#include <memory>
#include <string>

#include "sluice/common/status.h"
#include "sluice/formats/format.h"

namespace sluice::formats {

/// How a RecordWriter writes.
struct WriteOptions {
  /// CSV: the field delimiter.
  char delimiter = ',';
  /// CSV: whether to write a header line with the field names.
  bool header = true;
  /// Arrow: the IPC stream format rather than the file format, for a pipe whose reader takes
  /// batches as they come (the file format's footer comes only at the end).
  bool arrow_stream = false;
  /// Avro: the codec that compresses each block ("null", "deflate", "snappy" or "zstandard").
  /// deflate is the one every Avro implementation reads.
  std::string avro_codec = "deflate";
  /// Parquet: the codec of the column chunks ("zstd", "snappy", "gzip" or "none"). zstd
  /// compresses about as well as gzip at the speed of snappy; snappy and gzip are for readers
  /// that lack zstd.
  std::string parquet_compression = "zstd";
  /// Parquet: the most rows in one row group. Smaller groups let readers skip more and a writer
  /// hold less in memory; larger ones compress better and scan faster.
  int64_t parquet_row_group_size = int64_t{1} << 20;
};

/// Writes batches of one schema to a file or stream in a format.
///
/// Values keep their precision: a double written as CSV or JSON text is the shortest text that
/// reads back as the same double. Text formats write timestamps as ISO 8601 ('Z' for UTC, only
/// the fractional digits needed) and nulls as an empty CSV field or JSON null; CSV writes an
/// empty string as "" so that it reads back as empty, not null.
///
/// Used from one thread at a time. Close() must be called to complete the output (Parquet
/// and Arrow files write their footer then); a writer destroyed unclosed leaves it incomplete.
class RecordWriter {
 public:
  virtual ~RecordWriter() = default;

  /// Creates (or truncates) `path`.
  static Result<std::unique_ptr<RecordWriter>> Open(const std::string& path, Format format,
                                                    const std::shared_ptr<arrow::Schema>& schema,
                                                    const WriteOptions& options = {});
  /// Writes to `stream`; Close() closes it.
  static Result<std::unique_ptr<RecordWriter>> Open(std::shared_ptr<arrow::io::OutputStream> stream,
                                                    Format format,
                                                    const std::shared_ptr<arrow::Schema>& schema,
                                                    const WriteOptions& options = {});

  /// Writes one batch, which must have the writer's schema.
  virtual Status Write(const arrow::RecordBatch& batch) = 0;
  /// Completes the output and closes the stream.
  virtual Status Close() = 0;
};

}  // namespace sluice::formats
