#pragma once

#include <arrow/type_fwd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/exec/dead_letter.h"
#include "sluice/formats/time_text.h"

namespace sluice::formats {

/// Decodes JSON objects (one per record: a line of a file, a Kafka message) into Arrow
/// batches of a fixed schema.
///
/// Per record: fields are matched by name; a missing field or a JSON null is null; fields not
/// in the schema are ignored; a nested object or array bound for a string field is kept as its
/// JSON text. Numbers convert to any numeric field when they fit (3.0 is a fine int64, 3.5 is
/// not), and quoted numbers are accepted for numeric fields because many producers quote them.
/// A timestamp field takes ISO 8601 text or an epoch number whose unit is chosen by magnitude
/// (see EpochToMicros), unless `times` says how that field is read (a text format, an epoch
/// unit). A record that is not valid JSON, not an object, or has a value that does
/// not fit its field is rejected as a whole, with the reason, and appends nothing.
///
/// Owns its parser and builders; use from one thread at a time.
class JsonLinesDecoder {
 public:
  ~JsonLinesDecoder();

  /// A decoder for `schema`. Supported field types: bool, signed and unsigned integers,
  /// float32/float64, string, large_string, binary, timestamp (any unit) and date32.
  static Result<std::unique_ptr<JsonLinesDecoder>> Make(std::shared_ptr<arrow::Schema> schema,
                                                        const TimeReadings& times = {});

  /// Infers a schema from sample records: fields in order of first appearance; integers as
  /// int64, any fractional number as double, booleans as bool, ISO 8601 text as timestamp (or
  /// date when no value has a time of day), other text, nested values and fields whose
  /// samples disagree as string. Records that are not JSON objects are skipped. The strings
  /// "NaN", "Infinity" and "-Infinity" (how the JSON lines writer spells those doubles) count
  /// as doubles.
  static std::shared_ptr<arrow::Schema> InferSchema(const std::vector<std::string_view>& records);

  const std::shared_ptr<arrow::Schema>& schema() const;

  /// Decodes one record and appends it to the batch being built. Status::Invalid, with the
  /// reason as message, when the record is rejected; nothing is then appended.
  Status Append(std::string_view record);

  /// Rows appended since the last Finish().
  int64_t num_rows() const;

  /// The rows appended so far as one batch; the decoder starts a new batch afterwards.
  Result<std::shared_ptr<arrow::RecordBatch>> Finish();

  /// Decodes `records` into one batch; rejected ones become dead letters (reason, origin from
  /// `origin(i)`, the raw record) in `rejected`, stage and source left for the caller.
  Result<std::shared_ptr<arrow::RecordBatch>> Decode(
      const std::vector<std::string_view>& records,
      const std::function<std::string(size_t index)>& origin,
      std::vector<exec::DeadLetter>* rejected);

  /// Decodes a single record (a message) named `origin`.
  Result<std::shared_ptr<arrow::RecordBatch>> Decode(std::string_view record,
                                                     std::string_view origin,
                                                     std::vector<exec::DeadLetter>* rejected);

 private:
  struct State;
  explicit JsonLinesDecoder(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sluice::formats
