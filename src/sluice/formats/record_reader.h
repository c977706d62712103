#pragma once

#include <arrow/io/type_fwd.h>
#include <arrow/type_fwd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/exec/dead_letter.h"
#include "sluice/formats/format.h"
#include "sluice/formats/time_text.h"

namespace sluice::formats {

/// How a RecordReader reads. Every field has a default that suits files of any size.
struct ReadOptions {
  /// The declared schema; output batches have exactly these fields (by name; extra input fields
  /// are dropped) and a value that does not convert to its field's type becomes a dead letter.
  /// A field missing from the input's header (CSV) or file schema (Parquet, Arrow) is an error
  /// unless `missing_fields_null`; JSON lines has no header, and a missing key is null. When null,
  /// the schema is inferred: CSV from the first block, JSON lines from the first `infer_rows`
  /// lines, Parquet and Arrow from the file.
  std::shared_ptr<arrow::Schema> schema;
  /// Fields to keep, in this order; empty keeps all. Ignored when `schema` is set.
  std::vector<std::string> columns;
  /// CSV: the field delimiter.
  char delimiter = ',';
  /// CSV: whether the first line names the columns. Without a header, columns are named
  /// f0, f1, ... or, with a declared schema, after its fields in order.
  bool header = true;
  /// CSV and JSON lines: bytes read and decoded at a time. This bounds memory (a batch is at
  /// most about this much text) and sets how much CSV type inference sees.
  int32_t block_size = 1 << 20;
  /// CSV and JSON lines: the largest record read whole. A record longer than a block is read by
  /// growing the block up to this; a longer one (or a quote that never closes) is damaged input.
  int64_t max_record_size = 16 << 20;
  /// What happens to damaged input, a span the decoder cannot read (it lost sync, a corrupt
  /// Parquet row group, a truncated file): false makes Next() fail naming the place; true skips
  /// the span as one dead letter with DeadLetter::skipped_rows / skipped_bytes, and reading goes
  /// on after it. A record that decodes but is malformed is one dead letter either way.
  bool skip_damaged = false;
  /// Whether a declared field missing from the header or file schema is read as nulls (with a
  /// warning) rather than being an error.
  bool missing_fields_null = false;
  /// Whether messages name the options above (max_record_size, on_unreadable, missing_fields)
  /// as the way to change the outcome: set by the connectors that declare them.
  bool option_hints = false;
  /// Parquet and Arrow: rows per batch at most.
  int64_t batch_rows = 65536;
  /// JSON lines: how many lines schema inference looks at.
  int64_t infer_rows = 1000;
  /// Whether the input is reached over a network (an object in a bucket), where each request
  /// costs a round trip: Parquet then fetches the column chunks of a row group together,
  /// coalesced, before decoding it (pre-buffering), rather than one request per chunk.
  bool remote = false;
  /// How timestamp and date fields are read from text and numbers where the default rules
  /// (ISO 8601, epoch unit guessed by magnitude) do not fit. A field with a text format of its
  /// own is a timestamp even when the schema is inferred.
  TimeReadings times;
};

/// Reads one file (or in-memory buffer) as a sequence of record batches with bounded memory,
/// whatever its format. Records that cannot be decoded are handed back as dead letters (with
/// reason, origin "name:line N" and the raw text where there is one) while the rest go on.
///
/// A reader is used from one thread at a time; bytes_read() may be polled from any thread.
class RecordReader {
 public:
  virtual ~RecordReader() = default;

  /// Opens `path`, reading its header or first block so that schema() is known.
  static Result<std::unique_ptr<RecordReader>> Open(const std::string& path, Format format,
                                                    const ReadOptions& options);

  /// Reads from `file`; `name` stands for it in dead-letter origins (a path, a topic).
  static Result<std::unique_ptr<RecordReader>> Open(
      std::shared_ptr<arrow::io::RandomAccessFile> file, std::string name, Format format,
      const ReadOptions& options);

  /// Reads from a stream that cannot seek, such as standard input, as it arrives: CSV, JSON
  /// lines and Arrow IPC (the stream format, or the file format read front to back). Parquet
  /// keeps its metadata at the end of the file and is Status::Invalid. bytes_total() is
  /// kUnknownSize.
  static Result<std::unique_ptr<RecordReader>> OpenStream(
      std::shared_ptr<arrow::io::InputStream> stream, std::string name, Format format,
      const ReadOptions& options);

  /// bytes_total() of a stream whose length is not known in advance.
  static constexpr int64_t kUnknownSize = -1;

  /// The schema of every batch Next() returns.
  virtual std::shared_ptr<arrow::Schema> schema() const = 0;

  /// The next batch, or nullptr at the end of the input. Records rejected on the way are
  /// appended to `rejected` (the reader fills reason, origin and record; the caller adds stage
  /// and source). A batch may be empty when every record of a block was rejected. An error
  /// means the input cannot be read further (I/O failure, a corrupt Parquet footer).
  virtual Result<std::shared_ptr<arrow::RecordBatch>> Next(
      std::vector<exec::DeadLetter>* rejected) = 0;

  /// What the reader noticed while opening that the user should hear about, e.g. renamed
  /// duplicate header names or declared fields read as nulls; each names the input.
  virtual std::vector<std::string> warnings() const { return {}; }

  /// The field names the input declares itself (a CSV header, a Parquet or Arrow schema),
  /// before any declared schema is applied; empty for JSON lines.
  virtual std::vector<std::string> input_fields() const { return {}; }

  /// Bytes of the input consumed so far, for progress reporting.
  virtual int64_t bytes_read() const = 0;
  /// The input's size in bytes, or kUnknownSize.
  virtual int64_t bytes_total() const = 0;
};

}  // namespace sluice::formats
