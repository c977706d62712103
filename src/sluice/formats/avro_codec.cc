#include "sluice/formats/avro_codec.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <avro.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "sluice/formats/avro_datum.h"
#include "sluice/formats/type_names.h"

namespace sluice::formats {

namespace {

/// The Avro library's last error, for messages.
std::string AvroError() {
  const char* text = avro_strerror();
  return text == nullptr || *text == '\0' ? std::string("unknown Avro error") : std::string(text);
}

/// Whether output values of type `from` convert to an Avro field read as `to` without loss:
/// integers only widen, and other types keep their kind (a cast decides the rest).
bool Lossless(const arrow::DataType& from, const arrow::DataType& to) {
  auto id = from.id();
  switch (to.id()) {
    case arrow::Type::INT32:
      return id == arrow::Type::INT8 || id == arrow::Type::INT16 || id == arrow::Type::INT32 ||
             id == arrow::Type::UINT8 || id == arrow::Type::UINT16;
    case arrow::Type::INT64:
      return id == arrow::Type::INT8 || id == arrow::Type::INT16 || id == arrow::Type::INT32 ||
             id == arrow::Type::INT64 || id == arrow::Type::UINT8 || id == arrow::Type::UINT16 ||
             id == arrow::Type::UINT32;
    case arrow::Type::FLOAT:
      return id == arrow::Type::FLOAT;
    case arrow::Type::DOUBLE:
      return id == arrow::Type::FLOAT || id == arrow::Type::DOUBLE;
    case arrow::Type::STRING:
      return id == arrow::Type::STRING || id == arrow::Type::LARGE_STRING;
    case arrow::Type::TIMESTAMP:
      return id == arrow::Type::TIMESTAMP;
    default:
      return from.Equals(to) || (arrow::is_nested(id) && arrow::compute::CanCast(from, to));
  }
}

}  // namespace

/// The shared parts of the codec: the parsed schema and the rows being decoded.
struct AvroCodec::Handles {
  std::shared_ptr<const avro::AvroNode> record;
  std::unique_ptr<arrow::ArrayBuilder> builder;
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

  // The Avro library is the judge of what a valid schema is; the shared mapping then reads it.
  avro_schema_t checked = nullptr;
  avro_schema_error_t ignored = nullptr;
  if (avro_schema_from_json(text.c_str(), static_cast<int32_t>(text.size()), &checked,
                            &ignored) != 0) {
    return config::ConfigError(where,
                               fmt::format("invalid Avro schema in '{}': {}", path, AvroError()));
  }
  avro_schema_decref(checked);
  auto record = avro::ParseSchema(text);
  if (!record.ok()) {
    return config::ConfigError(
        where, fmt::format("the Avro schema in '{}' cannot be read: {}", path,
                           record.status().message()),
        "format avro reads one record per message: {\"type\": \"record\", \"fields\": [...]}, "
        "whose unions are [\"null\", T]");
  }
  std::unique_ptr<AvroCodec> codec(new AvroCodec());
  codec->where_ = where;
  codec->path_ = path;
  codec->handles_ = std::make_unique<Handles>();
  codec->handles_->record = *std::move(record);
  codec->schema_ = avro::ArrowSchemaOf(*codec->handles_->record);
  SLUICE_ASSIGN_OR_RAISE(codec->handles_->builder,
                         arrow::MakeBuilder(codec->handles_->record->arrow_type));
  return codec;
}

Result<bool> AvroCodec::Append(std::string_view message, std::string* reason) {
  const avro::AvroNode& record = *handles_->record;
  // The message is checked whole before any of it is appended, so a bad one adds nothing.
  avro::ByteCursor check{message};
  avro::DecodeOutcome outcome;
  SLUICE_ASSIGN_OR_RAISE(bool whole, avro::DecodeValue(record, &check, nullptr, &outcome));
  if (!whole) {
    *reason = fmt::format("not an Avro record of the schema in '{}': {}", path_, outcome.broken);
    return false;
  }
  if (check.remaining() > 0) {
    *reason = fmt::format(
        "{} byte(s) after the Avro record (a message holds one record of the "
        "schema in '{}', without container header)",
        check.remaining(), path_);
    return false;
  }
  if (!outcome.unusable.empty()) {
    *reason = fmt::format("the Avro record cannot be read: {}", outcome.unusable);
    return false;
  }
  avro::ByteCursor in{message};
  SLUICE_RETURN_NOT_OK(avro::DecodeValue(record, &in, handles_->builder.get(), &outcome).status());
  return true;
}

Result<std::shared_ptr<arrow::RecordBatch>> AvroCodec::Finish() {
  std::shared_ptr<arrow::Array> rows;
  SLUICE_RETURN_NOT_OK(handles_->builder->Finish(&rows));
  return arrow::RecordBatch::FromStructArray(rows);
}

Status AvroCodec::CheckWritable(const arrow::Schema& output) const {
  for (const auto& field : schema_->fields()) {
    auto output_field = output.GetFieldByName(field->name());
    if (output_field == nullptr) {
      return config::ConfigError(
          where_, fmt::format("Avro field '{}' of '{}' is not in the output (its fields: {})",
                              field->name(), path_, fmt::join(output.field_names(), ", ")));
    }
    if (!Lossless(*output_field->type(), *field->type())) {
      return config::ConfigError(
          where_,
          fmt::format("output field '{}' of type {} cannot be written as the Avro field of type {}",
                      field->name(), formats::TypeName(*output_field->type()),
                      formats::TypeName(*field->type())),
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
  arrow::ArrayVector columns;
  for (const auto& field : schema_->fields()) {
    std::shared_ptr<arrow::Array> column = batch.GetColumnByName(field->name());
    if (column == nullptr) return Status::Invalid("avro: no column ", field->name());
    columns.push_back(std::move(column));
  }
  SLUICE_ASSIGN_OR_RAISE(columns, avro::CastForEncoding(*handles_->record, columns));
  return arrow::RecordBatch::Make(schema_, batch.num_rows(), std::move(columns));
}

Result<bool> AvroCodec::Encode(const arrow::RecordBatch& prepared, int64_t row, std::string* out,
                               std::string* reason) {
  const avro::AvroNode& record = *handles_->record;
  out->clear();
  for (size_t i = 0; i < record.children.size(); ++i) {
    const arrow::Array& column = *prepared.column(static_cast<int>(i));
    Status encoded = avro::EncodeValue(*record.children[i], column, row, out);
    if (!encoded.ok()) {
      *reason = fmt::format("field '{}' cannot be written: {}", record.names[i], encoded.message());
      return false;
    }
  }
  return true;
}

}  // namespace sluice::formats
