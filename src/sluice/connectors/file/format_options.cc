#include "sluice/connectors/file/format_options.h"

#include <arrow/type.h>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "sluice/common/spelling.h"
#include "sluice/config/location.h"
#include "sluice/exec/registry.h"
#include "sluice/formats/avro_container.h"
#include "sluice/formats/time_text.h"
#include "sluice/formats/type_names.h"

namespace sluice::connectors {
namespace {

Result<char> Delimiter(const config::Options& options) {
  std::string text = options.GetString("delimiter");
  if (text == "\\t" || text == "tab") return '\t';
  if (text.size() != 1 || text == "\"" || text == "\n" || text == "\r") {
    return config::ConfigError(
        options.LocationOf("delimiter"),
        fmt::format("delimiter must be one character other than a quote, not '{}'", text),
        "write tab as \"\\t\"");
  }
  return text[0];
}

Status CheckFormat(const std::string& format, const config::Location& where) {
  Status valid = formats::CheckTimeFormat(format);
  if (valid.ok()) return valid;
  return config::ConfigError(where, fmt::format("time format '{}': {}", format, valid.message()),
                             "e.g. \"%d/%m/%Y %H:%M\" or \"%Y%m%dT%H%M%S%z\"");
}

/// `time_format`: one format for every timestamp and date field, or a map of field → format.
Status ReadTimeFormats(const config::Options& options, const arrow::Schema* schema,
                       formats::TimeReadings* times) {
  if (!options.Has("time_format")) return Status::OK();
  const std::string& file = options.where().file;
  YAML::Node node = options.GetNode("time_format");
  if (node.IsScalar()) {
    SLUICE_RETURN_NOT_OK(CheckFormat(node.Scalar(), options.LocationOf("time_format")));
    times->format = node.Scalar();
    return Status::OK();
  }
  if (!node.IsMap()) {
    return config::ConfigError(options.LocationOf("time_format"),
                               "time_format is a format or a map of field to format",
                               "e.g. time_format: {ts: \"%d/%m/%Y %H:%M\"}");
  }
  for (const auto& entry : node) {
    const std::string field = entry.first.Scalar();
    if (!entry.second.IsScalar()) {
      return config::ConfigError(config::LocationOfNode(entry.second, file),
                                 fmt::format("the time format of '{}' must be a string", field));
    }
    if (schema != nullptr) {
      auto declared = schema->GetFieldByName(field);
      if (declared == nullptr) {
        return config::ConfigError(
            config::LocationOfNode(entry.first, file),
            fmt::format("time_format names '{}', which is not in the schema", field),
            SpellingHint(field, schema->field_names()));
      }
      auto id = declared->type()->id();
      if (id != arrow::Type::TIMESTAMP && id != arrow::Type::DATE32) {
        return config::ConfigError(
            config::LocationOfNode(entry.first, file),
            fmt::format("time_format is for timestamp and date fields; '{}' is {}", field,
                        formats::TypeName(*declared->type())),
            fmt::format("declare it in the schema as {}: timestamp", field));
      }
    }
    SLUICE_RETURN_NOT_OK(
        CheckFormat(entry.second.Scalar(), config::LocationOfNode(entry.second, file)));
    times->fields[field].format = entry.second.Scalar();
  }
  return Status::OK();
}

config::OptionSpec MaxRecordSizeSpec() {
  config::OptionSpec option = config::MakeOption(
      "max_record_size", config::OptionType::kInteger,
      "CSV and JSON lines: the largest record in bytes (a line, or a CSV row with quoted line "
      "breaks) that is read whole; reading grows its buffer up to this. A longer record, or a "
      "quote that never closes, is damaged input (see on_unreadable).",
      std::to_string(formats::ReadOptions{}.max_record_size));
  option.min = 1024;
  option.max = 1 << 30;
  return option;
}

config::OptionSpec EnumOption(std::string name, std::string doc, std::vector<std::string> choices) {
  config::OptionSpec option =
      config::MakeOption(std::move(name), config::OptionType::kEnum, std::move(doc), choices[0]);
  option.choices = std::move(choices);
  return option;
}

config::OptionSpec OnUnreadableSpec() {
  return EnumOption(
      "on_unreadable",
      "What a file that cannot be opened or damaged input does (a CSV span with no trustworthy "
      "record end, a record over max_record_size, a corrupt Parquet row group, Arrow batch, Avro "
      "block or ORC stripe, a truncated file): fail stops the run with exit 1 naming the file and position; skip "
      "skips just that span as one dead letter, counts its rows (when known) and bytes in the "
      "summary, and reads on. A malformed record is one dead letter either way.",
      {"fail", "skip"});
}

config::OptionSpec AvroCodecSpec() {
  return EnumOption("avro_codec",
                    "Avro: the codec that compresses each block of the container file. deflate "
                    "(the default) is read by every Avro implementation; snappy and zstandard "
                    "are faster, null does not compress.",
                    formats::avro::ContainerCodecNames());
}

config::OptionSpec ParquetRowGroupSizeSpec() {
  config::OptionSpec option = config::MakeOption(
      "parquet_row_group_size", config::OptionType::kInteger,
      "Parquet: the most rows in one row group. Smaller groups let readers skip more and the "
      "writer hold less in memory; larger ones compress better and scan faster.",
      "1048576");
  option.min = 1;
  return option;
}

config::OptionSpec MissingFieldsSpec() {
  return EnumOption(
      "missing_fields",
      "A field the schema declares that a file's header (CSV) or schema (Parquet, Arrow, Avro, "
      "ORC) lacks, and files of one glob whose columns differ: error stops at start naming the "
      "file and "
      "field; null reads the missing fields as null, with a warning naming them.",
      {"error", "null"});
}

}  // namespace

Result<std::shared_ptr<arrow::Schema>> DeclaredSchema(const config::Options& options,
                                                      formats::TimeReadings* times) {
  if (!options.Has("schema")) return nullptr;
  arrow::FieldVector fields;
  for (const auto& [name, type_name] : options.GetMap("schema")) {
    auto declared = formats::ParseDeclaredType(type_name.text);
    if (!declared.ok()) {
      return config::ConfigError(
          type_name.where, fmt::format("unknown type '{}' for field '{}'", type_name.text, name),
          SpellingHint(type_name.text, formats::DeclaredTypeNames()));
    }
    if (declared->epoch_unit) times->fields[name].epoch_unit = declared->epoch_unit;
    fields.push_back(arrow::field(name, declared->type));
  }
  return arrow::schema(std::move(fields));
}

config::OptionSpec FormatOptionSpec(std::string doc) {
  config::OptionSpec format =
      config::MakeOption("format", config::OptionType::kEnum, std::move(doc));
  format.choices = formats::FormatNames();
  return format;
}

std::vector<config::OptionSpec> ReadFormatOptionSpecs() {
  using config::OptionType;
  return {
      config::MakeOption(
          "schema", OptionType::kStringMap,
          "Field → type (bool, int32, int64, double, string, timestamp, date, ...); values that "
          "do not convert become dead letters. timestamp_s, timestamp_ms, timestamp_us and "
          "timestamp_ns read epoch numbers in that unit (still a timestamp[us, UTC] column) "
          "instead of guessing the unit by magnitude. Inferred from the data when left out."),
      config::MakeOption(
          "time_format", OptionType::kAny,
          "How timestamp and date text is laid out when it is not ISO 8601: a map of field → "
          "strptime-style format ({ts: \"%d/%m/%Y %H:%M\"}; a field named here is a timestamp "
          "even in an inferred schema), or one format for every timestamp and date field. "
          "%Y %y %m %d %e %j %H %I %p %M %S %f %b %B %a %z %Z %s %T %F %D %R %%; UTC unless "
          "the text has %z."),
      config::MakeOption("delimiter", OptionType::kString,
                         "CSV: the field delimiter, one character (\"\\t\" for tab).", ","),
      config::MakeOption("header", OptionType::kBool,
                         "CSV: whether the first line names the columns. Repeated names are "
                         "read as a, a_2, a_3 ..., with a warning.",
                         "true"),
      MaxRecordSizeSpec(),
      OnUnreadableSpec(),
      MissingFieldsSpec(),
  };
}

std::vector<config::OptionSpec> WriteFormatOptionSpecs() {
  using config::OptionType;
  return {
      config::MakeOption("delimiter", OptionType::kString,
                         "CSV: the field delimiter, one character (\"\\t\" for tab).", ","),
      config::MakeOption("header", OptionType::kBool,
                         "CSV: whether to write a first line naming the columns.", "true"),
      AvroCodecSpec(),
      EnumOption("parquet_compression",
                 "Parquet: the codec of the column chunks. zstd (the default) compresses about "
                 "as well as gzip at the speed of snappy; snappy and gzip are for readers that "
                 "lack zstd, none does not compress.",
                 {"zstd", "snappy", "gzip", "none"}),
      ParquetRowGroupSizeSpec(),
  };
}

Result<formats::Format> FormatFromOptions(const config::Options& options, const std::string& path) {
  if (options.Has("format")) return formats::ParseFormatName(options.GetString("format"));
  if (path.empty()) {
    return config::ConfigError(options.LocationOf("path"),
                               "standard input and output have no extension to tell the format by",
                               "add format: csv, jsonl, arrow or avro");
  }
  if (auto inferred = formats::FormatFromPath(path)) return *inferred;
  return config::ConfigError(options.LocationOf("path"),
                             fmt::format("cannot tell the format of '{}' from its extension", path),
                             "add format: csv, jsonl, parquet, arrow, avro or orc");
}

Result<formats::ReadOptions> ReadOptionsFromConfig(const config::Options& options) {
  formats::ReadOptions read_options;
  SLUICE_ASSIGN_OR_RAISE(read_options.schema, DeclaredSchema(options, &read_options.times));
  SLUICE_RETURN_NOT_OK(ReadTimeFormats(options, read_options.schema.get(), &read_options.times));
  SLUICE_ASSIGN_OR_RAISE(read_options.delimiter, Delimiter(options));
  read_options.header = options.GetBool("header");
  read_options.batch_rows = exec::BatchingOptions::FromOptions(options).batch_size;
  read_options.max_record_size = options.GetInteger("max_record_size");
  read_options.skip_damaged = options.GetString("on_unreadable") == "skip";
  read_options.missing_fields_null = options.GetString("missing_fields") == "null";
  read_options.option_hints = true;
  return read_options;
}

Result<formats::WriteOptions> WriteOptionsFromConfig(const config::Options& options) {
  formats::WriteOptions write_options;
  SLUICE_ASSIGN_OR_RAISE(write_options.delimiter, Delimiter(options));
  write_options.header = options.GetBool("header");
  write_options.avro_codec = options.GetString("avro_codec");
  write_options.parquet_compression = options.GetString("parquet_compression");
  write_options.parquet_row_group_size = options.GetInteger("parquet_row_group_size");
  std::string path = options.Has("path") ? options.GetString("path") : "";
  bool orc = options.Has("format") ? options.GetString("format") == "orc"
                                   : formats::FormatFromPath(path) == formats::Format::kOrc;
  if (orc) {
    return config::ConfigError(options.LocationOf(options.Has("format") ? "format" : "path"),
                               "ORC files are read, not written",
                               "write parquet, arrow or avro instead");
  }
  return write_options;
}

}  // namespace sluice::connectors
