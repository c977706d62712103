#include "sluice/connectors/mysql/mysql_values.h"

#include <arrow/array.h>
#include <arrow/type.h>
#include <arrow/util/decimal.h>
#include <fmt/format.h>

#include <chrono>
#include <cmath>

namespace sluice::connectors::mysql {
namespace {

template <typename ArrayType>
bool AppendInteger(const arrow::Array& array, int64_t row, const Escape&, std::string* out,
                   std::string*) {
  fmt::format_to(std::back_inserter(*out), "{}",
                 static_cast<const ArrayType&>(array).Value(row));
  return true;
}

template <typename ArrayType>
bool AppendFloating(const arrow::Array& array, int64_t row, const Escape&, std::string* out,
                    std::string* reason) {
  auto value = static_cast<const ArrayType&>(array).Value(row);
  if (!std::isfinite(value)) {
    *reason = fmt::format("{} cannot be stored: MariaDB has no NaN or infinity", value);
    return false;
  }
  // The shortest text that reads back as the same value; "1e+300" is a valid literal.
  fmt::format_to(std::back_inserter(*out), "{}", value);
  return true;
}

bool AppendBool(const arrow::Array& array, int64_t row, const Escape&, std::string* out,
                std::string*) {
  *out += static_cast<const arrow::BooleanArray&>(array).Value(row) ? "TRUE" : "FALSE";
  return true;
}

void AppendQuoted(std::string_view text, const Escape& escape, std::string* out) {
  *out += '\'';
  escape(text, out);
  *out += '\'';
}

template <typename ArrayType>
bool AppendString(const arrow::Array& array, int64_t row, const Escape& escape, std::string* out,
                  std::string*) {
  AppendQuoted(static_cast<const ArrayType&>(array).GetView(row), escape, out);
  return true;
}

void AppendHex(std::string_view bytes, std::string* out) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  if (bytes.empty()) {
    *out += "''";
    return;
  }
  *out += "X'";
  size_t at = out->size();
  out->resize(at + bytes.size() * 2);
  for (unsigned char byte : bytes) {
    (*out)[at++] = kDigits[byte >> 4];
    (*out)[at++] = kDigits[byte & 15];
  }
  *out += '\'';
}

template <typename ArrayType>
bool AppendBinary(const arrow::Array& array, int64_t row, const Escape&, std::string* out,
                  std::string*) {
  AppendHex(static_cast<const ArrayType&>(array).GetView(row), out);
  return true;
}

/// Appends 'YYYY-MM-DD' for `days` since the epoch; false when the year is outside 0..9999.
bool AppendDays(int64_t days, std::string* out, std::string* reason) {
  std::chrono::year_month_day date{std::chrono::sys_days{std::chrono::days{days}}};
  int year = static_cast<int>(date.year());
  if (year < 0 || year > 9999) {
    *reason = fmt::format("year {} is outside MariaDB's range (0 to 9999)", year);
    return false;
  }
  fmt::format_to(std::back_inserter(*out), "'{:04}-{:02}-{:02}", year,
                 static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return true;
}

bool AppendDate32(const arrow::Array& array, int64_t row, const Escape&, std::string* out,
                  std::string* reason) {
  if (!AppendDays(static_cast<const arrow::Date32Array&>(array).Value(row), out, reason)) {
    return false;
  }
  *out += '\'';
  return true;
}

int64_t FloorDivide(int64_t value, int64_t divisor) {
  int64_t quotient = value / divisor;
  return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient;
}

bool AppendDate64(const arrow::Array& array, int64_t row, const Escape&, std::string* out,
                  std::string* reason) {
  int64_t millis = static_cast<const arrow::Date64Array&>(array).Value(row);
  if (!AppendDays(FloorDivide(millis, 86'400'000), out, reason)) return false;
  *out += '\'';
  return true;
}

bool AppendTimestamp(const arrow::Array& array, int64_t row, const Escape&, std::string* out,
                     std::string* reason) {
  const auto& type = static_cast<const arrow::TimestampType&>(*array.type());
  int64_t value = static_cast<const arrow::TimestampArray&>(array).Value(row);
  int64_t micros = 0;
  switch (type.unit()) {
    case arrow::TimeUnit::SECOND:
      if (__builtin_mul_overflow(value, int64_t{1'000'000}, &micros)) micros = INT64_MAX;
      break;
    case arrow::TimeUnit::MILLI:
      if (__builtin_mul_overflow(value, int64_t{1'000}, &micros)) micros = INT64_MAX;
      break;
    case arrow::TimeUnit::MICRO:
      micros = value;
      break;
    case arrow::TimeUnit::NANO:
      micros = FloorDivide(value, 1'000);
      break;
  }
  constexpr int64_t kMicrosPerDay = 86'400'000'000;
  int64_t days = FloorDivide(micros, kMicrosPerDay);
  int64_t in_day = micros - days * kMicrosPerDay;
  if (!AppendDays(days, out, reason)) return false;
  int64_t seconds = in_day / 1'000'000;
  fmt::format_to(std::back_inserter(*out), " {:02}:{:02}:{:02}.{:06}'", seconds / 3600,
                 seconds / 60 % 60, seconds % 60, in_day % 1'000'000);
  return true;
}

template <typename ArrayType, typename Value>
bool AppendDecimal(const arrow::Array& array, int64_t row, const Escape&, std::string* out,
                   std::string*) {
  const auto& decimal = static_cast<const arrow::DecimalType&>(*array.type());
  Value value(static_cast<const ArrayType&>(array).GetValue(row));
  *out += value.ToString(decimal.scale());
  return true;
}

}  // namespace

Result<AppendLiteral> LiteralWriterFor(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::BOOL:
      return &AppendBool;
    case arrow::Type::INT8:
      return &AppendInteger<arrow::Int8Array>;
    case arrow::Type::INT16:
      return &AppendInteger<arrow::Int16Array>;
    case arrow::Type::INT32:
      return &AppendInteger<arrow::Int32Array>;
    case arrow::Type::INT64:
      return &AppendInteger<arrow::Int64Array>;
    case arrow::Type::UINT8:
      return &AppendInteger<arrow::UInt8Array>;
    case arrow::Type::UINT16:
      return &AppendInteger<arrow::UInt16Array>;
    case arrow::Type::UINT32:
      return &AppendInteger<arrow::UInt32Array>;
    case arrow::Type::UINT64:
      return &AppendInteger<arrow::UInt64Array>;
    case arrow::Type::FLOAT:
      return &AppendFloating<arrow::FloatArray>;
    case arrow::Type::DOUBLE:
      return &AppendFloating<arrow::DoubleArray>;
    case arrow::Type::STRING:
      return &AppendString<arrow::StringArray>;
    case arrow::Type::LARGE_STRING:
      return &AppendString<arrow::LargeStringArray>;
    case arrow::Type::STRING_VIEW:
      return &AppendString<arrow::StringViewArray>;
    case arrow::Type::BINARY:
      return &AppendBinary<arrow::BinaryArray>;
    case arrow::Type::LARGE_BINARY:
      return &AppendBinary<arrow::LargeBinaryArray>;
    case arrow::Type::BINARY_VIEW:
      return &AppendBinary<arrow::BinaryViewArray>;
    case arrow::Type::FIXED_SIZE_BINARY:
      return &AppendBinary<arrow::FixedSizeBinaryArray>;
    case arrow::Type::DATE32:
      return &AppendDate32;
    case arrow::Type::DATE64:
      return &AppendDate64;
    case arrow::Type::TIMESTAMP:
      return &AppendTimestamp;
    case arrow::Type::DECIMAL128:
      return &AppendDecimal<arrow::Decimal128Array, arrow::Decimal128>;
    case arrow::Type::DECIMAL256:
      return &AppendDecimal<arrow::Decimal256Array, arrow::Decimal256>;
    default:
      return Status::NotImplemented(fmt::format("no MariaDB literal for {}", type.ToString()));
  }
}

Result<RowRenderer> RowRenderer::Make(const arrow::Schema& schema) {
  RowRenderer renderer;
  for (const auto& field : schema.fields()) {
    auto writer = LiteralWriterFor(*field->type());
    if (!writer.ok()) {
      return Status::NotImplemented("field '", field->name(), "' of type ",
                                    field->type()->ToString(),
                                    " cannot be written to MariaDB; cast it first (cast "
                                    "processor)");
    }
    renderer.writers_.push_back(*writer);
    renderer.names_.push_back(field->name());
  }
  return renderer;
}

bool RowRenderer::AppendRow(const std::vector<std::shared_ptr<arrow::Array>>& columns,
                            int64_t row, const Escape& escape, std::string* out,
                            std::string* reason) const {
  *out += '(';
  for (size_t i = 0; i < writers_.size(); ++i) {
    if (i > 0) *out += ',';
    const arrow::Array& column = *columns[i];
    if (column.IsNull(row)) {
      *out += "NULL";
      continue;
    }
    if (!writers_[i](column, row, escape, out, reason)) {
      *reason = fmt::format("field '{}': {}", names_[i], *reason);
      return false;
    }
  }
  *out += ')';
  return true;
}

}  // namespace sluice::connectors::mysql
