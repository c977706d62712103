#include "sluice/formats/avro_codec.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <avro.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "sluice/formats/type_names.h"
#include "sluice/formats/utf8_text.h"

namespace sluice::formats {

namespace {

/// The Avro types a column can have (after taking the null out of a nullable union).
enum class AvroKind {
  kBoolean,
  kInt,
  kLong,
  kFloat,
  kDouble,
  kString,
  kTimestampMillis,
  kTimestampMicros
};

const char* AvroKindName(AvroKind kind) {
  switch (kind) {
    case AvroKind::kBoolean:
      return "boolean";
    case AvroKind::kInt:
      return "int";
    case AvroKind::kLong:
      return "long";
    case AvroKind::kFloat:
      return "float";
    case AvroKind::kDouble:
      return "double";
    case AvroKind::kString:
      return "string";
    case AvroKind::kTimestampMillis:
      return "long (timestamp-millis)";
    case AvroKind::kTimestampMicros:
      return "long (timestamp-micros)";
  }
  return "?";
}

std::shared_ptr<arrow::DataType> ArrowTypeOf(AvroKind kind) {
  switch (kind) {
    case AvroKind::kBoolean:
      return arrow::boolean();
    case AvroKind::kInt:
      return arrow::int32();
    case AvroKind::kLong:
      return arrow::int64();
    case AvroKind::kFloat:
      return arrow::float32();
    case AvroKind::kDouble:
      return arrow::float64();
    case AvroKind::kString:
      return arrow::utf8();
    case AvroKind::kTimestampMillis:
    case AvroKind::kTimestampMicros:
      return formats::TimestampType();
  }
  return arrow::null();
}

/// Whether an output column of type `type` converts to `kind` without loss.
bool Writable(const arrow::DataType& type, AvroKind kind) {
  switch (kind) {
    case AvroKind::kBoolean:
      return type.id() == arrow::Type::BOOL;
    case AvroKind::kInt:
      return type.id() == arrow::Type::INT8 || type.id() == arrow::Type::INT16 ||
             type.id() == arrow::Type::INT32 || type.id() == arrow::Type::UINT8 ||
             type.id() == arrow::Type::UINT16;
    case AvroKind::kLong:
      return type.id() == arrow::Type::INT8 || type.id() == arrow::Type::INT16 ||
             type.id() == arrow::Type::INT32 || type.id() == arrow::Type::INT64 ||
             type.id() == arrow::Type::UINT8 || type.id() == arrow::Type::UINT16 ||
             type.id() == arrow::Type::UINT32;
    case AvroKind::kFloat:
      return type.id() == arrow::Type::FLOAT;
    case AvroKind::kDouble:
      return type.id() == arrow::Type::FLOAT || type.id() == arrow::Type::DOUBLE;
    case AvroKind::kString:
      return type.id() == arrow::Type::STRING || type.id() == arrow::Type::LARGE_STRING;
    case AvroKind::kTimestampMillis:
    case AvroKind::kTimestampMicros:
      return type.id() == arrow::Type::TIMESTAMP;
  }
  return false;
}

/// The Avro library's last error, for messages.
std::string AvroError() {
  const char* text = avro_strerror();
  return text == nullptr || *text == '\0' ? std::string("unknown Avro error") : std::string(text);
}

/// Reads a zig-zag varint (Avro int and long) at `*position`; false past the end.
bool ReadVarint(std::string_view data, size_t* position, int64_t* value) {
  uint64_t raw = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*position >= data.size()) return false;
    auto byte = static_cast<uint8_t>(data[(*position)++]);
    raw |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = static_cast<int64_t>(raw >> 1) ^ -static_cast<int64_t>(raw & 1);
      return true;
    }
  }
  return false;
}

/// The logicalType of each field of the record schema in `text`, "" where there is none; the
/// Avro C library does not keep logical types, so they are read from the JSON here.
std::vector<std::string> LogicalTypes(const std::string& text, size_t fields) {
  std::vector<std::string> logical(fields);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(text).get(root) != simdjson::SUCCESS) return logical;
  simdjson::dom::array list;
  if (root["fields"].get_array().get(list) != simdjson::SUCCESS) return logical;
  size_t index = 0;
  for (simdjson::dom::element field : list) {
    if (index >= fields) break;
    simdjson::dom::element type;
    if (field["type"].get(type) == simdjson::SUCCESS) {
      std::vector<simdjson::dom::element> candidates = {type};
      simdjson::dom::array branches;
      if (type.get_array().get(branches) == simdjson::SUCCESS) {
        candidates.clear();
        for (simdjson::dom::element branch : branches) candidates.push_back(branch);
      }
      for (const auto& candidate : candidates) {
        std::string_view name;
        if (candidate.is_object() &&
            candidate["logicalType"].get_string().get(name) == simdjson::SUCCESS) {
          logical[index] = std::string(name);
        }
      }
    }
    ++index;
  }
  return logical;
}

}  // namespace

struct AvroCodec::Column {
  std::string name;
  AvroKind kind = AvroKind::kLong;
  bool nullable = false;
  /// In a nullable union: the branch index of null and of the value.
  int null_branch = 0;
  int value_branch = 1;
};

/// The Avro library's objects, released in the right order.
struct AvroCodec::Handles {
  avro_schema_t schema = nullptr;
  avro_value_iface_t* iface = nullptr;
  avro_value_t value{};
  bool has_value = false;
  avro_reader_t reader = nullptr;
  avro_writer_t writer = nullptr;
  std::string write_buffer;

  ~Handles() {
    if (reader != nullptr) avro_reader_free(reader);
    if (writer != nullptr) avro_writer_free(writer);
    if (has_value) avro_value_decref(&value);
    if (iface != nullptr) avro_value_iface_decref(iface);
    if (schema != nullptr) avro_schema_decref(schema);
  }
};

AvroCodec::~AvroCodec() = default;

Result<std::unique_ptr<AvroCodec>> AvroCodec::Make(const std::string& path,
                                                   const config::Location& where) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return config::ConfigError(where, fmt::format("cannot read the Avro schema file '{}': {}", path,
                                                  std::strerror(errno)));
  }
  std::stringstream contents;
  contents << file.rdbuf();
  std::string text = contents.str();

  std::unique_ptr<AvroCodec> codec(new AvroCodec());
  codec->where_ = where;
  codec->path_ = path;
  codec->handles_ = std::make_unique<Handles>();
  Handles& handles = *codec->handles_;
  avro_schema_error_t ignored = nullptr;
  if (avro_schema_from_json(text.c_str(), static_cast<int32_t>(text.size()), &handles.schema,
                            &ignored) != 0) {
    return config::ConfigError(where,
                               fmt::format("invalid Avro schema in '{}': {}", path, AvroError()));
  }
  if (!is_avro_record(handles.schema)) {
    return config::ConfigError(
        where, fmt::format("the Avro schema in '{}' is not a record", path),
        "format avro reads one record per message: {\"type\": \"record\", \"fields\": [...]}");
  }
  size_t fields = avro_schema_record_size(handles.schema);
  std::vector<std::string> logical = LogicalTypes(text, fields);
  arrow::FieldVector arrow_fields;
  for (size_t i = 0; i < fields; ++i) {
    Column column;
    column.name = avro_schema_record_field_name(handles.schema, static_cast<int>(i));
    avro_schema_t type = avro_schema_record_field_get_by_index(handles.schema, static_cast<int>(i));
    bool supported = true;
    if (is_avro_union(type)) {
      supported = avro_schema_union_size(type) == 2;
      if (supported) {
        avro_schema_t first = avro_schema_union_branch(type, 0);
        avro_schema_t second = avro_schema_union_branch(type, 1);
        column.nullable = true;
        if (is_avro_null(first) && !is_avro_null(second)) {
          column.null_branch = 0;
          column.value_branch = 1;
          type = second;
        } else if (is_avro_null(second) && !is_avro_null(first)) {
          column.null_branch = 1;
          column.value_branch = 0;
          type = first;
        } else {
          supported = false;
        }
      }
    }
    if (supported) {
      switch (avro_typeof(type)) {
        case AVRO_BOOLEAN:
          column.kind = AvroKind::kBoolean;
          break;
        case AVRO_INT32:
          column.kind = AvroKind::kInt;
          break;
        case AVRO_INT64:
          column.kind = logical[i] == "timestamp-millis"   ? AvroKind::kTimestampMillis
                        : logical[i] == "timestamp-micros" ? AvroKind::kTimestampMicros
                                                           : AvroKind::kLong;
          break;
        case AVRO_FLOAT:
          column.kind = AvroKind::kFloat;
          break;
        case AVRO_DOUBLE:
          column.kind = AvroKind::kDouble;
          break;
        case AVRO_STRING:
          column.kind = AvroKind::kString;
          break;
        default:
          supported = false;
      }
    }
    if (!supported) {
      return config::ConfigError(
          where,
          fmt::format("Avro field '{}' in '{}' has a type format avro does not support yet",
                      column.name, path),
          "supported: boolean, int, long, float, double, string, long with logicalType "
          "timestamp-millis or timestamp-micros, and [\"null\", T] of those");
    }
    arrow_fields.push_back(arrow::field(column.name, ArrowTypeOf(column.kind), column.nullable));
    codec->columns_.push_back(std::move(column));
  }
  codec->schema_ = arrow::schema(arrow_fields);
  arrow::FieldVector prepared;
  for (const auto& column : codec->columns_) {
    // What Encode() reads: int64 for every integer and timestamps as microseconds.
    std::shared_ptr<arrow::DataType> type = ArrowTypeOf(column.kind);
    if (column.kind == AvroKind::kInt) type = arrow::int32();
    if (column.kind == AvroKind::kTimestampMillis || column.kind == AvroKind::kTimestampMicros)
      type = arrow::int64();
    prepared.push_back(arrow::field(column.name, type));
  }
  codec->prepared_schema_ = arrow::schema(prepared);

  handles.iface = avro_generic_class_from_schema(handles.schema);
  if (handles.iface == nullptr || avro_generic_value_new(handles.iface, &handles.value) != 0) {
    return Status::Invalid("cannot set up Avro values for '", path, "': ", AvroError());
  }
  handles.has_value = true;
  for (const auto& field : codec->schema_->fields()) {
    SLUICE_ASSIGN_OR_RAISE(auto builder, arrow::MakeBuilder(field->type()));
    codec->builders_.push_back(std::move(builder));
  }
  return codec;
}

bool AvroCodec::Scan(std::string_view message, std::string* reason) const {
  size_t position = 0;
  for (const Column& column : columns_) {
    if (column.nullable) {
      int64_t branch = 0;
      if (!ReadVarint(message, &position, &branch)) {
        *reason = fmt::format("truncated Avro record at field '{}'", column.name);
        return false;
      }
      if (branch != column.null_branch && branch != column.value_branch) {
        *reason = fmt::format("bad union branch {} in Avro field '{}'", branch, column.name);
        return false;
      }
      if (branch == column.null_branch) continue;
    }
    int64_t number = 0;
    size_t width = 0;
    switch (column.kind) {
      case AvroKind::kBoolean:
        width = 1;
        break;
      case AvroKind::kFloat:
        width = 4;
        break;
      case AvroKind::kDouble:
        width = 8;
        break;
      case AvroKind::kString:
        if (!ReadVarint(message, &position, &number) || number < 0 ||
            static_cast<uint64_t>(number) > message.size() - position) {
          *reason = fmt::format("bad string length in Avro field '{}'", column.name);
          return false;
        }
        width = static_cast<size_t>(number);
        break;
      default:
        if (!ReadVarint(message, &position, &number)) {
          *reason = fmt::format("truncated Avro record at field '{}'", column.name);
          return false;
        }
        break;
    }
    if (width > message.size() - position) {
      *reason = fmt::format("truncated Avro record at field '{}'", column.name);
      return false;
    }
    position += width;
  }
  if (position != message.size()) {
    *reason = fmt::format(
        "{} byte(s) after the Avro record (a message holds one record of the "
        "schema in '{}', without container header)",
        message.size() - position, path_);
    return false;
  }
  return true;
}

Result<bool> AvroCodec::Append(std::string_view message, std::string* reason) {
  if (!Scan(message, reason)) return false;
  Handles& handles = *handles_;
  if (handles.reader == nullptr) {
    handles.reader = avro_reader_memory(message.data(), static_cast<int64_t>(message.size()));
  } else {
    avro_reader_memory_set_source(handles.reader, message.data(),
                                  static_cast<int64_t>(message.size()));
  }
  avro_value_reset(&handles.value);
  if (avro_value_read(handles.reader, &handles.value) != 0) {
    *reason = fmt::format("not an Avro record of the schema in '{}': {}", path_, AvroError());
    return false;
  }
  // Scan() checked the whole record, so every read below succeeds. Milliseconds that would
  // overflow as microseconds, and strings that are not UTF-8, reject the message before any
  // column is appended.
  for (size_t i = 0; i < columns_.size(); ++i) {
    const Column& column = columns_[i];
    if (column.kind != AvroKind::kTimestampMillis && column.kind != AvroKind::kString) continue;
    avro_value_t field;
    avro_value_get_by_index(&handles.value, i, &field, nullptr);
    if (column.nullable) {
      int branch = 0;
      avro_value_get_discriminant(&field, &branch);
      if (branch == column.null_branch) continue;
      avro_value_t inner;
      avro_value_get_current_branch(&field, &inner);
      field = inner;
    }
    if (column.kind == AvroKind::kString) {
      const char* text = nullptr;
      size_t size = 0;
      avro_value_get_string(&field, &text, &size);
      // The size counts the terminating NUL.
      if (!IsValidUtf8(std::string_view(text, size > 0 ? size - 1 : 0))) {
        *reason = fmt::format("Avro field '{}' is not UTF-8 text", column.name);
        return false;
      }
      continue;
    }
    int64_t millis = 0;
    avro_value_get_long(&field, &millis);
    int64_t micros = 0;
    if (__builtin_mul_overflow(millis, int64_t{1000}, &micros)) {
      *reason = fmt::format("timestamp-millis {} out of range in Avro field '{}'", millis,
                            column.name);
      return false;
    }
  }
  for (size_t i = 0; i < columns_.size(); ++i) {
    const Column& column = columns_[i];
    arrow::ArrayBuilder* builder = builders_[i].get();
    avro_value_t field;
    avro_value_get_by_index(&handles.value, i, &field, nullptr);
    if (column.nullable) {
      int branch = 0;
      avro_value_get_discriminant(&field, &branch);
      if (branch == column.null_branch) {
        SLUICE_RETURN_NOT_OK(builder->AppendNull());
        continue;
      }
      avro_value_t inner;
      avro_value_get_current_branch(&field, &inner);
      field = inner;
    }
    switch (column.kind) {
      case AvroKind::kBoolean: {
        int value = 0;
        avro_value_get_boolean(&field, &value);
        SLUICE_RETURN_NOT_OK(static_cast<arrow::BooleanBuilder*>(builder)->Append(value != 0));
        break;
      }
      case AvroKind::kInt: {
        int32_t value = 0;
        avro_value_get_int(&field, &value);
        SLUICE_RETURN_NOT_OK(static_cast<arrow::Int32Builder*>(builder)->Append(value));
        break;
      }
      case AvroKind::kLong: {
        int64_t value = 0;
        avro_value_get_long(&field, &value);
        SLUICE_RETURN_NOT_OK(static_cast<arrow::Int64Builder*>(builder)->Append(value));
        break;
      }
      case AvroKind::kTimestampMillis:
      case AvroKind::kTimestampMicros: {
        int64_t value = 0;
        avro_value_get_long(&field, &value);
        if (column.kind == AvroKind::kTimestampMillis) value *= 1000;  // checked above
        SLUICE_RETURN_NOT_OK(static_cast<arrow::TimestampBuilder*>(builder)->Append(value));
        break;
      }
      case AvroKind::kFloat: {
        float value = 0;
        avro_value_get_float(&field, &value);
        SLUICE_RETURN_NOT_OK(static_cast<arrow::FloatBuilder*>(builder)->Append(value));
        break;
      }
      case AvroKind::kDouble: {
        double value = 0;
        avro_value_get_double(&field, &value);
        SLUICE_RETURN_NOT_OK(static_cast<arrow::DoubleBuilder*>(builder)->Append(value));
        break;
      }
      case AvroKind::kString: {
        const char* text = nullptr;
        size_t size = 0;
        avro_value_get_string(&field, &text, &size);
        // The size counts the terminating NUL.
        std::string_view view(text, size > 0 ? size - 1 : 0);
        SLUICE_RETURN_NOT_OK(static_cast<arrow::StringBuilder*>(builder)->Append(view));
        break;
      }
    }
  }
  return true;
}

Result<std::shared_ptr<arrow::RecordBatch>> AvroCodec::Finish() {
  arrow::ArrayVector arrays;
  int64_t rows = 0;
  for (auto& builder : builders_) {
    std::shared_ptr<arrow::Array> array;
    SLUICE_RETURN_NOT_OK(builder->Finish(&array));
    rows = array->length();
    arrays.push_back(std::move(array));
  }
  return arrow::RecordBatch::Make(schema_, rows, std::move(arrays));
}

Status AvroCodec::CheckWritable(const arrow::Schema& output) const {
  for (const Column& column : columns_) {
    auto field = output.GetFieldByName(column.name);
    if (field == nullptr) {
      return config::ConfigError(
          where_, fmt::format("Avro field '{}' of '{}' is not in the output (its fields: {})",
                              column.name, path_, fmt::join(output.field_names(), ", ")));
    }
    if (!Writable(*field->type(), column.kind)) {
      return config::ConfigError(
          where_,
          fmt::format("output field '{}' of type {} cannot be written as Avro {}", column.name,
                      formats::TypeName(*field->type()), AvroKindName(column.kind)),
          "cast it in a processor, or change the .avsc");
    }
  }
  for (const auto& field : output.fields()) {
    if (schema_->GetFieldByName(field->name()) == nullptr) {
      return config::ConfigError(
          where_,
          fmt::format("output field '{}' is not in the Avro schema '{}'", field->name(), path_),
          "add it to the .avsc, or drop it with a select processor");
    }
  }
  return Status::OK();
}

Result<std::shared_ptr<arrow::RecordBatch>> AvroCodec::Prepare(
    const arrow::RecordBatch& batch) const {
  arrow::ArrayVector arrays;
  for (size_t i = 0; i < columns_.size(); ++i) {
    const Column& column = columns_[i];
    std::shared_ptr<arrow::Array> array = batch.GetColumnByName(column.name);
    if (array == nullptr) return Status::Invalid("avro: no column ", column.name);
    if (column.kind == AvroKind::kTimestampMillis || column.kind == AvroKind::kTimestampMicros) {
      arrow::compute::CastOptions options = arrow::compute::CastOptions::Unsafe(
          arrow::timestamp(column.kind == AvroKind::kTimestampMillis ? arrow::TimeUnit::MILLI
                                                                     : arrow::TimeUnit::MICRO));
      SLUICE_ASSIGN_OR_RAISE(array, arrow::compute::Cast(*array, options.to_type, options));
      SLUICE_ASSIGN_OR_RAISE(array, array->View(arrow::int64()));
    } else {
      SLUICE_ASSIGN_OR_RAISE(
          array,
          arrow::compute::Cast(*array, prepared_schema_->field(static_cast<int>(i))->type()));
    }
    arrays.push_back(std::move(array));
  }
  return arrow::RecordBatch::Make(prepared_schema_, batch.num_rows(), std::move(arrays));
}

Result<bool> AvroCodec::Encode(const arrow::RecordBatch& prepared, int64_t row, std::string* out,
                               std::string* reason) {
  Handles& handles = *handles_;
  avro_value_reset(&handles.value);
  for (size_t i = 0; i < columns_.size(); ++i) {
    const Column& column = columns_[i];
    const arrow::Array& array = *prepared.column(static_cast<int>(i));
    avro_value_t field;
    avro_value_get_by_index(&handles.value, i, &field, nullptr);
    int failed = 0;
    if (column.nullable) {
      avro_value_t branch;
      if (array.IsNull(row)) {
        failed = avro_value_set_branch(&field, column.null_branch, &branch);
        if (failed == 0) failed = avro_value_set_null(&branch);
        if (failed != 0) return Status::Invalid("Avro encoding failed: ", AvroError());
        continue;
      }
      failed = avro_value_set_branch(&field, column.value_branch, &branch);
      field = branch;
    } else if (array.IsNull(row)) {
      *reason = fmt::format("field '{}' is null, but its Avro type is not a [\"null\", ...] union",
                            column.name);
      return false;
    }
    if (failed == 0) {
      switch (column.kind) {
        case AvroKind::kBoolean:
          failed = avro_value_set_boolean(
              &field, static_cast<const arrow::BooleanArray&>(array).Value(row) ? 1 : 0);
          break;
        case AvroKind::kInt:
          failed =
              avro_value_set_int(&field, static_cast<const arrow::Int32Array&>(array).Value(row));
          break;
        case AvroKind::kLong:
        case AvroKind::kTimestampMillis:
        case AvroKind::kTimestampMicros:
          failed =
              avro_value_set_long(&field, static_cast<const arrow::Int64Array&>(array).Value(row));
          break;
        case AvroKind::kFloat:
          failed =
              avro_value_set_float(&field, static_cast<const arrow::FloatArray&>(array).Value(row));
          break;
        case AvroKind::kDouble:
          failed = avro_value_set_double(&field,
                                         static_cast<const arrow::DoubleArray&>(array).Value(row));
          break;
        case AvroKind::kString: {
          // The Avro library wants a NUL-terminated string and a size counting the NUL.
          std::string text(static_cast<const arrow::StringArray&>(array).GetView(row));
          failed = avro_value_set_string_len(&field, text.c_str(), text.size() + 1);
          break;
        }
      }
    }
    if (failed != 0) return Status::Invalid("Avro encoding failed: ", AvroError());
  }
  size_t size = 0;
  if (avro_value_sizeof(&handles.value, &size) != 0)
    return Status::Invalid("Avro encoding failed: ", AvroError());
  out->resize(size);
  if (handles.writer == nullptr) {
    handles.writer = avro_writer_memory(out->data(), static_cast<int64_t>(size));
  } else {
    avro_writer_memory_set_dest(handles.writer, out->data(), static_cast<int64_t>(size));
  }
  if (handles.writer == nullptr || avro_value_write(handles.writer, &handles.value) != 0)
    return Status::Invalid("Avro encoding failed: ", AvroError());
  return true;
}

}  // namespace sluice::formats
