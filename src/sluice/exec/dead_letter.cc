#include "sluice/exec/dead_letter.h"

#include <arrow/builder.h>
#include <arrow/type.h>

#include <chrono>

#include "sluice/formats/json_row_encoder.h"
#include "sluice/formats/type_names.h"

namespace sluice::exec {

std::shared_ptr<arrow::Schema> DeadLetterSchema() {
  static const std::shared_ptr<arrow::Schema> schema = arrow::schema({
      arrow::field("rejected_at", formats::TimestampType(), /*nullable=*/false),
      arrow::field("stage", arrow::utf8(), false),
      arrow::field("source", arrow::utf8(), false),
      arrow::field("origin", arrow::utf8(), false),
      arrow::field("reason", arrow::utf8(), false),
      arrow::field("record", arrow::utf8(), false),
  });
  return schema;
}

Result<std::shared_ptr<arrow::RecordBatch>> DeadLettersToBatch(
    const std::vector<DeadLetter>& letters) {
  // One timestamp for the whole batch: letters are drained together, and a per-letter clock
  // read would only add noise.
  int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  arrow::TimestampBuilder rejected_at(formats::TimestampType(), arrow::default_memory_pool());
  arrow::StringBuilder stage, source, origin, reason, record;
  SLUICE_RETURN_NOT_OK(rejected_at.Reserve(static_cast<int64_t>(letters.size())));
  for (const auto& letter : letters) {
    rejected_at.UnsafeAppend(now);
    SLUICE_RETURN_NOT_OK(stage.Append(letter.stage));
    SLUICE_RETURN_NOT_OK(source.Append(letter.source));
    SLUICE_RETURN_NOT_OK(origin.Append(letter.origin));
    SLUICE_RETURN_NOT_OK(reason.Append(letter.reason));
    SLUICE_RETURN_NOT_OK(record.Append(letter.record));
  }
  std::vector<std::shared_ptr<arrow::Array>> columns(6);
  SLUICE_RETURN_NOT_OK(rejected_at.Finish(&columns[0]));
  SLUICE_RETURN_NOT_OK(stage.Finish(&columns[1]));
  SLUICE_RETURN_NOT_OK(source.Finish(&columns[2]));
  SLUICE_RETURN_NOT_OK(origin.Finish(&columns[3]));
  SLUICE_RETURN_NOT_OK(reason.Finish(&columns[4]));
  SLUICE_RETURN_NOT_OK(record.Finish(&columns[5]));
  return arrow::RecordBatch::Make(DeadLetterSchema(), static_cast<int64_t>(letters.size()),
                                  std::move(columns));
}

std::string RowToJson(const arrow::RecordBatch& batch, int64_t row) {
  std::string json;
  formats::JsonRowEncoder(*batch.schema()).AppendRow(batch, row, &json);
  return json;
}

void DeadLetterQueue::Add(DeadLetter letter) {
  std::lock_guard lock(mutex_);
  if (letter.reason.rfind("late", 0) == 0) ++late_;
  skipped_rows_ += letter.skipped_rows;
  skipped_bytes_ += letter.skipped_bytes;
  pending_.push_back(std::move(letter));
  ++total_;
}

std::vector<DeadLetter> DeadLetterQueue::Drain() {
  std::lock_guard lock(mutex_);
  std::vector<DeadLetter> drained;
  drained.swap(pending_);
  return drained;
}

size_t DeadLetterQueue::pending() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

void DeadLetterQueue::Locate(size_t first, const std::function<void(DeadLetter&)>& locate) {
  std::lock_guard lock(mutex_);
  for (size_t i = first; i < pending_.size(); ++i) locate(pending_[i]);
}

int64_t DeadLetterQueue::total() const {
  std::lock_guard lock(mutex_);
  return total_;
}

int64_t DeadLetterQueue::late() const {
  std::lock_guard lock(mutex_);
  return late_;
}

int64_t DeadLetterQueue::skipped_rows() const {
  std::lock_guard lock(mutex_);
  return skipped_rows_;
}

int64_t DeadLetterQueue::skipped_bytes() const {
  std::lock_guard lock(mutex_);
  return skipped_bytes_;
}

}  // namespace sluice::exec
