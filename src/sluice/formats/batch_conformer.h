#pragma once

#include <arrow/type_fwd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/exec/dead_letter.h"
#include "sluice/formats/time_text.h"

namespace sluice::formats {

/// Names row `row` of the batch being converted for a dead letter, e.g. "data.csv:line 17".
using RowOrigin = std::function<std::string(int64_t row)>;

/// Converts a whole column to `type`. Beyond Arrow's casts, text and epoch numbers convert to
/// timestamps and dates with Sluice's own rules (time_text.h), read as `time` says, and binary
/// converts to text only when it is valid UTF-8. Fails (Status::Invalid) when any value does
/// not convert.
Result<std::shared_ptr<arrow::Array>> ConvertColumn(const std::shared_ptr<arrow::Array>& values,
                                                    const std::shared_ptr<arrow::DataType>& type,
                                                    const TimeReading& time = {});

/// The narrowest type every non-null value of a text column (string or binary) converts to,
/// tried in order: int64, double, bool, date, timestamp, and string when nothing else fits.
/// Whole numbers beyond int64 are Status::Invalid rather than doubles, which would round them.
Result<std::shared_ptr<arrow::DataType>> InferTextType(const std::shared_ptr<arrow::Array>& values);

/// Brings batches to one target schema, field by field (by name; a missing field becomes
/// nulls, extra fields are dropped), converting types with ConvertColumn. A row with a value
/// that does not convert becomes a dead letter naming the field, the value and the target type,
/// and the other rows go on: a bad value never costs its neighbours. Timestamp and date fields
/// are read as `times` says for each (a text format, an epoch unit).
///
/// Immutable after construction; safe to share between threads.
class BatchConformer {
 public:
  explicit BatchConformer(std::shared_ptr<arrow::Schema> target, TimeReadings times = {});

  const std::shared_ptr<arrow::Schema>& schema() const { return target_; }

  /// Returns `batch` conformed to schema() without its bad rows; each bad row is appended to
  /// `rejected` with its origin and the row rendered as JSON. Finding the bad rows bisects the
  /// failing column, so a batch with a few bad values costs a few extra conversions, not one
  /// per row.
  Result<std::shared_ptr<arrow::RecordBatch>> Conform(
      const std::shared_ptr<arrow::RecordBatch>& batch, const RowOrigin& origin,
      std::vector<exec::DeadLetter>* rejected) const;

 private:
  std::shared_ptr<arrow::Schema> target_;
  /// The TimeReading of each target field, by index.
  std::vector<TimeReading> times_;
};

}  // namespace sluice::formats
