#include "sluice/connectors/postgres/pg_columns.h"

#include <arrow/util/decimal.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "sluice/formats/type_names.h"

namespace sluice::connectors::postgres {
namespace {

// pg_type OIDs of the types decoded from their binary format (fixed since PostgreSQL 7).
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kNameOid = 19;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kOidOid = 26;
constexpr Oid kJsonOid = 114;
constexpr Oid kXmlOid = 142;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kBpcharOid = 1042;
constexpr Oid kVarcharOid = 1043;
constexpr Oid kDateOid = 1082;
constexpr Oid kTimestampOid = 1114;
constexpr Oid kTimestamptzOid = 1184;
constexpr Oid kNumericOid = 1700;
constexpr Oid kUuidOid = 2950;
constexpr Oid kJsonbOid = 3802;

/// Days and microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
constexpr int32_t kEpochDays = 10957;
constexpr int64_t kEpochMicros = int64_t{kEpochDays} * 86400 * 1000000;

/// The largest numeric precision decimal128 holds.
constexpr int kMaxDecimalPrecision = 38;

// Sign words of the binary numeric format.
constexpr uint16_t kNumericNegative = 0x4000;
constexpr uint16_t kNumericNaN = 0xC000;
constexpr uint16_t kNumericPositiveInfinity = 0xD000;
constexpr uint16_t kNumericNegativeInfinity = 0xF000;

uint16_t ReadUint16(const char* data) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(data);
  return static_cast<uint16_t>((bytes[0] << 8) | bytes[1]);
}
uint32_t ReadUint32(const char* data) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(data);
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         uint32_t{bytes[3]};
}
uint64_t ReadUint64(const char* data) {
  return (uint64_t{ReadUint32(data)} << 32) | ReadUint32(data + 4);
}

/// A numeric's binary form: ndigits, weight, sign, dscale, then ndigits base-10000 digits, the
/// first worth 10000^weight.
struct Numeric {
  int ndigits = 0;
  int weight = 0;
  uint16_t sign = 0;
  const char* digits = nullptr;

  int Digit(int i) const { return static_cast<int16_t>(ReadUint16(digits + 2 * i)); }
};

bool ParseNumeric(const char* value, int length, Numeric* numeric) {
  if (length < 8) return false;
  numeric->ndigits = static_cast<int16_t>(ReadUint16(value));
  numeric->weight = static_cast<int16_t>(ReadUint16(value + 2));
  numeric->sign = ReadUint16(value + 4);
  numeric->digits = value + 8;
  return numeric->ndigits >= 0 && length == 8 + 2 * numeric->ndigits;
}

/// The numeric as a double, correctly rounded (through its decimal text).
double NumericToDouble(const Numeric& numeric) {
  switch (numeric.sign) {
    case kNumericNaN:
      return std::numeric_limits<double>::quiet_NaN();
    case kNumericPositiveInfinity:
      return std::numeric_limits<double>::infinity();
    case kNumericNegativeInfinity:
      return -std::numeric_limits<double>::infinity();
    default:
      break;
  }
  if (numeric.ndigits == 0) return 0.0;
  std::string text = numeric.sign == kNumericNegative ? "-" : "";
  for (int i = 0; i < numeric.ndigits; ++i) {
    if (i == 0) {
      fmt::format_to(std::back_inserter(text), "{}", numeric.Digit(i));
    } else {
      fmt::format_to(std::back_inserter(text), "{:04}", numeric.Digit(i));
    }
  }
  fmt::format_to(std::back_inserter(text), "e{}", 4 * (numeric.weight - numeric.ndigits + 1));
  return std::strtod(text.c_str(), nullptr);
}

/// The numeric's unscaled value at `scale`, or false for NaN, infinities and values that do not
/// fit (none do in a numeric(p, s) column with p <= 38).
bool NumericToDecimal(const Numeric& numeric, int scale, arrow::Decimal128* out) {
  if (numeric.sign != 0 && numeric.sign != kNumericNegative) return false;
  // Base-10000 digits carry up to three zeros past the scale, so 38 digits may need 41: add
  // them up in 256 bits.
  arrow::Decimal256 value;
  for (int i = 0; i < numeric.ndigits; ++i) {
    value = value * arrow::Decimal256(10000) + arrow::Decimal256(numeric.Digit(i));
  }
  const int exponent = 4 * (numeric.weight - numeric.ndigits + 1) + scale;
  if (exponent > kMaxDecimalPrecision || exponent < -(kMaxDecimalPrecision + 8)) return false;
  if (exponent >= 0) {
    value = value.IncreaseScaleBy(exponent);
  } else {
    value = value.ReduceScaleBy(-exponent, /*round=*/false);
  }
  if (!value.FitsInPrecision(kMaxDecimalPrecision)) return false;
  const auto words = value.little_endian_array();
  arrow::Decimal128 narrow(static_cast<int64_t>(words[1]), words[0]);
  *out = numeric.sign == kNumericNegative ? -narrow : narrow;
  return true;
}

std::string UuidText(const char* bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  text.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text += '-';
    const auto byte = static_cast<uint8_t>(bytes[i]);
    text += kHex[byte >> 4];
    text += kHex[byte & 0xF];
  }
  return text;
}

/// Sets the kind and Arrow type of `column` from its type OID and modifier.
void MapType(PgColumn* column) {
  using Kind = PgValueKind;
  auto set = [&](Kind kind, std::shared_ptr<arrow::DataType> type) {
    column->kind = kind;
    column->type = std::move(type);
  };
  switch (column->type_oid) {
    case kBoolOid:
      return set(Kind::kBool, arrow::boolean());
    case kInt2Oid:
      return set(Kind::kInt16, arrow::int16());
    case kInt4Oid:
      return set(Kind::kInt32, arrow::int32());
    case kInt8Oid:
      return set(Kind::kInt64, arrow::int64());
    case kOidOid:
      return set(Kind::kOid, arrow::int64());
    case kFloat4Oid:
      return set(Kind::kFloat32, arrow::float32());
    case kFloat8Oid:
      return set(Kind::kFloat64, arrow::float64());
    case kNumericOid: {
      // The modifier of numeric(p, s) is ((p << 16) | s) + 4; s is 11 bits, negative allowed.
      if (column->type_modifier >= 4) {
        const int packed = column->type_modifier - 4;
        const int precision = (packed >> 16) & 0xFFFF;
        const int scale = ((packed & 0x7FF) ^ 1024) - 1024;
        if (precision >= 1 && precision <= kMaxDecimalPrecision && scale >= 0 &&
            scale <= precision) {
          return set(Kind::kNumericDecimal, arrow::decimal128(precision, scale));
        }
      }
      return set(Kind::kNumericDouble, arrow::float64());
    }
    case kTextOid:
    case kVarcharOid:
    case kBpcharOid:
    case kNameOid:
    case kJsonOid:
    case kXmlOid:
      return set(Kind::kText, arrow::utf8());
    case kJsonbOid:
      return set(Kind::kJsonb, arrow::utf8());
    case kByteaOid:
      return set(Kind::kBytea, arrow::binary());
    case kUuidOid:
      return set(Kind::kUuid, arrow::utf8());
    case kDateOid:
      return set(Kind::kDate, arrow::date32());
    case kTimestampOid:
    case kTimestamptzOid:
      return set(Kind::kTimestamp, formats::TimestampType());
    default:
      column->read_as_text = true;
      return set(Kind::kText, arrow::utf8());
  }
}

template <typename Builder>
Builder& As(const std::unique_ptr<arrow::ArrayBuilder>& builder) {
  return static_cast<Builder&>(*builder);
}

}  // namespace

std::vector<PgColumn> DescribeColumns(const PGresult& described) {
  std::vector<PgColumn> columns;
  const int count = PQnfields(&described);
  for (int i = 0; i < count; ++i) {
    PgColumn column;
    column.name = PQfname(&described, i);
    column.type_oid = PQftype(&described, i);
    column.type_modifier = PQfmod(&described, i);
    MapType(&column);
    columns.push_back(std::move(column));
  }
  return columns;
}

Result<std::unique_ptr<PgBatchBuilder>> PgBatchBuilder::Make(std::vector<PgColumn> columns,
                                                             std::shared_ptr<arrow::Schema> schema) {
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders;
  for (const auto& column : columns) {
    SLUICE_ASSIGN_OR_RAISE(auto builder, arrow::MakeBuilder(column.type));
    builders.push_back(std::move(builder));
  }
  return std::unique_ptr<PgBatchBuilder>(
      new PgBatchBuilder(std::move(columns), std::move(schema), std::move(builders)));
}

Status PgBatchBuilder::AppendRows(const PGresult& result, int begin, int end) {
  const int count = static_cast<int>(columns_.size());
  if (PQnfields(&result) < count) {
    return Status::IOError("PostgreSQL sent ", PQnfields(&result), " columns, expected ", count);
  }
  for (int row = begin; row < end; ++row) {
    for (int column = 0; column < count; ++column) {
      if (PQgetisnull(&result, row, column)) {
        SLUICE_RETURN_NOT_OK(builders_[column]->AppendNull());
        continue;
      }
      SLUICE_RETURN_NOT_OK(Append(static_cast<size_t>(column), PQgetvalue(&result, row, column),
                                  PQgetlength(&result, row, column)));
    }
  }
  num_rows_ += end - begin;
  return Status::OK();
}

Status PgBatchBuilder::Append(size_t column, const char* value, int length) {
  const PgColumn& spec = columns_[column];
  const auto& builder = builders_[column];
  auto expect = [&](int size) {
    if (length == size) return Status::OK();
    return Status::IOError("column '", spec.name, "': a binary value of ", length,
                           " bytes where ", size, " were expected");
  };
  switch (spec.kind) {
    case PgValueKind::kBool:
      SLUICE_RETURN_NOT_OK(expect(1));
      return As<arrow::BooleanBuilder>(builder).Append(value[0] != 0);
    case PgValueKind::kInt16:
      SLUICE_RETURN_NOT_OK(expect(2));
      return As<arrow::Int16Builder>(builder).Append(static_cast<int16_t>(ReadUint16(value)));
    case PgValueKind::kInt32:
      SLUICE_RETURN_NOT_OK(expect(4));
      return As<arrow::Int32Builder>(builder).Append(static_cast<int32_t>(ReadUint32(value)));
    case PgValueKind::kInt64:
      SLUICE_RETURN_NOT_OK(expect(8));
      return As<arrow::Int64Builder>(builder).Append(static_cast<int64_t>(ReadUint64(value)));
    case PgValueKind::kOid:
      SLUICE_RETURN_NOT_OK(expect(4));
      return As<arrow::Int64Builder>(builder).Append(int64_t{ReadUint32(value)});
    case PgValueKind::kFloat32: {
      SLUICE_RETURN_NOT_OK(expect(4));
      uint32_t bits = ReadUint32(value);
      float number;
      std::memcpy(&number, &bits, sizeof(number));
      return As<arrow::FloatBuilder>(builder).Append(number);
    }
    case PgValueKind::kFloat64: {
      SLUICE_RETURN_NOT_OK(expect(8));
      uint64_t bits = ReadUint64(value);
      double number;
      std::memcpy(&number, &bits, sizeof(number));
      return As<arrow::DoubleBuilder>(builder).Append(number);
    }
    case PgValueKind::kNumericDouble:
    case PgValueKind::kNumericDecimal: {
      Numeric numeric;
      if (!ParseNumeric(value, length, &numeric)) {
        return Status::IOError("column '", spec.name, "': a damaged binary numeric");
      }
      if (spec.kind == PgValueKind::kNumericDouble) {
        return As<arrow::DoubleBuilder>(builder).Append(NumericToDouble(numeric));
      }
      arrow::Decimal128 decimal;
      const auto& type = static_cast<const arrow::Decimal128Type&>(*spec.type);
      // NaN (and a value the column's type cannot hold) has no decimal: null.
      if (!NumericToDecimal(numeric, type.scale(), &decimal)) return builder->AppendNull();
      return As<arrow::Decimal128Builder>(builder).Append(decimal);
    }
    case PgValueKind::kText:
      return As<arrow::StringBuilder>(builder).Append(value, length);
    case PgValueKind::kJsonb:
      if (length < 1 || value[0] != 1) {
        return Status::IOError("column '", spec.name, "': an unknown binary jsonb version");
      }
      return As<arrow::StringBuilder>(builder).Append(value + 1, length - 1);
    case PgValueKind::kBytea:
      return As<arrow::BinaryBuilder>(builder).Append(value, length);
    case PgValueKind::kUuid:
      SLUICE_RETURN_NOT_OK(expect(16));
      return As<arrow::StringBuilder>(builder).Append(UuidText(value));
    case PgValueKind::kDate: {
      SLUICE_RETURN_NOT_OK(expect(4));
      const auto days = static_cast<int32_t>(ReadUint32(value));
      // 'infinity' and '-infinity' have no date32: null.
      if (days == std::numeric_limits<int32_t>::max() ||
          days == std::numeric_limits<int32_t>::min()) {
        return builder->AppendNull();
      }
      return As<arrow::Date32Builder>(builder).Append(days + kEpochDays);
    }
    case PgValueKind::kTimestamp: {
      SLUICE_RETURN_NOT_OK(expect(8));
      const auto micros = static_cast<int64_t>(ReadUint64(value));
      if (micros == std::numeric_limits<int64_t>::max() ||
          micros == std::numeric_limits<int64_t>::min()) {
        return builder->AppendNull();
      }
      return As<arrow::TimestampBuilder>(builder).Append(micros + kEpochMicros);
    }
  }
  return Status::OK();
}

Result<std::shared_ptr<arrow::RecordBatch>> PgBatchBuilder::Finish() {
  arrow::ArrayVector arrays;
  for (auto& builder : builders_) {
    std::shared_ptr<arrow::Array> array;
    SLUICE_RETURN_NOT_OK(builder->Finish(&array));
    arrays.push_back(std::move(array));
  }
  auto batch = arrow::RecordBatch::Make(schema_, num_rows_, std::move(arrays));
  num_rows_ = 0;
  return batch;
}

}  // namespace sluice::connectors::postgres
