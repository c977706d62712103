#include "sluice/connectors/postgres/pg_copy_encoder.h"

#include <arrow/array.h>
#include <arrow/type.h>
#include <arrow/type_traits.h>
#include <arrow/util/decimal.h>
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "sluice/formats/value_text.h"

namespace sluice::connectors::postgres {
namespace {

using Kind = CopyEncoder::Kind;

/// Seconds from the Unix epoch to PostgreSQL's (2000-01-01).
constexpr int64_t kEpochOffsetSeconds = 946684800;
constexpr int32_t kEpochOffsetDays = 10957;

void AppendInt16(int16_t value, std::string* out) {
  const auto bits = static_cast<uint16_t>(value);
  out->push_back(static_cast<char>(bits >> 8));
  out->push_back(static_cast<char>(bits));
}

void AppendInt32(int32_t value, std::string* out) {
  const auto bits = static_cast<uint32_t>(value);
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(bits >> shift));
}

void AppendInt64(int64_t value, std::string* out) {
  const auto bits = static_cast<uint64_t>(value);
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(bits >> shift));
}

/// Appends a field: its length, then `bytes`.
void AppendBytes(std::string_view bytes, std::string* out) {
  AppendInt32(static_cast<int32_t>(bytes.size()), out);
  out->append(bytes);
}

bool IsBinary(arrow::Type::type id) {
  return id == arrow::Type::BINARY || id == arrow::Type::LARGE_BINARY ||
         id == arrow::Type::BINARY_VIEW || id == arrow::Type::FIXED_SIZE_BINARY;
}

bool IsNested(arrow::Type::type id) {
  return id == arrow::Type::LIST || id == arrow::Type::LARGE_LIST ||
         id == arrow::Type::STRUCT || id == arrow::Type::MAP ||
         id == arrow::Type::FIXED_SIZE_LIST;
}

/// Integer value `row` of an integer array, and whether it fits in int64 (a uint64 above
/// INT64_MAX does not).
bool IntegerAt(const arrow::Array& array, int64_t row, int64_t* value) {
  switch (array.type_id()) {
    case arrow::Type::INT8:
      *value = static_cast<const arrow::Int8Array&>(array).Value(row);
      return true;
    case arrow::Type::INT16:
      *value = static_cast<const arrow::Int16Array&>(array).Value(row);
      return true;
    case arrow::Type::INT32:
      *value = static_cast<const arrow::Int32Array&>(array).Value(row);
      return true;
    case arrow::Type::INT64:
      *value = static_cast<const arrow::Int64Array&>(array).Value(row);
      return true;
    case arrow::Type::UINT8:
      *value = static_cast<const arrow::UInt8Array&>(array).Value(row);
      return true;
    case arrow::Type::UINT16:
      *value = static_cast<const arrow::UInt16Array&>(array).Value(row);
      return true;
    case arrow::Type::UINT32:
      *value = static_cast<const arrow::UInt32Array&>(array).Value(row);
      return true;
    case arrow::Type::UINT64: {
      uint64_t unsigned_value = static_cast<const arrow::UInt64Array&>(array).Value(row);
      *value = static_cast<int64_t>(unsigned_value);
      return unsigned_value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    }
    default:
      return false;
  }
}

double DoubleAt(const arrow::Array& array, int64_t row) {
  if (array.type_id() == arrow::Type::FLOAT) {
    return static_cast<const arrow::FloatArray&>(array).Value(row);
  }
  if (array.type_id() == arrow::Type::DOUBLE) {
    return static_cast<const arrow::DoubleArray&>(array).Value(row);
  }
  int64_t value = 0;
  IntegerAt(array, row, &value);
  return static_cast<double>(value);
}

std::string_view BytesAt(const arrow::Array& array, int64_t row) {
  switch (array.type_id()) {
    case arrow::Type::STRING:
      return static_cast<const arrow::StringArray&>(array).GetView(row);
    case arrow::Type::LARGE_STRING:
      return static_cast<const arrow::LargeStringArray&>(array).GetView(row);
    case arrow::Type::STRING_VIEW:
      return static_cast<const arrow::StringViewArray&>(array).GetView(row);
    case arrow::Type::BINARY:
      return static_cast<const arrow::BinaryArray&>(array).GetView(row);
    case arrow::Type::LARGE_BINARY:
      return static_cast<const arrow::LargeBinaryArray&>(array).GetView(row);
    case arrow::Type::BINARY_VIEW:
      return static_cast<const arrow::BinaryViewArray&>(array).GetView(row);
    case arrow::Type::FIXED_SIZE_BINARY:
      return static_cast<const arrow::FixedSizeBinaryArray&>(array).GetView(row);
    default:
      return {};
  }
}

/// Microseconds from the Unix epoch of timestamp `row`, rounded down.
int64_t MicrosAt(const arrow::TimestampArray& array, int64_t row) {
  const int64_t value = array.Value(row);
  switch (static_cast<const arrow::TimestampType&>(*array.type()).unit()) {
    case arrow::TimeUnit::SECOND:
      return value * 1000000;
    case arrow::TimeUnit::MILLI:
      return value * 1000;
    case arrow::TimeUnit::MICRO:
      return value;
    case arrow::TimeUnit::NANO:
      return value / 1000 - (value % 1000 < 0 ? 1 : 0);
  }
  return value;
}

/// Which conversion writes a field of `type` into a column of type `type_oid`, if any.
std::optional<Kind> ConversionFor(const arrow::DataType& type, uint32_t type_oid) {
  const auto id = type.id();
  switch (type_oid) {
    case oid::kBool:
      if (id == arrow::Type::BOOL) return Kind::kBool;
      break;
    case oid::kInt2:
      if (arrow::is_integer(id)) return Kind::kInt2;
      break;
    case oid::kInt4:
      if (arrow::is_integer(id)) return Kind::kInt4;
      break;
    case oid::kInt8:
      if (arrow::is_integer(id)) return Kind::kInt8;
      break;
    case oid::kFloat4:
      if (arrow::is_integer(id) || id == arrow::Type::FLOAT || id == arrow::Type::DOUBLE) {
        return Kind::kFloat4;
      }
      break;
    case oid::kFloat8:
      if (arrow::is_integer(id) || id == arrow::Type::FLOAT || id == arrow::Type::DOUBLE) {
        return Kind::kFloat8;
      }
      break;
    case oid::kNumeric:
      if (arrow::is_integer(id) || id == arrow::Type::FLOAT || id == arrow::Type::DOUBLE ||
          id == arrow::Type::DECIMAL128 || id == arrow::Type::DECIMAL256) {
        return Kind::kNumeric;
      }
      break;
    case oid::kText:
    case oid::kVarchar:
    case oid::kBpchar:
      if (arrow::is_string_or_string_view(id)) return Kind::kText;
      break;
    case oid::kJson:
      if (arrow::is_string_or_string_view(id)) return Kind::kText;
      if (IsNested(id)) return Kind::kJsonText;
      break;
    case oid::kJsonb:
      if (arrow::is_string_or_string_view(id) || IsNested(id)) return Kind::kJsonb;
      break;
    case oid::kBytea:
      if (IsBinary(id) || arrow::is_string_or_string_view(id)) return Kind::kBytea;
      break;
    case oid::kDate:
      if (id == arrow::Type::DATE32 || id == arrow::Type::DATE64) return Kind::kDate;
      break;
    case oid::kTimestamp:
    case oid::kTimestamptz:
      if (id == arrow::Type::TIMESTAMP) return Kind::kTimestamp;
      break;
    case oid::kUuid:
      if (arrow::is_string_or_string_view(id)) return Kind::kUuid;
      if (id == arrow::Type::FIXED_SIZE_BINARY &&
          static_cast<const arrow::FixedSizeBinaryType&>(type).byte_width() == 16) {
        return Kind::kUuid;
      }
      break;
    default:
      break;
  }
  return std::nullopt;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// The 16 bytes of a uuid written as text (with or without hyphens, optionally in braces).
bool ParseUuid(std::string_view text, std::string* bytes) {
  if (text.size() >= 2 && text.front() == '{' && text.back() == '}') {
    text = text.substr(1, text.size() - 2);
  }
  bytes->clear();
  int high = -1;
  for (char c : text) {
    if (c == '-') continue;
    int digit = HexValue(c);
    if (digit < 0) return false;
    if (high < 0) {
      high = digit;
    } else {
      bytes->push_back(static_cast<char>(high * 16 + digit));
      high = -1;
    }
  }
  return high < 0 && bytes->size() == 16;
}

Status RowError(std::string_view sqlstate, int64_t row, std::string_view message) {
  return Status::Invalid("[", sqlstate, "] row ", row, ": ", message);
}

}  // namespace

bool AppendNumericFromText(std::string_view text, std::string* out) {
  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  size_t point = text.find('.');
  std::string_view whole = text.substr(0, point);
  std::string_view fraction =
      point == std::string_view::npos ? std::string_view() : text.substr(point + 1);
  if (whole.empty() && fraction.empty()) return false;
  for (char c : whole) {
    if (c < '0' || c > '9') return false;
  }
  for (char c : fraction) {
    if (c < '0' || c > '9') return false;
  }
  // Base-10000 digits: the whole part padded on the left, the fraction on the right, to
  // groups of four decimal digits.
  std::string digits(static_cast<size_t>((4 - whole.size() % 4) % 4), '0');
  digits.append(whole);
  const size_t whole_groups = digits.size() / 4;
  digits.append(fraction);
  digits.append(static_cast<size_t>((4 - fraction.size() % 4) % 4), '0');
  std::vector<int16_t> groups;
  groups.reserve(digits.size() / 4);
  for (size_t i = 0; i < digits.size(); i += 4) {
    groups.push_back(static_cast<int16_t>((digits[i] - '0') * 1000 + (digits[i + 1] - '0') * 100 +
                                          (digits[i + 2] - '0') * 10 + (digits[i + 3] - '0')));
  }
  int weight = static_cast<int>(whole_groups) - 1;
  size_t first = 0;
  while (first < groups.size() && groups[first] == 0) {
    ++first;
    --weight;
  }
  size_t last = groups.size();
  while (last > first && groups[last - 1] == 0) --last;
  if (first == last) {
    weight = 0;
    negative = false;
  }
  std::string field;
  AppendInt16(static_cast<int16_t>(last - first), &field);
  AppendInt16(static_cast<int16_t>(weight), &field);
  AppendInt16(static_cast<int16_t>(negative ? 0x4000 : 0x0000), &field);
  AppendInt16(static_cast<int16_t>(fraction.size()), &field);
  for (size_t i = first; i < last; ++i) AppendInt16(groups[i], &field);
  AppendBytes(field, out);
  return true;
}

Result<CopyEncoder> CopyEncoder::Make(const arrow::Schema& schema,
                                      const std::vector<TableColumn>& columns) {
  CopyEncoder encoder;
  if (columns.size() != static_cast<size_t>(schema.num_fields())) {
    return Status::Invalid("the COPY encoder needs one column per field");
  }
  for (int i = 0; i < schema.num_fields(); ++i) {
    const auto& field = schema.field(i);
    const auto& column = columns[static_cast<size_t>(i)];
    auto kind = ConversionFor(*field->type(), column.type_oid);
    if (!kind) {
      return Status::TypeError("field '", field->name(), "' (", field->type()->ToString(),
                               ") cannot be written to column '", column.name, "' of type ",
                               column.type_name,
                               "; cast the field to a matching type first (cast processor)");
    }
    encoder.columns_.push_back(Column{*kind, field->type(), field->name(), column.type_name});
  }
  return encoder;
}

void CopyEncoder::AppendHeader(std::string* out) {
  static constexpr char kSignature[] = "PGCOPY\n\377\r\n";
  out->append(kSignature, sizeof(kSignature));  // with its terminating zero byte
  AppendInt32(0, out);                          // flags
  AppendInt32(0, out);                          // header extension length
}

void CopyEncoder::AppendTrailer(std::string* out) { AppendInt16(-1, out); }

Status CopyEncoder::AppendRows(const arrow::RecordBatch& batch, int64_t offset, int64_t length,
                               std::string* out) const {
  const auto field_count = static_cast<int16_t>(columns_.size());
  std::vector<const arrow::Array*> arrays;
  arrays.reserve(columns_.size());
  for (int i = 0; i < batch.num_columns(); ++i) arrays.push_back(batch.column(i).get());
  for (int64_t row = offset; row < offset + length; ++row) {
    AppendInt16(field_count, out);
    for (size_t i = 0; i < columns_.size(); ++i) {
      const arrow::Array& array = *arrays[i];
      if (array.IsNull(row)) {
        AppendInt32(-1, out);
        continue;
      }
      SLUICE_RETURN_NOT_OK(AppendValue(columns_[i], array, row, out));
    }
  }
  return Status::OK();
}

Status CopyEncoder::AppendValue(const Column& column, const arrow::Array& array, int64_t row,
                                std::string* out) const {
  switch (column.kind) {
    case Kind::kBool:
      AppendInt32(1, out);
      out->push_back(static_cast<const arrow::BooleanArray&>(array).Value(row) ? 1 : 0);
      return Status::OK();
    case Kind::kInt2:
    case Kind::kInt4:
    case Kind::kInt8: {
      int64_t value = 0;
      bool fits = IntegerAt(array, row, &value);
      const int64_t low = column.kind == Kind::kInt2   ? std::numeric_limits<int16_t>::min()
                          : column.kind == Kind::kInt4 ? std::numeric_limits<int32_t>::min()
                                                       : std::numeric_limits<int64_t>::min();
      const int64_t high = column.kind == Kind::kInt2   ? std::numeric_limits<int16_t>::max()
                           : column.kind == Kind::kInt4 ? std::numeric_limits<int32_t>::max()
                                                        : std::numeric_limits<int64_t>::max();
      if (!fits || value < low || value > high) {
        return RowError("22003", row,
                        fmt::format("value of field '{}' is out of range for column type {}",
                                    column.name, column.type_name));
      }
      if (column.kind == Kind::kInt2) {
        AppendInt32(2, out);
        AppendInt16(static_cast<int16_t>(value), out);
      } else if (column.kind == Kind::kInt4) {
        AppendInt32(4, out);
        AppendInt32(static_cast<int32_t>(value), out);
      } else {
        AppendInt32(8, out);
        AppendInt64(value, out);
      }
      return Status::OK();
    }
    case Kind::kFloat4: {
      const auto value = static_cast<float>(DoubleAt(array, row));
      uint32_t bits = 0;
      std::memcpy(&bits, &value, sizeof(bits));
      AppendInt32(4, out);
      AppendInt32(static_cast<int32_t>(bits), out);
      return Status::OK();
    }
    case Kind::kFloat8: {
      const double value = DoubleAt(array, row);
      uint64_t bits = 0;
      std::memcpy(&bits, &value, sizeof(bits));
      AppendInt32(8, out);
      AppendInt64(static_cast<int64_t>(bits), out);
      return Status::OK();
    }
    case Kind::kNumeric: {
      std::string text;
      const auto id = array.type_id();
      if (id == arrow::Type::DECIMAL128) {
        text = static_cast<const arrow::Decimal128Array&>(array).FormatValue(row);
      } else if (id == arrow::Type::DECIMAL256) {
        text = static_cast<const arrow::Decimal256Array&>(array).FormatValue(row);
      } else if (id == arrow::Type::FLOAT || id == arrow::Type::DOUBLE) {
        const double value = DoubleAt(array, row);
        if (std::isnan(value)) {
          // NaN: no digits, sign 0xC000.
          AppendInt32(8, out);
          AppendInt16(0, out);
          AppendInt16(0, out);
          AppendInt16(static_cast<int16_t>(0xC000), out);
          AppendInt16(0, out);
          return Status::OK();
        }
        if (std::isinf(value)) {
          return RowError("22003", row,
                          fmt::format("field '{}' is infinite, which column type {} cannot hold",
                                      column.name, column.type_name));
        }
        char buffer[400];
        auto written = std::to_chars(buffer, buffer + sizeof(buffer), value,
                                     std::chars_format::fixed);
        text.assign(buffer, written.ptr);
      } else if (id == arrow::Type::UINT64) {
        text = std::to_string(static_cast<const arrow::UInt64Array&>(array).Value(row));
      } else {
        int64_t value = 0;
        IntegerAt(array, row, &value);
        text = std::to_string(value);
      }
      if (!AppendNumericFromText(text, out)) {
        return RowError("22P02", row,
                        fmt::format("value '{}' of field '{}' is not a number", text, column.name));
      }
      return Status::OK();
    }
    case Kind::kText:
    case Kind::kBytea:
      AppendBytes(BytesAt(array, row), out);
      return Status::OK();
    case Kind::kJsonText:
    case Kind::kJsonb: {
      std::string text;
      if (column.kind == Kind::kJsonb) text.push_back(1);  // jsonb's binary format version
      if (arrow::is_string_or_string_view(array.type_id())) {
        text.append(BytesAt(array, row));
      } else {
        formats::AppendJsonValue(array, row, &text);
      }
      AppendBytes(text, out);
      return Status::OK();
    }
    case Kind::kDate: {
      int64_t days = 0;
      if (array.type_id() == arrow::Type::DATE32) {
        days = static_cast<const arrow::Date32Array&>(array).Value(row);
      } else {
        const int64_t millis = static_cast<const arrow::Date64Array&>(array).Value(row);
        days = millis / 86400000 - (millis % 86400000 < 0 ? 1 : 0);
      }
      AppendInt32(4, out);
      AppendInt32(static_cast<int32_t>(days - kEpochOffsetDays), out);
      return Status::OK();
    }
    case Kind::kTimestamp: {
      const int64_t micros = MicrosAt(static_cast<const arrow::TimestampArray&>(array), row);
      AppendInt32(8, out);
      AppendInt64(micros - kEpochOffsetSeconds * 1000000, out);
      return Status::OK();
    }
    case Kind::kUuid: {
      std::string bytes;
      std::string_view value = BytesAt(array, row);
      if (array.type_id() == arrow::Type::FIXED_SIZE_BINARY) {
        bytes.assign(value);
      } else if (!ParseUuid(value, &bytes)) {
        return RowError("22P02", row,
                        fmt::format("field '{}' holds '{}', which is not a uuid", column.name,
                                    value.substr(0, 64)));
      }
      AppendBytes(bytes, out);
      return Status::OK();
    }
  }
  return Status::OK();
}

}  // namespace sluice::connectors::postgres
