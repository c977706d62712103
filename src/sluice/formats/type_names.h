#pragma once

#include <arrow/type.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::formats {

/// Parses a type name as written in a pipeline's `schema:` or `cast:` map. Accepted: bool,
/// int8..int64, uint8..uint64, float32/float, float64/double, string/utf8, large_string,
/// binary, timestamp and date, plus Arrow's spellings of them (boolean, utf8, date32, ...).
/// `timestamp` is timestamp[us, tz=UTC]: microseconds are precise enough for event time and
/// UTC keeps results independent of the machine's zone. `date` is date32.
/// An unknown name is Status::Invalid whose message lists or suggests the known names.
Result<std::shared_ptr<arrow::DataType>> ParseTypeName(std::string_view name);

/// A field type as declared in a source's `schema:` map, with how its epoch numbers are read.
struct DeclaredType {
  std::shared_ptr<arrow::DataType> type;
  /// Set by timestamp_s, timestamp_ms, timestamp_us and timestamp_ns: numbers are epoch times in
  /// that unit rather than of a unit guessed by magnitude. The type is still timestamp[us, UTC].
  std::optional<arrow::TimeUnit::type> epoch_unit;
};

/// Parses a type of a source's `schema:` map: ParseTypeName's names, and the timestamp_<unit>
/// names that fix the unit of epoch numbers.
Result<DeclaredType> ParseDeclaredType(std::string_view name);

/// The canonical names ParseDeclaredType takes, for hints.
std::vector<std::string> DeclaredTypeNames();

/// The name a user would write for `type` (the inverse of ParseTypeName where one exists,
/// Arrow's ToString() otherwise), for messages and `sluice plugins`.
std::string TypeName(const arrow::DataType& type);

/// The canonical type names, for "did you mean" hints.
std::vector<std::string> TypeNames();

/// timestamp[us, tz=UTC], the one timestamp type Sluice produces when decoding text.
const std::shared_ptr<arrow::DataType>& TimestampType();

}  // namespace sluice::formats
