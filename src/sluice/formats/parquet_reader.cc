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
#include "sluice/formats/row_groups.h"

namespace sluice::formats::internal {
namespace {

/// The row groups of a Parquet file, read through parquet::arrow.
class RowGroups final : public RowGroupReader {
 public:
  RowGroups(std::string name, std::shared_ptr<parquet::arrow::FileReader> reader,
            std::vector<int> columns, const ReadOptions& options)
      : RowGroupReader(std::move(name), "row group", options),
        reader_(std::move(reader)),
        metadata_(reader_->parquet_reader()->metadata()),
        columns_(std::move(columns)) {}

 private:
  int64_t num_groups() const override { return metadata_->num_row_groups(); }
  int64_t GroupRows(int64_t group) const override {
    return metadata_->RowGroup(static_cast<int>(group))->num_rows();
  }
  int64_t GroupBytes(int64_t group) const override {
    return metadata_->RowGroup(static_cast<int>(group))->total_compressed_size();
  }
  Result<std::shared_ptr<arrow::RecordBatchReader>> OpenGroup(int64_t group) override {
    SLUICE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::RecordBatchReader> batches,
                           reader_->GetRecordBatchReader({static_cast<int>(group)}, columns_));
    return batches;
  }

  std::shared_ptr<parquet::arrow::FileReader> reader_;
  std::shared_ptr<parquet::FileMetaData> metadata_;
  std::vector<int> columns_;
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
    parquet::ArrowReaderProperties arrow_properties = parquet::default_arrow_reader_properties();
    // Over a network, a row group's column chunks are fetched together, in coalesced ranges
    // and in parallel, before it is decoded: one row group is read at a time, so this holds
    // at most one row group's columns.
    arrow_properties.set_pre_buffer(options.remote);
    auto opened = builder.memory_pool(arrow::default_memory_pool())
                      ->properties(arrow_properties)
                      ->Build();
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
