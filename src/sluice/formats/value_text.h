#pragma once

#include <arrow/type_fwd.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::formats {

/// Appends `text` as a JSON string literal (quoted, with control characters, quotes and
/// backslashes escaped). Bytes that are not valid UTF-8 are kept as they are.
void AppendJsonString(std::string_view text, std::string* out);

/// Appends the shortest text that reads back as exactly `value`, so that doubles keep their
/// precision through text formats. A whole number keeps a ".0" so that it reads back as a
/// double rather than an integer when a schema is inferred.
void AppendDouble(double value, std::string* out);
void AppendFloat(float value, std::string* out);

/// Appends element `index` of `array` as a JSON value: numbers as numbers (NaN and infinities
/// as null, since JSON has no spelling for them), timestamps and dates as ISO 8601 strings,
/// binary as base64, lists as arrays, structs and maps as objects, nulls as null.
void AppendJsonValue(const arrow::Array& array, int64_t index, std::string* out);

/// Appends element `index` of `array` (which must not be null) as plain text for a CSV cell:
/// like AppendJsonValue but strings are unquoted and NaN/infinities are "NaN", "inf", "-inf".
void AppendPlainValue(const arrow::Array& array, int64_t index, std::string* out);

}  // namespace sluice::formats
