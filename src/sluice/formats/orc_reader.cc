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

namespace sluice::formats::internal {
namespace {

/// Runs `read`, turning an exception of the ORC library that escaped the adapter into a Status.
template <typename Read>
auto Guard(Read&& read) -> decltype(read()) {
  try {
    return read();
  } catch (const std::exception& error) {
    return Status::IOError(error.what());
  }
}

/// Reads the stripes of a file in order; `Next` is the BatchSourceReader's NextBatch.
class Stripes {
 public:
  Stripes(std::string name, std::unique_ptr<arrow::adapters::orc::ORCFileReader> reader,
          std::vector<int> columns, int64_t size, ReadOptions options)
      : name_(std::move(name)),
        reader_(std::move(reader)),
        columns_(std::move(columns)),
        size_(size),
        options_(std::move(options)),
        stripes_(reader_->NumberOfStripes()) {}

  Result<std::shared_ptr<arrow::RecordBatch>> Next(std::vector<exec::DeadLetter>* rejected) {
    while (true) {
      if (batches_ == nullptr) {
        if (stripe_ >= stripes_) return nullptr;
        stripe_rows_read_ = 0;
        info_ = reader_->GetStripeInformation(stripe_);
        Status opened = Guard([&]() -> Status {
          SLUICE_RETURN_NOT_OK(reader_->Seek(info_.first_row_id));
          SLUICE_ASSIGN_OR_RAISE(batches_, reader_->NextStripeReader(options_.batch_rows, columns_));
          return Status::OK();
        });
        if (!opened.ok() || batches_ == nullptr) {
          SLUICE_RETURN_NOT_OK(SkipStripe(opened, rejected));
          continue;
        }
      }
      std::shared_ptr<arrow::RecordBatch> batch;
      Status read = Guard([&]() -> Status {
        SLUICE_ASSIGN_OR_RAISE(batch, batches_->Next());
        return Status::OK();
      });
      if (!read.ok()) {
        SLUICE_RETURN_NOT_OK(SkipStripe(read, rejected));
        continue;
      }
      if (batch == nullptr) {
        bytes_done_ = info_.offset + info_.length;
        batches_.reset();
        ++stripe_;
        continue;
      }
      stripe_rows_read_ += batch->num_rows();
      return batch;
    }
  }

  int64_t BytesRead() const {
    if (stripe_ >= stripes_) return size_;
    return info_.num_rows == 0
               ? bytes_done_
               : info_.offset + info_.length * stripe_rows_read_ / info_.num_rows;
  }

 private:
  Status SkipStripe(const Status& error, std::vector<exec::DeadLetter>* rejected) {
    const int64_t lost = info_.num_rows - stripe_rows_read_;
    exec::DeadLetter letter;
    letter.origin = fmt::format("{}:stripe {} of {} (rows {}-{})", name_, stripe_ + 1, stripes_,
                                info_.first_row_id + 1, info_.first_row_id + info_.num_rows);
    letter.reason = fmt::format(
        "ORC stripe {} is unreadable ({}): {} of its rows are lost", stripe_ + 1,
        OneLine(error.ok() ? std::string("no reader for it") : error.message()), lost);
    letter.skipped_rows = lost;
    letter.skipped_bytes =
        info_.num_rows == 0 ? info_.length : info_.length * lost / info_.num_rows;
    bytes_done_ = info_.offset + info_.length;
    batches_.reset();
    ++stripe_;
    return ReportDamage(options_, std::move(letter), rejected);
  }

  std::string name_;
  std::unique_ptr<arrow::adapters::orc::ORCFileReader> reader_;
  std::vector<int> columns_;
  int64_t size_;
  ReadOptions options_;
  int64_t stripes_;
  int64_t stripe_ = 0;
  arrow::adapters::orc::StripeInformation info_{};
  std::shared_ptr<arrow::RecordBatchReader> batches_;
  int64_t stripe_rows_read_ = 0;
  int64_t bytes_done_ = 0;
};

}  // namespace

Result<std::unique_ptr<RecordReader>> OpenOrcReader(
    std::shared_ptr<arrow::io::RandomAccessFile> file, std::string name,
    const ReadOptions& options) {
  SLUICE_ASSIGN_OR_RAISE(int64_t size, file->GetSize());
  std::unique_ptr<arrow::adapters::orc::ORCFileReader> reader;
  std::shared_ptr<arrow::Schema> file_schema;
  Status opened = Guard([&]() -> Status {
    SLUICE_ASSIGN_OR_RAISE(reader,
                           arrow::adapters::orc::ORCFileReader::Open(file, arrow::default_memory_pool()));
    SLUICE_ASSIGN_OR_RAISE(file_schema, reader->ReadSchema());
    return Status::OK();
  });
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
  auto stripes = std::make_shared<Stripes>(name, std::move(reader), std::move(columns), size,
                                           options);
  auto next = [stripes](std::vector<exec::DeadLetter>* rejected) {
    return stripes->Next(rejected);
  };
  auto bytes_read = [stripes]() { return stripes->BytesRead(); };
  return BatchSourceReader::Make(std::move(name), file_schema, size, std::move(next),
                                 std::move(bytes_read), options);
}

}  // namespace sluice::formats::internal
