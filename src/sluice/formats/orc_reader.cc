// The ORC reader: Arrow's ORC adapter reads one stripe at a time, in batches of at most
// batch_rows rows, from any random-access file (a local path, an S3 object). A stripe that
// cannot be decoded is damaged input: the rows of it not read yet are skipped (the footer
// counts them) and the stripes after it are read.

#include <arrow/adapters/orc/adapter.h>
#include <arrow/io/interfaces.h>
#include <arrow/memory_pool.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <fmt/format.h>

#include "sluice/formats/readers_internal.h"
#include "sluice/formats/row_groups.h"

namespace sluice::formats::internal {
namespace {

/// The stripes of an ORC file, read through Arrow's ORC adapter.
class Stripes final : public RowGroupReader {
 public:
  Stripes(std::string name, std::unique_ptr<arrow::adapters::orc::ORCFileReader> reader,
          std::vector<int> columns, const ReadOptions& options)
      : RowGroupReader(std::move(name), "stripe", options),
        reader_(std::move(reader)),
        columns_(std::move(columns)),
        batch_rows_(options.batch_rows) {
    for (int64_t i = 0; i < reader_->NumberOfStripes(); ++i)
      stripes_.push_back(reader_->GetStripeInformation(i));
  }

 private:
  int64_t num_groups() const override { return static_cast<int64_t>(stripes_.size()); }
  int64_t GroupRows(int64_t group) const override { return stripes_[group].num_rows; }
  int64_t GroupBytes(int64_t group) const override { return stripes_[group].length; }
  Result<std::shared_ptr<arrow::RecordBatchReader>> OpenGroup(int64_t group) override {
    SLUICE_RETURN_NOT_OK(reader_->Seek(stripes_[group].first_row_id));
    return reader_->NextStripeReader(batch_rows_, columns_);
  }

  std::unique_ptr<arrow::adapters::orc::ORCFileReader> reader_;
  std::vector<int> columns_;
  int64_t batch_rows_;
  std::vector<arrow::adapters::orc::StripeInformation> stripes_;
};

}  // namespace

Result<std::unique_ptr<RecordReader>> OpenOrcReader(
    std::shared_ptr<arrow::io::RandomAccessFile> file, std::string name,
    const ReadOptions& options) {
  SLUICE_ASSIGN_OR_RAISE(int64_t size, file->GetSize());
  std::unique_ptr<arrow::adapters::orc::ORCFileReader> reader;
  std::shared_ptr<arrow::Schema> file_schema;
  Status opened = [&]() -> Status {
    // The adapter turns the ORC library's exceptions into a Status; one that escapes is caught.
    try {
      SLUICE_ASSIGN_OR_RAISE(
          reader, arrow::adapters::orc::ORCFileReader::Open(file, arrow::default_memory_pool()));
      SLUICE_ASSIGN_OR_RAISE(file_schema, reader->ReadSchema());
      return Status::OK();
    } catch (const std::exception& error) {
      return Status::IOError(error.what());
    }
  }();
  if (!opened.ok())
    return Status::Invalid(
        fmt::format("{}: not a readable ORC file: {}", name, OneLine(opened.message())));
  SLUICE_ASSIGN_OR_RAISE(auto schema, OutputSchema(file_schema, options));
  // Only the columns the output needs are read.
  std::vector<int> columns;
  for (const auto& field : schema->fields()) {
    int index = file_schema->GetFieldIndex(field->name());
    if (index >= 0) columns.push_back(index);
  }
  auto stripes = std::make_shared<Stripes>(name, std::move(reader), std::move(columns), options);
  auto next = [stripes](std::vector<exec::DeadLetter>* rejected) {
    return stripes->Next(rejected);
  };
  auto bytes_read = [stripes]() { return stripes->BytesRead(); };
  return BatchSourceReader::Make(std::move(name), file_schema, size, std::move(next),
                                 std::move(bytes_read), options);
}

}  // namespace sluice::formats::internal
