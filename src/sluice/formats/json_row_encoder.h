#pragma once

#include <arrow/type_fwd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/formats/value_text.h"

namespace sluice::formats {

/// Renders rows of batches with one schema as one-line JSON objects, for the JSON lines writer
/// and for dead-letter records. Field names are escaped once, at construction, not per row.
/// Strings that are not valid UTF-8 are treated as `invalid` says: replaced for output, kept
/// for a dead letter's record. Not thread-safe; cheap to build.
class JsonRowEncoder {
 public:
  explicit JsonRowEncoder(const arrow::Schema& schema, InvalidUtf8 invalid = InvalidUtf8::kReplace);

  /// Appends row `row` of `batch` (which must have the encoder's schema) as a JSON object,
  /// without a trailing newline. Null fields are written as null, so every field is present.
  void AppendRow(const arrow::RecordBatch& batch, int64_t row, std::string* out) const;

 private:
  /// `"name":` for each field.
  std::vector<std::string> keys_;
  InvalidUtf8 invalid_;
};

}  // namespace sluice::formats
