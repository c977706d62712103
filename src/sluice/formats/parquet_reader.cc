// The Parquet reader: streams one row group at a time through parquet::arrow with a bounded
// batch size, reading only the columns the output needs. A row group that cannot be decoded (a
// corrupt page) is damaged input: it is skipped whole, with the rows its metadata counts, and
// the row groups after it are read.

#include <arrow/io/interfaces.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <fmt/format.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/schema.h>
#include <parquet/exception.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <parquet/properties.h>

#include "sluice/formats/readers_internal.h"

namespace sluice::formats::internal {
namespace {

/// Reads the row groups of a file in order; `Next` is the BatchSourceReader's NextBatch.
class RowGroups {
 public:
  RowGroups(std::string name, std::shared_ptr<parquet::arrow::FileReader> reader,
            std::vector<int> columns, ReadOptions options)
      : name_(std::move(name)),
        reader_(std::move(reader)),
        metadata_(reader_->parquet_reader()->metadata()),
        columns_(std::move(columns)),
        options_(std::move(options)) {}

  Result<std::shared_ptr<arrow::RecordBatch>> Next(std::vector<exec::DeadLetter>* rejected) {
    while (true) {
      if (batches_ == nullptr) {
        if (group_ >= metadata_->num_row_groups()) return nullptr;
        group_rows_read_ = 0;
        Status opened = Guard([&]() -> Status {
          SLUICE_ASSIGN_OR_RAISE(batches_, reader_->GetRecordBatchReader({group_}, columns_));
          return Status::OK();
        });
        if (!opened.ok()) {
          SLUICE_RETURN_NOT_OK(SkipGroup(opened, rejected));
          continue;
        }
      }
      std::shared_ptr<arrow::RecordBatch> batch;
      Status read = Guard([&]() -> Status {
        SLUICE_ASSIGN_OR_RAISE(batch, batches_->Next());
        return Status::OK();
      });
      if (!read.ok()) {
        SLUICE_RETURN_NOT_OK(SkipGroup(read, rejected));
        continue;
      }
      if (batch == nullptr) {
        rows_done_ += metadata_->RowGroup(group_)->num_rows();
        bytes_done_ += GroupBytes(group_);
        batches_.reset();
        ++group_;
        continue;
      }
      group_rows_read_ += batch->num_rows();
      return batch;
    }
  }

  /// Bytes consumed, estimated from the row groups done and the rows read of the current one.
  int64_t BytesRead() const {
    if (group_ >= metadata_->num_row_groups()) return bytes_done_;
    int64_t rows = metadata_->RowGroup(group_)->num_rows();
    return bytes_done_ + (rows == 0 ? 0 : GroupBytes(group_) * group_rows_read_ / rows);
  }

 private:
  /// Runs `read`, turning the exceptions Parquet throws for corrupt data into a Status.
  template <typename Read>
  static Status Guard(Read&& read) {
    try {
      return read();
    } catch (const std::exception& error) {
      return Status::IOError(error.what());
    }
  }

  int64_t GroupBytes(int group) const {
    return metadata_->RowGroup(group)->total_compressed_size();
  }

  /// The current row group cannot be decoded: the rows of it not read yet are damaged input.
  Status SkipGroup(const Status& error, std::vector<exec::DeadLetter>* rejected) {
    auto group = metadata_->RowGroup(group_);
    const int64_t rows = group->num_rows();
    exec::DeadLetter letter;
    letter.origin = fmt::format("{}:row group {} of {} (rows {}-{})", name_, group_ + 1,
                                metadata_->num_row_groups(), rows_done_ + 1, rows_done_ + rows);
    letter.reason = fmt::format("row group {} is unreadable ({}): {} of its rows are lost",
                                group_ + 1, OneLine(error.message()), rows - group_rows_read_);
    letter.skipped_rows = rows - group_rows_read_;
    letter.skipped_bytes =
        rows == 0 ? GroupBytes(group_) : GroupBytes(group_) * (rows - group_rows_read_) / rows;
    rows_done_ += rows;
    bytes_done_ += GroupBytes(group_);
    batches_.reset();
    ++group_;
    return ReportDamage(options_, std::move(letter), rejected);
  }

  std::string name_;
  std::shared_ptr<parquet::arrow::FileReader> reader_;
  std::shared_ptr<parquet::FileMetaData> metadata_;
  std::vector<int> columns_;
  ReadOptions options_;
  std::shared_ptr<arrow::RecordBatchReader> batches_;
  int group_ = 0;
  int64_t group_rows_read_ = 0;
  int64_t rows_done_ = 0;
  int64_t bytes_done_ = 0;
};

/// Appends the leaf column indices of `field` (itself, when it is not nested).
void AppendLeafColumns(const parquet::arrow::SchemaField& field, std::vector<int>* columns) {
  if (field.column_index >= 0) columns->push_back(field.column_index);
  for (const auto& child : field.children) AppendLeafColumns(child, columns);
}

}  // namespace

Result<std::unique_ptr<RecordReader>> OpenParquetReader(
    std::shared_ptr<arrow::io::RandomAccessFile> file, std::string name,
    const ReadOptions& options) {
  SLUICE_ASSIGN_OR_RAISE(int64_t size, file->GetSize());
  // Parquet reports a corrupt footer by exception; none may cross into the engine.
  std::shared_ptr<parquet::arrow::FileReader> reader;
  try {
    parquet::ReaderProperties properties = parquet::default_reader_properties();
    // Pages written with a checksum are checked, so that a flipped bit is found, not read.
    properties.set_page_checksum_verification(true);
    parquet::arrow::FileReaderBuilder builder;
    SLUICE_RETURN_NOT_OK(builder.Open(file, properties));
    auto opened = builder.memory_pool(arrow::default_memory_pool())->Build();
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

  // Parquet reads by leaf column: a struct, list or map field is read through all its leaves.
  std::vector<int> columns;
  for (const auto& field : schema->fields()) {
    int index = file_schema->GetFieldIndex(field->name());
    if (index >= 0) AppendLeafColumns(reader->manifest().schema_fields[index], &columns);
  }
  auto groups = std::make_shared<RowGroups>(name, reader, std::move(columns), options);
  auto next = [groups](std::vector<exec::DeadLetter>* rejected) { return groups->Next(rejected); };
  auto bytes_read = [groups]() { return groups->BytesRead(); };
  return BatchSourceReader::Make(std::move(name), file_schema, size, std::move(next),
                                 std::move(bytes_read), options);
}

}  // namespace sluice::formats::internal
