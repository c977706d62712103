// The CSV and JSON lines writers. Both are Sluice's own rather than Arrow's so that the two
// text formats share one rendering of values (value_text.h): shortest round-trip doubles and
// ISO 8601 timestamps.

#include <arrow/array.h>
#include <arrow/io/interfaces.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>

#include "sluice/formats/json_row_encoder.h"
#include "sluice/formats/value_text.h"
#include "sluice/formats/writers_internal.h"

namespace sluice::formats::internal {
namespace {

/// Output is gathered into a buffer and written in pieces of about this size.
constexpr size_t kFlushBytes = 1 << 20;

class TextWriter : public RecordWriter {
 public:
  explicit TextWriter(std::shared_ptr<arrow::io::OutputStream> stream)
      : stream_(std::move(stream)) {}

  Status Close() override {
    SLUICE_RETURN_NOT_OK(FlushBuffer());
    return stream_->Close();
  }

 protected:
  Status MaybeFlush() { return buffer_.size() >= kFlushBytes ? FlushBuffer() : Status::OK(); }

  Status FlushBuffer() {
    if (buffer_.empty()) return Status::OK();
    SLUICE_RETURN_NOT_OK(stream_->Write(buffer_.data(), static_cast<int64_t>(buffer_.size())));
    buffer_.clear();
    return Status::OK();
  }

  std::shared_ptr<arrow::io::OutputStream> stream_;
  std::string buffer_;
};

class CsvWriter final : public TextWriter {
 public:
  CsvWriter(std::shared_ptr<arrow::io::OutputStream> stream, const arrow::Schema& schema,
            char delimiter)
      : TextWriter(std::move(stream)), delimiter_(delimiter) {
    for (const auto& field : schema.fields()) {
      arrow::Type::type id = field->type()->id();
      text_columns_.push_back(id == arrow::Type::STRING || id == arrow::Type::LARGE_STRING ||
                              id == arrow::Type::STRING_VIEW);
    }
  }

  void AppendHeader(const arrow::Schema& schema) {
    for (int i = 0; i < schema.num_fields(); ++i) {
      if (i > 0) buffer_.push_back(delimiter_);
      AppendCell(schema.field(i)->name(), true);
    }
    buffer_.push_back('\n');
  }

  Status Write(const arrow::RecordBatch& batch) override {
    std::string cell;
    for (int64_t row = 0; row < batch.num_rows(); ++row) {
      for (int column = 0; column < batch.num_columns(); ++column) {
        if (column > 0) buffer_.push_back(delimiter_);
        const arrow::Array& values = *batch.column(column);
        if (values.IsNull(row)) continue;  // an empty field
        cell.clear();
        AppendPlainValue(values, row, &cell);
        AppendCell(cell, text_columns_[static_cast<size_t>(column)]);
      }
      buffer_.push_back('\n');
      SLUICE_RETURN_NOT_OK(MaybeFlush());
    }
    return Status::OK();
  }

 private:
  /// Quotes a cell when it holds the delimiter, a quote or a line break, and an empty string
  /// (so that it differs from a null).
  void AppendCell(std::string_view cell, bool is_text) {
    bool quote = (is_text && cell.empty()) ||
                 cell.find_first_of("\"\r\n") != std::string_view::npos ||
                 cell.find(delimiter_) != std::string_view::npos;
    if (!quote) {
      buffer_.append(cell);
      return;
    }
    buffer_.push_back('"');
    for (char c : cell) {
      if (c == '"') buffer_.push_back('"');
      buffer_.push_back(c);
    }
    buffer_.push_back('"');
  }

  char delimiter_;
  std::vector<bool> text_columns_;
};

class JsonLinesWriter final : public TextWriter {
 public:
  JsonLinesWriter(std::shared_ptr<arrow::io::OutputStream> stream, const arrow::Schema& schema)
      : TextWriter(std::move(stream)), encoder_(schema) {}

  Status Write(const arrow::RecordBatch& batch) override {
    for (int64_t row = 0; row < batch.num_rows(); ++row) {
      encoder_.AppendRow(batch, row, &buffer_);
      buffer_.push_back('\n');
      SLUICE_RETURN_NOT_OK(MaybeFlush());
    }
    return Status::OK();
  }

 private:
  JsonRowEncoder encoder_;
};

}  // namespace

Result<std::unique_ptr<RecordWriter>> OpenCsvWriter(std::shared_ptr<arrow::io::OutputStream> stream,
                                                    const std::shared_ptr<arrow::Schema>& schema,
                                                    const WriteOptions& options) {
  auto writer = std::make_unique<CsvWriter>(std::move(stream), *schema, options.delimiter);
  if (options.header) writer->AppendHeader(*schema);
  return writer;
}

Result<std::unique_ptr<RecordWriter>> OpenJsonLinesWriter(
    std::shared_ptr<arrow::io::OutputStream> stream, const std::shared_ptr<arrow::Schema>& schema) {
  return std::make_unique<JsonLinesWriter>(std::move(stream), *schema);
}

}  // namespace sluice::formats::internal
