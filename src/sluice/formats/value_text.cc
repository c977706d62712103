#include "sluice/formats/value_text.h"

#include <arrow/array.h>
#include <arrow/scalar.h>
#include <arrow/type.h>
#include <arrow/util/checked_cast.h>
#include <arrow/util/float16.h>
#include <fmt/format.h>

#include <cmath>
#include <iterator>

#include "sluice/formats/time_text.h"
#include "sluice/formats/utf8_text.h"

namespace sluice::formats {
namespace {

using arrow::internal::checked_cast;

void AppendBase64(std::string_view bytes, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t word = (static_cast<uint8_t>(bytes[i]) << 16) |
                    (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
    out->push_back(kAlphabet[(word >> 18) & 63]);
    out->push_back(kAlphabet[(word >> 12) & 63]);
    out->push_back(kAlphabet[(word >> 6) & 63]);
    out->push_back(kAlphabet[word & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t word = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) word |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out->push_back(kAlphabet[(word >> 18) & 63]);
    out->push_back(kAlphabet[(word >> 12) & 63]);
    out->push_back(rest == 2 ? kAlphabet[(word >> 6) & 63] : '=');
    out->push_back('=');
  }
}

template <typename Number>
void AppendShortest(Number value, std::string* out) {
  size_t start = out->size();
  fmt::format_to(std::back_inserter(*out), "{}", value);
  for (size_t i = start; i < out->size(); ++i) {
    char c = (*out)[i];
    if (c == '.' || c == 'e' || c == 'n' || c == 'i') return;
  }
  out->append(".0");
}

template <typename Number>
void AppendFloating(Number value, bool json, std::string* out) {
  if (std::isfinite(value)) {
    AppendShortest(value, out);
  } else if (std::isnan(value)) {
    out->append(json ? "\"NaN\"" : "NAN");
  } else if (json) {
    out->append(value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    out->append(value > 0 ? "inf" : "-inf");
  }
}

/// How AppendValue renders a value: as JSON, with what becomes of invalid UTF-8 in strings,
/// or as the plain text of a CSV cell.
struct Rendering {
  bool json = true;
  InvalidUtf8 invalid = InvalidUtf8::kReplace;

  Rendering AsJson() const { return Rendering{true, invalid}; }
  Rendering AsPlain() const { return Rendering{false, invalid}; }
};

/// The shared walk behind AppendJsonValue (json) and AppendPlainValue (!json, top level only).
void AppendValue(const arrow::Array& array, int64_t index, Rendering rendering, std::string* out) {
  const bool json = rendering.json;
  if (array.IsNull(index)) {
    out->append(json ? "null" : "");
    return;
  }
  auto text = [&](std::string_view value) {
    if (json) {
      AppendJsonString(value, out, rendering.invalid);
    } else {
      out->append(value);
    }
  };
  switch (array.type_id()) {
    case arrow::Type::NA:
      out->append(json ? "null" : "");
      return;
    case arrow::Type::BOOL:
      out->append(checked_cast<const arrow::BooleanArray&>(array).Value(index) ? "true" : "false");
      return;
    case arrow::Type::INT8:
      fmt::format_to(std::back_inserter(*out), "{}",
                     checked_cast<const arrow::Int8Array&>(array).Value(index));
      return;
    case arrow::Type::INT16:
      fmt::format_to(std::back_inserter(*out), "{}",
                     checked_cast<const arrow::Int16Array&>(array).Value(index));
      return;
    case arrow::Type::INT32:
      fmt::format_to(std::back_inserter(*out), "{}",
                     checked_cast<const arrow::Int32Array&>(array).Value(index));
      return;
    case arrow::Type::INT64:
      fmt::format_to(std::back_inserter(*out), "{}",
                     checked_cast<const arrow::Int64Array&>(array).Value(index));
      return;
    case arrow::Type::UINT8:
      fmt::format_to(std::back_inserter(*out), "{}",
                     checked_cast<const arrow::UInt8Array&>(array).Value(index));
      return;
    case arrow::Type::UINT16:
      fmt::format_to(std::back_inserter(*out), "{}",
                     checked_cast<const arrow::UInt16Array&>(array).Value(index));
      return;
    case arrow::Type::UINT32:
      fmt::format_to(std::back_inserter(*out), "{}",
                     checked_cast<const arrow::UInt32Array&>(array).Value(index));
      return;
    case arrow::Type::UINT64:
      fmt::format_to(std::back_inserter(*out), "{}",
                     checked_cast<const arrow::UInt64Array&>(array).Value(index));
      return;
    case arrow::Type::HALF_FLOAT:
      AppendFloating(arrow::util::Float16::FromBits(
                         checked_cast<const arrow::HalfFloatArray&>(array).Value(index))
                         .ToFloat(),
                     json, out);
      return;
    case arrow::Type::FLOAT:
      AppendFloating(checked_cast<const arrow::FloatArray&>(array).Value(index), json, out);
      return;
    case arrow::Type::DOUBLE:
      AppendFloating(checked_cast<const arrow::DoubleArray&>(array).Value(index), json, out);
      return;
    case arrow::Type::STRING:
      text(checked_cast<const arrow::StringArray&>(array).GetView(index));
      return;
    case arrow::Type::LARGE_STRING:
      text(checked_cast<const arrow::LargeStringArray&>(array).GetView(index));
      return;
    case arrow::Type::STRING_VIEW:
      text(checked_cast<const arrow::StringViewArray&>(array).GetView(index));
      return;
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
    case arrow::Type::FIXED_SIZE_BINARY: {
      std::string_view bytes;
      if (array.type_id() == arrow::Type::BINARY) {
        bytes = checked_cast<const arrow::BinaryArray&>(array).GetView(index);
      } else if (array.type_id() == arrow::Type::LARGE_BINARY) {
        bytes = checked_cast<const arrow::LargeBinaryArray&>(array).GetView(index);
      } else {
        bytes = checked_cast<const arrow::FixedSizeBinaryArray&>(array).GetView(index);
      }
      if (json) out->push_back('"');
      AppendBase64(bytes, out);
      if (json) out->push_back('"');
      return;
    }
    case arrow::Type::TIMESTAMP: {
      const auto& type = checked_cast<const arrow::TimestampType&>(*array.type());
      if (json) out->push_back('"');
      AppendTimestampText(checked_cast<const arrow::TimestampArray&>(array).Value(index),
                          type.unit(), !type.timezone().empty(), out);
      if (json) out->push_back('"');
      return;
    }
    case arrow::Type::DATE32:
    case arrow::Type::DATE64: {
      int64_t days = array.type_id() == arrow::Type::DATE32
                         ? checked_cast<const arrow::Date32Array&>(array).Value(index)
                         : checked_cast<const arrow::Date64Array&>(array).Value(index) / 86400000;
      if (json) out->push_back('"');
      AppendDateText(days, out);
      if (json) out->push_back('"');
      return;
    }
    case arrow::Type::DECIMAL128:
      out->append(checked_cast<const arrow::Decimal128Array&>(array).FormatValue(index));
      return;
    case arrow::Type::DECIMAL256:
      out->append(checked_cast<const arrow::Decimal256Array&>(array).FormatValue(index));
      return;
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST:
    case arrow::Type::FIXED_SIZE_LIST: {
      std::shared_ptr<arrow::Array> values;
      int64_t begin = 0, end = 0;
      if (array.type_id() == arrow::Type::LIST) {
        const auto& list = checked_cast<const arrow::ListArray&>(array);
        values = list.values();
        begin = list.value_offset(index);
        end = begin + list.value_length(index);
      } else if (array.type_id() == arrow::Type::LARGE_LIST) {
        const auto& large = checked_cast<const arrow::LargeListArray&>(array);
        values = large.values();
        begin = large.value_offset(index);
        end = begin + large.value_length(index);
      } else {
        const auto& fixed = checked_cast<const arrow::FixedSizeListArray&>(array);
        values = fixed.values();
        begin = fixed.value_offset(index);
        end = begin + fixed.value_length(index);
      }
      out->push_back('[');
      for (int64_t i = begin; i < end; ++i) {
        if (i > begin) out->push_back(',');
        AppendValue(*values, i, rendering.AsJson(), out);
      }
      out->push_back(']');
      return;
    }
    case arrow::Type::STRUCT: {
      const auto& structs = checked_cast<const arrow::StructArray&>(array);
      out->push_back('{');
      for (int field = 0; field < structs.num_fields(); ++field) {
        if (field > 0) out->push_back(',');
        AppendJsonString(structs.type()->field(field)->name(), out, rendering.invalid);
        out->push_back(':');
        // Struct children are not offset by the parent's slice offset.
        AppendValue(*structs.field(field), index, rendering.AsJson(), out);
      }
      out->push_back('}');
      return;
    }
    case arrow::Type::MAP: {
      const auto& map = checked_cast<const arrow::MapArray&>(array);
      out->push_back('{');
      int64_t begin = map.value_offset(index);
      int64_t end = begin + map.value_length(index);
      for (int64_t i = begin; i < end; ++i) {
        if (i > begin) out->push_back(',');
        std::string key;
        AppendValue(*map.keys(), i, rendering.AsPlain(), &key);
        AppendJsonString(key, out, rendering.invalid);
        out->push_back(':');
        AppendValue(*map.items(), i, rendering.AsJson(), out);
      }
      out->push_back('}');
      return;
    }
    case arrow::Type::DICTIONARY: {
      const auto& dictionary = checked_cast<const arrow::DictionaryArray&>(array);
      AppendValue(*dictionary.dictionary(), dictionary.GetValueIndex(index), rendering, out);
      return;
    }
    default: {
      auto scalar = array.GetScalar(index);
      text(scalar.ok() ? (*scalar)->ToString() : std::string("?"));
      return;
    }
  }
}

}  // namespace

void AppendJsonString(std::string_view text, std::string* out, InvalidUtf8 invalid) {
  out->reserve(out->size() + text.size() + 2);
  out->push_back('"');
  for (size_t at = 0; at < text.size(); ++at) {
    const char c = text[at];
    if (static_cast<unsigned char>(c) >= 0x80) {
      size_t length = invalid == InvalidUtf8::kKeep ? 1 : Utf8SequenceLength(text, at);
      if (length == 0) {
        AppendReplacingInvalidUtf8(text.substr(at, 1), out);
      } else {
        out->append(text.substr(at, length));
        at += length - 1;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(*out), "\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void AppendDouble(double value, std::string* out) { AppendFloating(value, true, out); }

void AppendFloat(float value, std::string* out) { AppendFloating(value, true, out); }

void AppendJsonValue(const arrow::Array& array, int64_t index, std::string* out,
                     InvalidUtf8 invalid) {
  AppendValue(array, index, Rendering{true, invalid}, out);
}

void AppendPlainValue(const arrow::Array& array, int64_t index, std::string* out) {
  AppendValue(array, index, Rendering{false, InvalidUtf8::kKeep}, out);
}

}  // namespace sluice::formats
