// The CSV reader: Arrow's streaming CSV reader reads every column as raw bytes, and Sluice
// converts them itself (BatchConformer), because Arrow fails a whole block on one bad value
// while Sluice must turn that one row into a dead letter.

#include <arrow/csv/api.h>
#include <arrow/io/interfaces.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <fmt/format.h>

#include <atomic>
#include <mutex>
#include <utility>

#include "sluice/formats/batch_conformer.h"
#include "sluice/formats/readers_internal.h"

namespace sluice::formats::internal {
namespace {

/// What the parser's invalid-row handler collects; shared with the handler, which Arrow may
/// call from its own thread.
struct InvalidRows {
  std::mutex mutex;
  /// Rejected rows not yet handed out, with their line numbers.
  std::vector<std::pair<int64_t, exec::DeadLetter>> letters;
  /// Physical line numbers of skipped rows, ascending (the parser runs in file order).
  std::vector<int64_t> lines;
};

class CsvReader final : public RecordReader {
 public:
  CsvReader(std::string name, int64_t size, const ReadOptions& options)
      : name_(std::move(name)), bytes_total_(size), header_lines_(options.header ? 1 : 0) {}

  Status Init(std::shared_ptr<arrow::io::InputStream> input, const ReadOptions& options) {
    if (bytes_total_ == 0) {
      // Arrow refuses an empty file; it is simply no rows.
      schema_ = options.schema ? options.schema : arrow::schema({});
      return Status::OK();
    }
    auto read_options = arrow::csv::ReadOptions::Defaults();
    read_options.use_threads = false;  // so that InvalidRow::number is known
    read_options.block_size = options.block_size;
    if (!options.header) {
      if (options.schema) {
        read_options.column_names = options.schema->field_names();
      } else {
        read_options.autogenerate_column_names = true;
      }
    }
    auto parse_options = arrow::csv::ParseOptions::Defaults();
    parse_options.delimiter = options.delimiter;
    auto invalid = invalid_;
    std::string name = name_;
    parse_options.invalid_row_handler = [invalid, name](const arrow::csv::InvalidRow& row) {
      exec::DeadLetter letter;
      letter.reason =
          fmt::format("expected {} fields, found {}", row.expected_columns, row.actual_columns);
      letter.origin = row.number >= 0 ? fmt::format("{}:line {}", name, row.number) : name;
      letter.record = std::string(row.text);
      std::lock_guard lock(invalid->mutex);
      if (row.number >= 0) invalid->lines.push_back(row.number);
      invalid->letters.emplace_back(row.number, std::move(letter));
      return arrow::csv::InvalidRowResult::Skip;
    };
    auto convert_options = arrow::csv::ConvertOptions::Defaults();
    convert_options.default_column_type = arrow::binary();
    convert_options.check_utf8 = false;
    convert_options.null_values = {""};
    convert_options.strings_can_be_null = true;
    // `""` is an empty string and an empty field is null, so both survive a round trip.
    convert_options.quoted_strings_can_be_null = false;
    auto reader =
        arrow::csv::StreamingReader::Make(arrow::io::default_io_context(), std::move(input),
                                          read_options, parse_options, convert_options);
    if (!reader.ok())
      return Status::Invalid(fmt::format("{}: {}", name_, reader.status().message()));
    reader_ = *std::move(reader);

    std::shared_ptr<arrow::Schema> target = options.schema;
    if (!target) {
      // Types are inferred from the first block, as Arrow would, but frozen in our own
      // conformer so that a later value that does not fit is one dead letter, not a failure.
      SLUICE_RETURN_NOT_OK(reader_->ReadNext(&first_batch_));
      arrow::FieldVector fields;
      for (int i = 0; i < reader_->schema()->num_fields(); ++i) {
        std::shared_ptr<arrow::DataType> type = arrow::utf8();
        if (first_batch_) type = InferTextType(first_batch_->column(i));
        fields.push_back(arrow::field(reader_->schema()->field(i)->name(), type));
      }
      SLUICE_ASSIGN_OR_RAISE(target, OutputSchema(arrow::schema(std::move(fields)), options));
      has_first_batch_ = true;
    }
    schema_ = target;
    conformer_ = std::make_unique<BatchConformer>(target, options.times);
    return Status::OK();
  }

  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }

  Result<std::shared_ptr<arrow::RecordBatch>> Next(
      std::vector<exec::DeadLetter>* rejected) override {
    if (!reader_) return nullptr;
    std::shared_ptr<arrow::RecordBatch> batch;
    if (has_first_batch_) {
      batch = std::move(first_batch_);
      has_first_batch_ = false;
    } else {
      auto status = reader_->ReadNext(&batch);
      if (!status.ok()) return Status::Invalid(fmt::format("{}: {}", name_, status.message()));
    }
    bytes_read_ = batch || bytes_total_ == kUnknownSize ? reader_->bytes_read() : bytes_total_;
    std::vector<int64_t> invalid_lines;
    std::vector<std::pair<int64_t, exec::DeadLetter>> skipped;
    {
      std::lock_guard lock(invalid_->mutex);
      skipped.swap(invalid_->letters);
      invalid_lines = invalid_->lines;
    }
    if (!batch) {
      for (auto& [line, letter] : skipped) rejected->push_back(std::move(letter));
      reader_.reset();
      return nullptr;
    }
    int64_t first_row = rows_seen_;
    rows_seen_ += batch->num_rows();
    std::vector<int64_t> bad_lines;
    auto origin = [&](int64_t row) {
      bad_lines.push_back(LineOfRow(first_row + row, invalid_lines));
      return fmt::format("{}:line {}", name_, bad_lines.back());
    };
    std::vector<exec::DeadLetter> unconvertible;
    auto conformed = conformer_->Conform(batch, origin, &unconvertible);
    // Hand out both kinds of rejected rows in file order (each list is in order already).
    size_t next_skipped = 0;
    for (size_t i = 0; i < unconvertible.size(); ++i) {
      while (next_skipped < skipped.size() && skipped[next_skipped].first < bad_lines[i]) {
        rejected->push_back(std::move(skipped[next_skipped++].second));
      }
      rejected->push_back(std::move(unconvertible[i]));
    }
    for (; next_skipped < skipped.size(); ++next_skipped)
      rejected->push_back(std::move(skipped[next_skipped].second));
    return conformed;
  }

  int64_t bytes_read() const override { return bytes_read_; }
  int64_t bytes_total() const override { return bytes_total_; }

 private:
  /// The physical line of data row `row` (0-based, counting only rows the parser kept),
  /// assuming one line per row: values with line breaks or blank lines before it shift it.
  int64_t LineOfRow(int64_t row, const std::vector<int64_t>& invalid_lines) const {
    int64_t line = header_lines_ + row + 1;
    for (int64_t skipped : invalid_lines) {
      if (skipped > line) break;
      ++line;
    }
    return line;
  }

  std::string name_;
  int64_t bytes_total_;
  int64_t header_lines_;
  std::atomic<int64_t> bytes_read_{0};
  std::shared_ptr<InvalidRows> invalid_ = std::make_shared<InvalidRows>();
  std::shared_ptr<arrow::csv::StreamingReader> reader_;
  std::shared_ptr<arrow::Schema> schema_;
  std::unique_ptr<BatchConformer> conformer_;
  std::shared_ptr<arrow::RecordBatch> first_batch_;
  bool has_first_batch_ = false;
  int64_t rows_seen_ = 0;
};

}  // namespace

Result<std::unique_ptr<RecordReader>> OpenCsvReader(std::shared_ptr<arrow::io::InputStream> input,
                                                    int64_t size, std::string name,
                                                    const ReadOptions& options) {
  auto reader = std::make_unique<CsvReader>(std::move(name), size, options);
  SLUICE_RETURN_NOT_OK(reader->Init(std::move(input), options));
  return reader;
}

}  // namespace sluice::formats::internal
