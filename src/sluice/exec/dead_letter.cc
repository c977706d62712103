#include "sluice/exec/dead_letter.h"

#include <arrow/builder.h>
#include <arrow/type.h>

#include <chrono>

#include "sluice/formats/json_row_encoder.h"
#include "sluice/formats/type_names.h"
#include "sluice/formats/utf8_text.h"

namespace sluice::exec {
namespace {

/// Appends `text` as valid UTF-8, each byte that is not replaced by U+FFFD, so that the
/// dead-letter output opens in every reader whatever the input held.
Status AppendReadable(arrow::StringBuilder& builder, std::string_view text) {
  if (formats::IsValidUtf8(text)) return builder.Append(text);
  return builder.Append(formats::ReplaceInvalidUtf8(text));
}

/// What a reason gains when its record had to be escaped (EscapeInvalidUtf8).
constexpr std::string_view kEscapedRecordNote =
    " (the record is not valid UTF-8: each byte that is not is written \\xNN, and each "
    "backslash \\\\)";

/// Appends the reason and the record of `letter`. The record is evidence, so it is never
/// replaced: one that is not valid UTF-8 (undecodable input) is escaped, reversibly, and its
/// reason says so.
Status AppendReasonAndRecord(const DeadLetter& letter, arrow::StringBuilder& reason,
                             arrow::StringBuilder& record) {
  if (formats::IsValidUtf8(letter.record)) {
    SLUICE_RETURN_NOT_OK(AppendReadable(reason, letter.reason));
    return record.Append(letter.record);
  }
  SLUICE_RETURN_NOT_OK(AppendReadable(reason, letter.reason + std::string(kEscapedRecordNote)));
  return record.Append(formats::EscapeInvalidUtf8(letter.record));
}

}  // namespace

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
    SLUICE_RETURN_NOT_OK(AppendReadable(stage, letter.stage));
    SLUICE_RETURN_NOT_OK(AppendReadable(source, letter.source));
    SLUICE_RETURN_NOT_OK(AppendReadable(origin, letter.origin));
    SLUICE_RETURN_NOT_OK(AppendReasonAndRecord(letter, reason, record));
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
  // Kept bytes: DeadLettersToBatch escapes them, so the record stays exact evidence.
  formats::JsonRowEncoder(*batch.schema(), formats::InvalidUtf8::kKeep)
      .AppendRow(batch, row, &json);
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
