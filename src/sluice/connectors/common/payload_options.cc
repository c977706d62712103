#include "sluice/connectors/common/payload_options.h"

#include <fmt/format.h>

#include <utility>

#include "sluice/config/location.h"
#include "sluice/connectors/file/format_options.h"

namespace sluice::connectors {

namespace {

using config::OptionSpec;
using config::OptionType;
using formats::MessageFormat;

/// The location of `format`, or of the component when it is left out.
config::Location FormatLocation(const config::Options& options) {
  return options.Has("format") ? options.LocationOf("format") : options.where();
}

MessageFormat FormatOf(const config::Options& options) {
  return formats::MessageFormatNamed(options.GetString("format")).value_or(MessageFormat::kJson);
}

/// The codec of the `avro_schema` file for format avro; refuses the option for other formats.
Result<std::shared_ptr<formats::AvroCodec>> AvroCodecOf(const config::Options& options,
                                                        MessageFormat format) {
  if (format != MessageFormat::kAvro) {
    if (options.Has("avro_schema")) {
      return config::ConfigError(options.LocationOf("avro_schema"),
                                 "avro_schema is used only with format: avro");
    }
    return nullptr;
  }
  if (!options.Has("avro_schema")) {
    return config::ConfigError(FormatLocation(options),
                               "format avro needs avro_schema, the path of a .avsc file",
                               "e.g. avro_schema: schemas/orders.avsc");
  }
  SLUICE_ASSIGN_OR_RAISE(auto codec, formats::AvroCodec::Make(options.GetString("avro_schema"),
                                                              options.LocationOf("avro_schema")));
  return std::shared_ptr<formats::AvroCodec>(std::move(codec));
}

OptionSpec AvroSchemaSpec(std::string doc) {
  return OptionSpec{"avro_schema", OptionType::kString, std::move(doc)};
}

}  // namespace

std::vector<OptionSpec> PayloadSourceOptionSpecs() {
  OptionSpec format{
      "format", OptionType::kEnum,
      "json: each message is one JSON object decoded with `schema`; csv: each message is one CSV "
      "record without header, its fields in `schema` order; arrow: each message is an Arrow IPC "
      "stream (schema, then any number of batches), conformed to `schema` by field name; avro: "
      "each message is one Avro binary-encoded record (no container header) of the schema in "
      "`avro_schema`; raw: each message is one text field `value`.",
      "json"};
  format.choices = {"json", "csv", "arrow", "avro", "raw"};
  OptionSpec schema{
      "schema", OptionType::kStringMap,
      "field → type (bool, int64, double, string, timestamp, ...; timestamp_ms and the other "
      "timestamp_<unit> types read epoch numbers in that unit); required for json, csv and "
      "arrow, where it also gives the csv field order; not used with avro."};
  return {format,
          AvroSchemaSpec("format avro: path of the .avsc file with the record schema (the schema "
                         "comes from the local file, not from a registry); it also gives the "
                         "fields and types, so `schema` is not used."),
          schema};
}

Result<formats::PayloadDecoding> PayloadDecodingFromConfig(const config::Options& options) {
  formats::PayloadDecoding decoding;
  decoding.format = FormatOf(options);
  SLUICE_ASSIGN_OR_RAISE(decoding.avro, AvroCodecOf(options, decoding.format));
  switch (decoding.format) {
    case MessageFormat::kAvro:
      if (options.Has("schema")) {
        return config::ConfigError(options.LocationOf("schema"),
                                   "format avro takes its schema from the avro_schema file",
                                   "leave out 'schema'; convert fields with a processor");
      }
      decoding.schema = decoding.avro->schema();
      return decoding;
    case MessageFormat::kRaw:
      if (options.Has("schema")) {
        return config::ConfigError(options.LocationOf("schema"),
                                   "format raw has a fixed schema {value: string}",
                                   "leave out 'schema', or use format: json");
      }
      decoding.schema = arrow::schema({arrow::field("value", arrow::utf8())});
      return decoding;
    case MessageFormat::kJson:
    case MessageFormat::kCsv:
    case MessageFormat::kArrow:
      break;
  }
  if (!options.Has("schema")) {
    return config::ConfigError(
        FormatLocation(options),
        fmt::format("format {} needs a schema", formats::MessageFormatName(decoding.format)),
        "declare the fields, e.g. schema: {id: int64, name: string, ts: timestamp}");
  }
  SLUICE_ASSIGN_OR_RAISE(decoding.schema, DeclaredSchema(options, &decoding.times));
  return decoding;
}

std::vector<OptionSpec> PayloadSinkOptionSpecs() {
  OptionSpec format{
      "format", OptionType::kEnum,
      "json: one JSON object per row; csv: one CSV record per row, no header, fields in output "
      "order; avro: one Avro binary-encoded record per row (no container header) with the "
      "schema in `avro_schema`; raw: the row's one string field as it is; arrow: a batch "
      "format, each micro-batch as ONE message holding an Arrow IPC stream (schema, the batch, "
      "end marker); per-row options (keys, topics from fields) do not apply, and batches must "
      "stay under the broker's message size limit.",
      "json"};
  format.choices = {"json", "csv", "arrow", "avro", "raw"};
  return {format, AvroSchemaSpec("format avro: path of the .avsc file with the record schema, "
                                 "the writer schema (the schema comes from the local file, not "
                                 "from a registry). Its fields must be exactly the output's, of "
                                 "types that convert without loss.")};
}

Result<formats::PayloadEncoding> PayloadEncodingFromConfig(const config::Options& options) {
  formats::PayloadEncoding encoding;
  encoding.format = FormatOf(options);
  encoding.where = FormatLocation(options);
  SLUICE_ASSIGN_OR_RAISE(encoding.avro, AvroCodecOf(options, encoding.format));
  return encoding;
}

Result<std::unique_ptr<formats::PayloadEncoder>> PayloadEncoderFromConfig(
    const config::Options& options, const std::shared_ptr<arrow::Schema>& schema) {
  SLUICE_ASSIGN_OR_RAISE(auto encoding, PayloadEncodingFromConfig(options));
  return formats::PayloadEncoder::Make(std::move(encoding), schema);
}

}  // namespace sluice::connectors
