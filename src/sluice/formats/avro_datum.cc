#include "sluice/formats/avro_datum.h"

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/compute/api.h>
#include <arrow/util/decimal.h>
#include <fmt/format.h>

#include <cstring>

#include "sluice/formats/utf8_text.h"

namespace sluice::formats::avro {
namespace {

/// A count of items no damaged block may claim beyond when the items take no bytes (arrays of
/// null), since the bytes cannot bound them.
constexpr int64_t kMaxEmptyItems = 1 << 20;

constexpr int64_t kMillisPerDay = 86400000;
constexpr int64_t kMicrosPerDay = kMillisPerDay * 1000;

bool Broken(DecodeOutcome* outcome, std::string reason) {
  outcome->broken = std::move(reason);
  return false;
}

void Unusable(DecodeOutcome* outcome, std::string reason) {
  if (outcome->unusable.empty()) outcome->unusable = std::move(reason);
}

/// Reads a length-prefixed span (bytes, string) or, with `fixed` >= 0, that many bytes.
bool ReadSpan(ByteCursor* in, int64_t fixed, std::string_view* span, DecodeOutcome* outcome) {
  int64_t length = fixed;
  if (length < 0 && !in->ReadLong(&length)) return Broken(outcome, "truncated length");
  if (length < 0 || static_cast<uint64_t>(length) > in->remaining())
    return Broken(outcome, fmt::format("a length of {} bytes runs past the {} left", length,
                                       in->remaining()));
  *span = in->data.substr(in->position, static_cast<size_t>(length));
  in->position += static_cast<size_t>(length);
  return true;
}

/// Avro decimals are big-endian two's complement of any length; Arrow's take up to 16 bytes.
bool ReadDecimal(std::string_view bytes, const AvroNode& node, arrow::Decimal128* value) {
  auto data = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t length = bytes.size();
  while (length > 16) {
    // Leading bytes beyond 16 may only repeat the sign.
    uint8_t sign = (data[1] & 0x80) ? 0xff : 0x00;
    if (data[0] != sign) return false;
    ++data;
    --length;
  }
  if (length == 0) {
    *value = arrow::Decimal128(0);
    return true;
  }
  auto decoded = arrow::Decimal128::FromBigEndian(data, static_cast<int32_t>(length));
  if (!decoded.ok() || !decoded->FitsInPrecision(node.precision)) return false;
  *value = *decoded;
  return true;
}

/// Decodes a value of a primitive node (not a record, array or map).
Result<bool> DecodePrimitive(const AvroNode& node, ByteCursor* in, arrow::ArrayBuilder* builder,
                             DecodeOutcome* outcome) {
  switch (node.type) {
    case AvroType::kNull:
      if (builder) SLUICE_RETURN_NOT_OK(builder->AppendNull());
      return true;
    case AvroType::kBoolean: {
      if (in->remaining() < 1) return Broken(outcome, "truncated boolean");
      auto byte = static_cast<uint8_t>(in->data[in->position++]);
      if (byte > 1) return Broken(outcome, fmt::format("a boolean byte is {}", byte));
      if (builder)
        SLUICE_RETURN_NOT_OK(static_cast<arrow::BooleanBuilder*>(builder)->Append(byte == 1));
      return true;
    }
    case AvroType::kInt: {
      int64_t value = 0;
      if (!in->ReadLong(&value)) return Broken(outcome, "truncated int");
      if (value < INT32_MIN || value > INT32_MAX)
        return Broken(outcome, fmt::format("an int of {} is out of range", value));
      if (node.logical == AvroLogical::kTimeMillis && (value < 0 || value >= kMillisPerDay)) {
        Unusable(outcome, fmt::format("a time-millis of {} is not a time of day", value));
        value = 0;
      }
      if (!builder) return true;
      auto narrow = static_cast<int32_t>(value);
      if (node.logical == AvroLogical::kDate)
        SLUICE_RETURN_NOT_OK(static_cast<arrow::Date32Builder*>(builder)->Append(narrow));
      else if (node.logical == AvroLogical::kTimeMillis)
        SLUICE_RETURN_NOT_OK(static_cast<arrow::Time32Builder*>(builder)->Append(narrow));
      else
        SLUICE_RETURN_NOT_OK(static_cast<arrow::Int32Builder*>(builder)->Append(narrow));
      return true;
    }
    case AvroType::kLong: {
      int64_t value = 0;
      if (!in->ReadLong(&value)) return Broken(outcome, "truncated long");
      if (node.logical == AvroLogical::kTimestampMillis ||
          node.logical == AvroLogical::kLocalTimestampMillis) {
        if (__builtin_mul_overflow(value, int64_t{1000}, &value)) {
          Unusable(outcome, "a timestamp-millis is out of range");
          value = 0;
        }
      }
      if (node.logical == AvroLogical::kTimeMicros && (value < 0 || value >= kMicrosPerDay)) {
        Unusable(outcome, fmt::format("a time-micros of {} is not a time of day", value));
        value = 0;
      }
      if (!builder) return true;
      switch (node.logical) {
        case AvroLogical::kTimeMicros:
          SLUICE_RETURN_NOT_OK(static_cast<arrow::Time64Builder*>(builder)->Append(value));
          return true;
        case AvroLogical::kTimestampMillis:
        case AvroLogical::kTimestampMicros:
        case AvroLogical::kLocalTimestampMillis:
        case AvroLogical::kLocalTimestampMicros:
          SLUICE_RETURN_NOT_OK(static_cast<arrow::TimestampBuilder*>(builder)->Append(value));
          return true;
        default:
          SLUICE_RETURN_NOT_OK(static_cast<arrow::Int64Builder*>(builder)->Append(value));
          return true;
      }
    }
    case AvroType::kFloat:
    case AvroType::kDouble: {
      size_t width = node.type == AvroType::kFloat ? 4 : 8;
      if (in->remaining() < width) return Broken(outcome, "truncated float or double");
      const char* bytes = in->data.data() + in->position;
      in->position += width;
      if (!builder) return true;
      if (width == 4) {
        float value = 0;
        std::memcpy(&value, bytes, 4);
        SLUICE_RETURN_NOT_OK(static_cast<arrow::FloatBuilder*>(builder)->Append(value));
      } else {
        double value = 0;
        std::memcpy(&value, bytes, 8);
        SLUICE_RETURN_NOT_OK(static_cast<arrow::DoubleBuilder*>(builder)->Append(value));
      }
      return true;
    }
    case AvroType::kBytes:
    case AvroType::kFixed:
    case AvroType::kString: {
      std::string_view span;
      if (!ReadSpan(in, node.type == AvroType::kFixed ? node.fixed_size : -1, &span, outcome))
        return false;
      if (node.type == AvroType::kString && !IsValidUtf8(span))
        Unusable(outcome, "a string is not UTF-8");
      if (node.logical == AvroLogical::kDecimal) {
        arrow::Decimal128 value;
        if (!ReadDecimal(span, node, &value)) {
          Unusable(outcome, fmt::format("a decimal does not fit decimal({}, {})", node.precision,
                                        node.scale));
        }
        if (builder)
          SLUICE_RETURN_NOT_OK(static_cast<arrow::Decimal128Builder*>(builder)->Append(value));
        return true;
      }
      if (builder)
        SLUICE_RETURN_NOT_OK(static_cast<arrow::BinaryBuilder*>(builder)->Append(span));
      return true;
    }
    case AvroType::kEnum: {
      int64_t index = 0;
      if (!in->ReadLong(&index)) return Broken(outcome, "truncated enum");
      if (index < 0 || static_cast<uint64_t>(index) >= node.names.size())
        return Broken(outcome, fmt::format("enum index {} is not one of the {} symbols of '{}'",
                                           index, node.names.size(), node.name));
      if (builder)
        SLUICE_RETURN_NOT_OK(static_cast<arrow::StringBuilder*>(builder)->Append(
            node.names[static_cast<size_t>(index)]));
      return true;
    }
    default:
      return Broken(outcome, "not a primitive type");
  }
}

/// Reads the item count of the next block of an array or map (skipping the byte size of a
/// negative count); checks it against the bytes left.
bool ReadItemCount(ByteCursor* in, int64_t min_size, int64_t* count, DecodeOutcome* outcome) {
  if (!in->ReadLong(count)) return Broken(outcome, "truncated item count");
  if (*count < 0) {
    int64_t ignored = 0;
    if (*count == INT64_MIN || !in->ReadLong(&ignored))
      return Broken(outcome, "bad item count");
    *count = -*count;
  }
  int64_t bound = min_size > 0 ? static_cast<int64_t>(in->remaining()) / min_size : kMaxEmptyItems;
  if (*count > bound)
    return Broken(outcome, fmt::format("a count of {} items cannot fit the {} bytes left", *count,
                                       in->remaining()));
  return true;
}

}  // namespace

bool ByteCursor::ReadLong(int64_t* value) {
  uint64_t raw = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (position >= data.size()) return false;
    auto byte = static_cast<uint8_t>(data[position++]);
    raw |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = static_cast<int64_t>(raw >> 1) ^ -static_cast<int64_t>(raw & 1);
      return true;
    }
  }
  return false;
}

void AppendLong(int64_t value, std::string* out) {
  auto raw = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  while (raw >= 0x80) {
    out->push_back(static_cast<char>((raw & 0x7f) | 0x80));
    raw >>= 7;
  }
  out->push_back(static_cast<char>(raw));
}

Result<bool> DecodeValue(const AvroNode& node, ByteCursor* in, arrow::ArrayBuilder* builder,
                         DecodeOutcome* outcome) {
  if (node.nullable) {
    int64_t branch = 0;
    if (!in->ReadLong(&branch)) return Broken(outcome, "truncated union branch");
    if (branch != 0 && branch != 1)
      return Broken(outcome, fmt::format("union branch {} of a [\"null\", T] union", branch));
    if (branch == node.null_branch) {
      if (builder) SLUICE_RETURN_NOT_OK(builder->AppendNull());
      return true;
    }
  }
  switch (node.type) {
    case AvroType::kRecord: {
      auto* record = static_cast<arrow::StructBuilder*>(builder);
      if (record) SLUICE_RETURN_NOT_OK(record->Append());
      for (size_t i = 0; i < node.children.size(); ++i) {
        SLUICE_ASSIGN_OR_RAISE(
            bool ok, DecodeValue(*node.children[i], in,
                                 record ? record->field_builder(static_cast<int>(i)) : nullptr,
                                 outcome));
        if (!ok) return false;
      }
      return true;
    }
    case AvroType::kArray:
    case AvroType::kMap: {
      const AvroNode& item = *node.children[0];
      bool is_map = node.type == AvroType::kMap;
      arrow::ArrayBuilder* keys = nullptr;
      arrow::ArrayBuilder* values = nullptr;
      if (builder && is_map) {
        auto* map = static_cast<arrow::MapBuilder*>(builder);
        SLUICE_RETURN_NOT_OK(map->Append());
        keys = map->key_builder();
        values = map->item_builder();
      } else if (builder) {
        auto* list = static_cast<arrow::ListBuilder*>(builder);
        SLUICE_RETURN_NOT_OK(list->Append());
        values = list->value_builder();
      }
      static const AvroNode kKey = [] {
        AvroNode key;
        key.type = AvroType::kString;
        return key;
      }();
      while (true) {
        int64_t count = 0;
        if (!ReadItemCount(in, item.min_size + (is_map ? 1 : 0), &count, outcome)) return false;
        if (count == 0) return true;
        for (int64_t i = 0; i < count; ++i) {
          if (is_map) {
            SLUICE_ASSIGN_OR_RAISE(bool ok, DecodePrimitive(kKey, in, keys, outcome));
            if (!ok) return false;
          }
          SLUICE_ASSIGN_OR_RAISE(bool ok, DecodeValue(item, in, values, outcome));
          if (!ok) return false;
        }
      }
    }
    default:
      return DecodePrimitive(node, in, builder, outcome);
  }
}

namespace {

/// Avro's decimal bytes: the shortest big-endian two's complement of the unscaled value.
void AppendDecimal(const arrow::Decimal128& value, std::string* out) {
  uint8_t little[16];
  value.ToBytes(little);
  int start = 15;
  // Drop leading bytes that only repeat the sign of the byte after them.
  while (start > 0 && ((little[start] == 0x00 && (little[start - 1] & 0x80) == 0) ||
                       (little[start] == 0xff && (little[start - 1] & 0x80) != 0)))
    --start;
  AppendLong(start + 1, out);
  for (int i = start; i >= 0; --i) out->push_back(static_cast<char>(little[i]));
}

void AppendBytes(std::string_view bytes, std::string* out) {
  AppendLong(static_cast<int64_t>(bytes.size()), out);
  out->append(bytes);
}

template <typename T>
void AppendRaw(T value, std::string* out) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out->append(bytes, sizeof(T));
}

}  // namespace

Result<arrow::ArrayVector> CastForEncoding(const AvroNode& record,
                                           const arrow::ArrayVector& columns) {
  arrow::ArrayVector cast;
  for (size_t i = 0; i < columns.size() && i < record.children.size(); ++i) {
    const auto& target = record.children[i]->arrow_type;
    std::shared_ptr<arrow::Array> column = columns[i];
    if (!column->type()->Equals(*target)) {
      arrow::compute::CastOptions options = arrow::compute::CastOptions::Safe(target);
      options.allow_time_truncate = true;
      auto converted = arrow::compute::Cast(*column, target, options);
      if (!converted.ok())
        return Status::Invalid(fmt::format("cannot write field '{}' as Avro: {}", record.names[i],
                                           converted.status().message()));
      column = *std::move(converted);
    }
    cast.push_back(std::move(column));
  }
  return cast;
}

Status EncodeValue(const AvroNode& node, const arrow::Array& array, int64_t row, std::string* out) {
  if (array.IsNull(row) && node.type != AvroType::kNull) {
    if (!node.nullable)
      return Status::Invalid("a null in a field whose Avro type is not [\"null\", T]");
    AppendLong(node.null_branch, out);
    return Status::OK();
  }
  if (node.nullable) AppendLong(1 - node.null_branch, out);
  switch (node.type) {
    case AvroType::kNull:
      return Status::OK();
    case AvroType::kBoolean:
      out->push_back(static_cast<const arrow::BooleanArray&>(array).Value(row) ? 1 : 0);
      return Status::OK();
    case AvroType::kInt:
      // int32, date32 and time32 share their layout.
      AppendLong(array.data()->GetValues<int32_t>(1)[row], out);
      return Status::OK();
    case AvroType::kLong: {
      // int64, time64 and timestamp share their layout; timestamps are microseconds.
      int64_t value = array.data()->GetValues<int64_t>(1)[row];
      if (node.logical == AvroLogical::kTimestampMillis ||
          node.logical == AvroLogical::kLocalTimestampMillis)
        value = value / 1000 - (value % 1000 < 0 ? 1 : 0);
      AppendLong(value, out);
      return Status::OK();
    }
    case AvroType::kFloat:
      AppendRaw(static_cast<const arrow::FloatArray&>(array).Value(row), out);
      return Status::OK();
    case AvroType::kDouble:
      AppendRaw(static_cast<const arrow::DoubleArray&>(array).Value(row), out);
      return Status::OK();
    case AvroType::kBytes:
    case AvroType::kFixed:
      if (node.logical == AvroLogical::kDecimal) {
        const auto& decimals = static_cast<const arrow::Decimal128Array&>(array);
        AppendDecimal(arrow::Decimal128(decimals.GetValue(row)), out);
        return Status::OK();
      }
      AppendBytes(static_cast<const arrow::BinaryArray&>(array).GetView(row), out);
      return Status::OK();
    case AvroType::kString:
    case AvroType::kEnum:
      AppendBytes(static_cast<const arrow::StringArray&>(array).GetView(row), out);
      return Status::OK();
    case AvroType::kRecord: {
      const auto& record = static_cast<const arrow::StructArray&>(array);
      for (size_t i = 0; i < node.children.size(); ++i) {
        SLUICE_RETURN_NOT_OK(EncodeValue(*node.children[i], *record.field(static_cast<int>(i)),
                                         row, out));
      }
      return Status::OK();
    }
    case AvroType::kArray: {
      const auto& list = static_cast<const arrow::ListArray&>(array);
      int64_t length = list.value_length(row);
      if (length > 0) {
        AppendLong(length, out);
        for (int64_t i = 0; i < length; ++i)
          SLUICE_RETURN_NOT_OK(
              EncodeValue(*node.children[0], *list.values(), list.value_offset(row) + i, out));
      }
      AppendLong(0, out);
      return Status::OK();
    }
    case AvroType::kMap: {
      const auto& map = static_cast<const arrow::MapArray&>(array);
      const auto& keys = static_cast<const arrow::StringArray&>(*map.keys());
      int64_t length = map.value_length(row);
      if (length > 0) {
        AppendLong(length, out);
        for (int64_t i = 0; i < length; ++i) {
          int64_t at = map.value_offset(row) + i;
          AppendBytes(keys.GetView(at), out);
          SLUICE_RETURN_NOT_OK(EncodeValue(*node.children[0], *map.items(), at, out));
        }
      }
      AppendLong(0, out);
      return Status::OK();
    }
  }
  return Status::Invalid("unknown Avro type");
}

}  // namespace sluice::formats::avro
