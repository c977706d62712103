#include "sluice/formats/row_groups.h"

#include <fmt/format.h>

#include "sluice/formats/readers_internal.h"

namespace sluice::formats::internal {
namespace {

/// Runs `read`, turning the exceptions the Parquet and ORC libraries throw for corrupt data
/// into a Status.
template <typename Read>
Status Guard(Read&& read) {
  try {
    return read();
  } catch (const std::exception& error) {
    return Status::IOError(error.what());
  }
}

}  // namespace

Result<std::shared_ptr<arrow::RecordBatch>> RowGroupReader::Next(
    std::vector<exec::DeadLetter>* rejected) {
  while (true) {
    if (batches_ == nullptr) {
      if (group_ >= num_groups()) return nullptr;
      group_rows_read_ = 0;
      Status opened = Guard([&]() -> Status {
        SLUICE_ASSIGN_OR_RAISE(batches_, OpenGroup(group_));
        return Status::OK();
      });
      if (!opened.ok() || batches_ == nullptr) {
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
      rows_done_ += GroupRows(group_);
      bytes_done_ += GroupBytes(group_);
      batches_.reset();
      ++group_;
      continue;
    }
    group_rows_read_ += batch->num_rows();
    return batch;
  }
}

int64_t RowGroupReader::BytesRead() const {
  if (group_ >= num_groups()) return bytes_done_;
  int64_t rows = GroupRows(group_);
  return bytes_done_ + (rows == 0 ? 0 : GroupBytes(group_) * group_rows_read_ / rows);
}

Status RowGroupReader::SkipGroup(const Status& error, std::vector<exec::DeadLetter>* rejected) {
  const int64_t rows = GroupRows(group_);
  const int64_t bytes = GroupBytes(group_);
  exec::DeadLetter letter;
  letter.origin = fmt::format("{}:{} {} of {} (rows {}-{})", name_, noun_, group_ + 1,
                              num_groups(), rows_done_ + 1, rows_done_ + rows);
  std::string why = error.ok() ? std::string("it has no reader") : OneLine(error.message());
  letter.reason = fmt::format("{} {} is unreadable ({}): {} of its rows are lost", noun_,
                              group_ + 1, why, rows - group_rows_read_);
  letter.skipped_rows = rows - group_rows_read_;
  letter.skipped_bytes = rows == 0 ? bytes : bytes * (rows - group_rows_read_) / rows;
  rows_done_ += rows;
  bytes_done_ += bytes;
  batches_.reset();
  ++group_;
  return ReportDamage(options_, std::move(letter), rejected);
}

}  // namespace sluice::formats::internal
