#include "sluice/formats/jsonl_decoder.h"

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/compute/api.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <arrow/util/checked_cast.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "sluice/formats/time_text.h"
#include "sluice/formats/type_names.h"

namespace sluice::formats {
namespace {

using arrow::internal::checked_cast;
using simdjson::dom::element_type;

/// How a field's values are held while a batch is built; narrower types are cast at Finish().
enum class Slot { kBool, kInt, kUInt, kDouble, kString, kTimestamp, kDate };

struct FieldDecoder {
  std::string name;
  std::shared_ptr<arrow::DataType> type;
  Slot slot = Slot::kString;
  /// The accepted range of a kInt or kUInt field.
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();
  uint64_t unsigned_max = std::numeric_limits<uint64_t>::max();
  std::unique_ptr<arrow::ArrayBuilder> builder;
  /// How a kTimestamp or kDate field's text and numbers are read.
  TimeReading time;
  /// Holds a non-string value's JSON text for a string field until it is appended.
  std::string scratch;
};

/// One field's converted value for the record being decoded.
struct Value {
  bool is_null = true;
  bool boolean = false;
  int64_t integer = 0;
  uint64_t unsigned_integer = 0;
  double number = 0;
  std::string_view text;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

std::string ShortJson(const simdjson::dom::element& value) {
  std::string text = simdjson::minify(value);
  if (text.size() > 80) {
    text.resize(80);
    text += "...";
  }
  return text;
}

bool IsIntegral(double value) { return std::isfinite(value) && std::trunc(value) == value; }

template <typename Number>
bool ParseWhole(std::string_view text, Number* value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

/// A whole number as read from JSON; `negative` tells which member holds it, so that the full
/// int64 and uint64 ranges are both representable.
struct WholeNumber {
  bool negative = false;
  int64_t negative_value = 0;
  uint64_t value = 0;
};

std::optional<WholeNumber> WholeFromDouble(double number) {
  // 2^64 is the first double above the uint64 range.
  if (!IsIntegral(number) || number < -9.2e18 || number >= 18446744073709551616.0)
    return std::nullopt;
  if (number < 0) return WholeNumber{true, static_cast<int64_t>(number), 0};
  return WholeNumber{false, 0, static_cast<uint64_t>(number)};
}

WholeNumber WholeFromInt64(int64_t number) {
  if (number < 0) return WholeNumber{true, number, 0};
  return WholeNumber{false, 0, static_cast<uint64_t>(number)};
}

/// Reads an integer, an integral double (3.0) or a quoted number ("42").
std::optional<WholeNumber> ReadWholeNumber(const simdjson::dom::element& element) {
  switch (element.type()) {
    case element_type::INT64:
      return WholeFromInt64(element.get_int64().value_unsafe());
    case element_type::UINT64:
      return WholeNumber{false, 0, element.get_uint64().value_unsafe()};
    case element_type::DOUBLE:
      return WholeFromDouble(element.get_double().value_unsafe());
    case element_type::STRING: {
      std::string_view text = element.get_string().value_unsafe();
      int64_t integer = 0;
      if (ParseWhole(text, &integer)) return WholeFromInt64(integer);
      uint64_t unsigned_integer = 0;
      if (ParseWhole(text, &unsigned_integer)) return WholeNumber{false, 0, unsigned_integer};
      double number = 0;
      if (ParseWhole(text, &number)) return WholeFromDouble(number);
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

/// Converts `element` for `field`; false when it does not fit.
bool Convert(FieldDecoder& field, const simdjson::dom::element& element, Value* value) {
  value->is_null = false;
  element_type type = element.type();
  switch (field.slot) {
    case Slot::kBool:
      if (type == element_type::BOOL) {
        value->boolean = element.get_bool().value_unsafe();
        return true;
      }
      if (type == element_type::STRING) {
        std::string_view text = element.get_string().value_unsafe();
        value->boolean = text == "true";
        return text == "true" || text == "false";
      }
      return false;
    case Slot::kInt:
    case Slot::kUInt: {
      auto whole = ReadWholeNumber(element);
      if (!whole) return false;
      if (field.slot == Slot::kUInt) {
        if (whole->negative || whole->value > field.unsigned_max) return false;
        value->unsigned_integer = whole->value;
        return true;
      }
      if (whole->negative) {
        if (whole->negative_value < field.min) return false;
        value->integer = whole->negative_value;
      } else {
        if (whole->value > static_cast<uint64_t>(field.max)) return false;
        value->integer = static_cast<int64_t>(whole->value);
      }
      return true;
    }
    case Slot::kDouble:
      if (type == element_type::DOUBLE || type == element_type::INT64 ||
          type == element_type::UINT64) {
        value->number = element.get_double().value_unsafe();
        if (type == element_type::INT64)
          value->number = static_cast<double>(element.get_int64().value_unsafe());
        if (type == element_type::UINT64)
          value->number = static_cast<double>(element.get_uint64().value_unsafe());
        return true;
      }
      if (type == element_type::STRING)
        return ParseWhole(element.get_string().value_unsafe(), &value->number);
      return false;
    case Slot::kString:
      if (type == element_type::STRING) {
        value->text = element.get_string().value_unsafe();
      } else {
        field.scratch = simdjson::minify(element);
        value->text = field.scratch;
      }
      return true;
    case Slot::kTimestamp: {
      std::optional<int64_t> micros;
      if (type == element_type::STRING) {
        micros = ParseTimestampText(element.get_string().value_unsafe(), field.time);
      } else if (type == element_type::INT64) {
        micros = EpochToMicros(element.get_int64().value_unsafe(), field.time.epoch_unit);
      } else if (type == element_type::UINT64 || type == element_type::DOUBLE) {
        micros = EpochToMicros(element.get_double().value_unsafe(), field.time.epoch_unit);
      }
      if (!micros) return false;
      value->integer = *micros;
      return true;
    }
    case Slot::kDate: {
      if (type != element_type::STRING) return false;
      auto days = ParseDateText(element.get_string().value_unsafe(), field.time);
      if (!days) return false;
      value->integer = *days;
      return true;
    }
  }
  return false;
}

Status AppendValue(FieldDecoder& field, const Value& value) {
  if (value.is_null) return field.builder->AppendNull();
  switch (field.slot) {
    case Slot::kBool:
      return checked_cast<arrow::BooleanBuilder&>(*field.builder).Append(value.boolean);
    case Slot::kInt:
      return checked_cast<arrow::Int64Builder&>(*field.builder).Append(value.integer);
    case Slot::kUInt:
      return checked_cast<arrow::UInt64Builder&>(*field.builder).Append(value.unsigned_integer);
    case Slot::kDouble:
      return checked_cast<arrow::DoubleBuilder&>(*field.builder).Append(value.number);
    case Slot::kString:
      return checked_cast<arrow::StringBuilder&>(*field.builder).Append(value.text);
    case Slot::kTimestamp:
      return checked_cast<arrow::TimestampBuilder&>(*field.builder).Append(value.integer);
    case Slot::kDate:
      return checked_cast<arrow::Date32Builder&>(*field.builder)
          .Append(static_cast<int32_t>(value.integer));
  }
  return Status::OK();
}

Result<FieldDecoder> MakeFieldDecoder(const arrow::Field& field, TimeReading time) {
  FieldDecoder decoder;
  decoder.name = field.name();
  decoder.time = std::move(time);
  decoder.type = field.type();
  std::shared_ptr<arrow::DataType> build_type;
  auto signed_range = [&](int64_t min, int64_t max) {
    decoder.slot = Slot::kInt;
    decoder.min = min;
    decoder.max = max;
    build_type = arrow::int64();
  };
  auto unsigned_range = [&](uint64_t max) {
    decoder.slot = Slot::kUInt;
    decoder.unsigned_max = max;
    build_type = arrow::uint64();
  };
  switch (field.type()->id()) {
    case arrow::Type::BOOL:
      decoder.slot = Slot::kBool;
      build_type = arrow::boolean();
      break;
    case arrow::Type::INT8:
      signed_range(INT8_MIN, INT8_MAX);
      break;
    case arrow::Type::INT16:
      signed_range(INT16_MIN, INT16_MAX);
      break;
    case arrow::Type::INT32:
      signed_range(INT32_MIN, INT32_MAX);
      break;
    case arrow::Type::INT64:
      signed_range(INT64_MIN, INT64_MAX);
      break;
    case arrow::Type::UINT8:
      unsigned_range(UINT8_MAX);
      break;
    case arrow::Type::UINT16:
      unsigned_range(UINT16_MAX);
      break;
    case arrow::Type::UINT32:
      unsigned_range(UINT32_MAX);
      break;
    case arrow::Type::UINT64:
      unsigned_range(UINT64_MAX);
      break;
    case arrow::Type::FLOAT:
    case arrow::Type::DOUBLE:
      decoder.slot = Slot::kDouble;
      build_type = arrow::float64();
      break;
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
      decoder.slot = Slot::kString;
      build_type = arrow::utf8();
      break;
    case arrow::Type::TIMESTAMP:
      decoder.slot = Slot::kTimestamp;
      build_type =
          arrow::timestamp(arrow::TimeUnit::MICRO,
                           checked_cast<const arrow::TimestampType&>(*field.type()).timezone());
      break;
    case arrow::Type::DATE32:
      decoder.slot = Slot::kDate;
      build_type = arrow::date32();
      break;
    default:
      return Status::NotImplemented(fmt::format("JSON lines cannot decode field '{}' of type {}",
                                                field.name(), TypeName(*field.type())));
  }
  SLUICE_RETURN_NOT_OK(
      arrow::MakeBuilder(arrow::default_memory_pool(), build_type, &decoder.builder));
  return decoder;
}

/// The inference lattice of InferSchema. kNonFinite is a string "NaN", "Infinity" or
/// "-Infinity", as the JSON lines writer spells those doubles: with numbers it makes a double.
enum class Inferred { kNull, kBool, kInt, kDouble, kNonFinite, kDate, kTimestamp, kString };

Inferred Merge(Inferred a, Inferred b) {
  if (a == b || b == Inferred::kNull) return a;
  if (a == Inferred::kNull) return b;
  auto either = [&](Inferred x, Inferred y) { return (a == x && b == y) || (a == y && b == x); };
  if (either(Inferred::kInt, Inferred::kDouble)) return Inferred::kDouble;
  if (either(Inferred::kInt, Inferred::kNonFinite) ||
      either(Inferred::kDouble, Inferred::kNonFinite))
    return Inferred::kDouble;
  if (either(Inferred::kDate, Inferred::kTimestamp)) return Inferred::kTimestamp;
  return Inferred::kString;
}

Inferred Classify(const simdjson::dom::element& value) {
  switch (value.type()) {
    case element_type::NULL_VALUE:
      return Inferred::kNull;
    case element_type::BOOL:
      return Inferred::kBool;
    case element_type::INT64:
      return Inferred::kInt;
    case element_type::UINT64:
    case element_type::DOUBLE:
      return Inferred::kDouble;
    case element_type::STRING: {
      std::string_view text = value.get_string().value_unsafe();
      if (text == "NaN" || text == "Infinity" || text == "-Infinity") return Inferred::kNonFinite;
      switch (ClassifyTimeText(text)) {
        case TimeTextKind::kDate:
          return Inferred::kDate;
        case TimeTextKind::kTimestamp:
          return Inferred::kTimestamp;
        case TimeTextKind::kNone:
          return Inferred::kString;
      }
      return Inferred::kString;
    }
    default:
      return Inferred::kString;
  }
}

std::shared_ptr<arrow::DataType> InferredType(Inferred inferred) {
  switch (inferred) {
    case Inferred::kBool:
      return arrow::boolean();
    case Inferred::kInt:
      return arrow::int64();
    case Inferred::kDouble:
    case Inferred::kNonFinite:
      return arrow::float64();
    case Inferred::kDate:
      return arrow::date32();
    case Inferred::kTimestamp:
      return TimestampType();
    case Inferred::kNull:
    case Inferred::kString:
      return arrow::utf8();
  }
  return arrow::utf8();
}

/// Parses `record` with `parser`, copying it into `padded` first: simdjson reads a few bytes
/// past the end, and reusing one buffer spares an allocation per record.
simdjson::simdjson_result<simdjson::dom::element> Parse(simdjson::dom::parser& parser,
                                                        std::string_view record,
                                                        std::vector<char>* padded) {
  if (padded->size() < record.size() + simdjson::SIMDJSON_PADDING) {
    padded->resize(record.size() + simdjson::SIMDJSON_PADDING);
  }
  std::copy(record.begin(), record.end(), padded->begin());
  return parser.parse(padded->data(), record.size(), /*realloc_if_needed=*/false);
}

}  // namespace

struct JsonLinesDecoder::State {
  std::shared_ptr<arrow::Schema> schema;
  std::vector<FieldDecoder> fields;
  std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> index;
  simdjson::dom::parser parser;
  std::vector<char> padded;
  std::vector<simdjson::dom::element> elements;
  std::vector<bool> present;
  std::vector<Value> values;
  int64_t num_rows = 0;
};

JsonLinesDecoder::JsonLinesDecoder(std::unique_ptr<State> state) : state_(std::move(state)) {}
JsonLinesDecoder::~JsonLinesDecoder() = default;

Result<std::unique_ptr<JsonLinesDecoder>> JsonLinesDecoder::Make(
    std::shared_ptr<arrow::Schema> schema, const TimeReadings& times) {
  auto state = std::make_unique<State>();
  for (const auto& field : schema->fields()) {
    SLUICE_ASSIGN_OR_RAISE(auto decoder, MakeFieldDecoder(*field, times.For(field->name())));
    state->index.emplace(field->name(), state->fields.size());
    state->fields.push_back(std::move(decoder));
  }
  state->schema = std::move(schema);
  state->elements.resize(state->fields.size());
  state->present.resize(state->fields.size());
  state->values.resize(state->fields.size());
  return std::unique_ptr<JsonLinesDecoder>(new JsonLinesDecoder(std::move(state)));
}

std::shared_ptr<arrow::Schema> JsonLinesDecoder::InferSchema(
    const std::vector<std::string_view>& records) {
  simdjson::dom::parser parser;
  std::vector<char> padded;
  std::vector<std::string> names;
  std::vector<Inferred> kinds;
  std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> index;
  for (std::string_view record : records) {
    simdjson::dom::object object;
    if (Parse(parser, record, &padded).get(object) != simdjson::SUCCESS) continue;
    for (auto field : object) {
      auto it = index.find(field.key);
      if (it == index.end()) {
        it = index.emplace(std::string(field.key), names.size()).first;
        names.emplace_back(field.key);
        kinds.push_back(Inferred::kNull);
      }
      kinds[it->second] = Merge(kinds[it->second], Classify(field.value));
    }
  }
  arrow::FieldVector fields;
  for (size_t i = 0; i < names.size(); ++i)
    fields.push_back(arrow::field(names[i], InferredType(kinds[i])));
  return arrow::schema(std::move(fields));
}

const std::shared_ptr<arrow::Schema>& JsonLinesDecoder::schema() const { return state_->schema; }

int64_t JsonLinesDecoder::num_rows() const { return state_->num_rows; }

Status JsonLinesDecoder::Append(std::string_view record) {
  State& state = *state_;
  simdjson::dom::element root;
  if (auto error = Parse(state.parser, record, &state.padded).get(root)) {
    return Status::Invalid(fmt::format("invalid JSON: {}", simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (root.get(object) != simdjson::SUCCESS) return Status::Invalid("not a JSON object");
  std::fill(state.present.begin(), state.present.end(), false);
  for (auto field : object) {
    auto it = state.index.find(field.key);
    if (it == state.index.end()) continue;
    state.elements[it->second] = field.value;
    state.present[it->second] = true;  // a repeated key: the last one wins
  }
  for (size_t i = 0; i < state.fields.size(); ++i) {
    Value& value = state.values[i];
    value = Value{};
    if (!state.present[i] || state.elements[i].is_null()) continue;
    if (!Convert(state.fields[i], state.elements[i], &value)) {
      return Status::Invalid(fmt::format("field '{}': cannot convert {} to {}",
                                         state.fields[i].name, ShortJson(state.elements[i]),
                                         TypeName(*state.fields[i].type)));
    }
  }
  for (size_t i = 0; i < state.fields.size(); ++i)
    SLUICE_RETURN_NOT_OK(AppendValue(state.fields[i], state.values[i]));
  ++state.num_rows;
  return Status::OK();
}

Result<std::shared_ptr<arrow::RecordBatch>> JsonLinesDecoder::Finish() {
  State& state = *state_;
  std::vector<std::shared_ptr<arrow::Array>> columns;
  columns.reserve(state.fields.size());
  for (auto& field : state.fields) {
    std::shared_ptr<arrow::Array> built;
    SLUICE_RETURN_NOT_OK(field.builder->Finish(&built));
    if (!built->type()->Equals(*field.type)) {
      // Values were range-checked when decoded, so the narrowing cast cannot lose anything
      // but float64 → float32 rounding, which is the point of that type.
      SLUICE_ASSIGN_OR_RAISE(
          built, arrow::compute::Cast(*built, field.type, arrow::compute::CastOptions::Unsafe()));
    }
    columns.push_back(std::move(built));
  }
  int64_t num_rows = state.num_rows;
  state.num_rows = 0;
  return arrow::RecordBatch::Make(state.schema, num_rows, std::move(columns));
}

Result<std::shared_ptr<arrow::RecordBatch>> JsonLinesDecoder::Decode(
    const std::vector<std::string_view>& records,
    const std::function<std::string(size_t index)>& origin,
    std::vector<exec::DeadLetter>* rejected) {
  for (size_t i = 0; i < records.size(); ++i) {
    Status status = Append(records[i]);
    if (status.ok()) continue;
    exec::DeadLetter letter;
    letter.reason = status.message();
    letter.origin = origin ? origin(i) : fmt::format("record {}", i + 1);
    letter.record = std::string(records[i]);
    rejected->push_back(std::move(letter));
  }
  return Finish();
}

Result<std::shared_ptr<arrow::RecordBatch>> JsonLinesDecoder::Decode(
    std::string_view record, std::string_view origin, std::vector<exec::DeadLetter>* rejected) {
  return Decode(
      std::vector<std::string_view>{record}, [&](size_t) { return std::string(origin); }, rejected);
}

}  // namespace sluice::formats
