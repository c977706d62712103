#pragma once

#include <arrow/type_fwd.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::formats {

/// What JSON text does with bytes of a string that are not valid UTF-8.
enum class InvalidUtf8 {
  /// Each becomes U+FFFD, so that the output is valid UTF-8 (and JSON) for every reader: the
  /// rule for every output of rows.
  kReplace,
  /// Kept as they are, for a dead letter's record: DeadLettersToBatch then escapes the whole
  /// record so that the original bytes survive (see EscapeInvalidUtf8).
  kKeep,
};

/// Appends `text` as a JSON string literal (quoted, with control characters, quotes and
/// backslashes escaped, and invalid UTF-8 treated as `invalid` says).
void AppendJsonString(std::string_view text, std::string* out,
                      InvalidUtf8 invalid = InvalidUtf8::kReplace);

/// Appends the shortest text that reads back as exactly `value`, so that doubles keep their
/// precision through text formats. A whole number keeps a ".0" so that it reads back as a
/// double rather than an integer when a schema is inferred. NaN and the infinities, which JSON
/// has no number for, are the strings "NaN", "Infinity" and "-Infinity" (as in protobuf's JSON
/// mapping and Jackson); the JSON lines reader reads them back into double fields.
void AppendDouble(double value, std::string* out);
void AppendFloat(float value, std::string* out);

/// Appends element `index` of `array` as a JSON value: numbers as numbers (NaN and infinities
/// as the strings AppendDouble writes), timestamps and dates as ISO 8601 strings, binary as
/// base64, lists as arrays, structs and maps as objects, nulls as null.
void AppendJsonValue(const arrow::Array& array, int64_t index, std::string* out,
                     InvalidUtf8 invalid = InvalidUtf8::kReplace);

/// Appends element `index` of `array` (which must not be null) as plain text for a CSV cell:
/// like AppendJsonValue but strings are unquoted, their bytes kept as they are, and
/// NaN/infinities are "NAN", "inf", "-inf". (Not "NaN": Arrow's CSV reader takes "NaN" and
/// "nan" for nulls by default, while every spelling here reads back as a double in Arrow,
/// DuckDB and pandas.)
void AppendPlainValue(const arrow::Array& array, int64_t index, std::string* out);

}  // namespace sluice::formats
