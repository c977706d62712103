#pragma once

// The format-specific readers behind RecordReader::Open; not part of the public API.

#include <arrow/io/type_fwd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/formats/batch_conformer.h"
#include "sluice/formats/record_reader.h"

namespace sluice::formats::internal {

// The text readers and the Arrow stream reader read front to back, so they take any stream;
// `size` is its length in bytes, or RecordReader::kUnknownSize.
Result<std::unique_ptr<RecordReader>> OpenCsvReader(std::shared_ptr<arrow::io::InputStream> input,
                                                    int64_t size, std::string name,
                                                    const ReadOptions& options);
Result<std::unique_ptr<RecordReader>> OpenJsonLinesReader(
    std::shared_ptr<arrow::io::InputStream> input, int64_t size, std::string name,
    const ReadOptions& options);
Result<std::unique_ptr<RecordReader>> OpenArrowStreamReader(
    std::shared_ptr<arrow::io::InputStream> input, int64_t size, std::string name,
    const ReadOptions& options);
Result<std::unique_ptr<RecordReader>> OpenAvroReader(std::shared_ptr<arrow::io::InputStream> input,
                                                     int64_t size, std::string name,
                                                     const ReadOptions& options);
Result<std::unique_ptr<RecordReader>> OpenOrcReader(
    std::shared_ptr<arrow::io::RandomAccessFile> file, std::string name,
    const ReadOptions& options);
Result<std::unique_ptr<RecordReader>> OpenParquetReader(
    std::shared_ptr<arrow::io::RandomAccessFile> file, std::string name,
    const ReadOptions& options);
Result<std::unique_ptr<RecordReader>> OpenArrowReader(
    std::shared_ptr<arrow::io::RandomAccessFile> file, std::string name,
    const ReadOptions& options);

/// The schema a reader outputs: the declared one, or `file_schema` narrowed to `columns`, with
/// the fields that have a text format of their own in `options.times` made timestamps (unless
/// they are dates or timestamps already). An unknown column in `columns` or field in
/// `options.times` is Status::Invalid.
Result<std::shared_ptr<arrow::Schema>> OutputSchema(
    const std::shared_ptr<arrow::Schema>& file_schema, const ReadOptions& options);

/// Hands on one span of damaged input: with `options.skip_damaged` it is appended to `rejected`
/// (it should carry skipped_rows and/or skipped_bytes) and reading goes on; otherwise it is an
/// IOError naming the place, with a hint at on_unreadable.
Status ReportDamage(const ReadOptions& options, exec::DeadLetter letter,
                    std::vector<exec::DeadLetter>* rejected);

/// What messages call the record size limit: the option, where the connector has it.
std::string RecordLimit(const ReadOptions& options);

/// `message` on one line: line breaks (Parquet's messages have them) become spaces.
std::string OneLine(std::string_view message);

/// The damage of a file that ends at `read` bytes, before the `total` it had when opened (it
/// shrank while being read), or nullopt when it did not.
std::optional<exec::DeadLetter> Shrunk(const std::string& name, int64_t read, int64_t total);

/// Checks the declared schema of `options` against the fields the input declares: a declared
/// field that is missing is Status::TypeError (as is every schema mismatch found at open), or with
/// `options.missing_fields_null` a warning appended to `warnings`.
Status CheckDeclaredFields(const std::string& name, const std::vector<std::string>& input_fields,
                           const ReadOptions& options, std::vector<std::string>* warnings);

/// A RecordReader over a source of whole batches (Parquet row groups, Arrow IPC batches),
/// bringing each to the output schema with a BatchConformer. Origins are "name:row N", N
/// counting rows from 1 across the input.
class BatchSourceReader final : public RecordReader {
 public:
  /// The next batch or nullptr at the end; damaged input skipped on the way is reported with
  /// ReportDamage into the vector.
  using NextBatch =
      std::function<Result<std::shared_ptr<arrow::RecordBatch>>(std::vector<exec::DeadLetter>*)>;
  /// Bytes consumed so far, estimated by the format.
  using BytesRead = std::function<int64_t()>;

  BatchSourceReader(std::string name, std::shared_ptr<arrow::Schema> schema, int64_t size,
                    NextBatch next, BytesRead bytes_read, const ReadOptions& options,
                    std::vector<std::string> input_fields);

  std::shared_ptr<arrow::Schema> schema() const override { return conformer_.schema(); }
  Result<std::shared_ptr<arrow::RecordBatch>> Next(
      std::vector<exec::DeadLetter>* rejected) override;
  int64_t bytes_read() const override { return bytes_read_; }
  int64_t bytes_total() const override { return bytes_total_; }
  std::vector<std::string> warnings() const override { return warnings_; }
  std::vector<std::string> input_fields() const override { return input_fields_; }

  /// Checks the declared schema against the input's fields (CheckDeclaredFields).
  Status Init(const ReadOptions& options);

  /// A reader of the batches of an input whose own schema is `file_schema`, with the output
  /// schema OutputSchema() gives, initialised.
  static Result<std::unique_ptr<RecordReader>> Make(
      std::string name, const std::shared_ptr<arrow::Schema>& file_schema, int64_t size,
      NextBatch next, BytesRead bytes_read, const ReadOptions& options);

 private:
  std::string name_;
  BatchConformer conformer_;
  std::vector<std::string> input_fields_;
  std::vector<std::string> warnings_;
  int64_t bytes_total_;
  NextBatch next_;
  BytesRead measure_;
  std::atomic<int64_t> bytes_read_{0};
  int64_t rows_seen_ = 0;
};

}  // namespace sluice::formats::internal
