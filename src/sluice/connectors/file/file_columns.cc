#include "sluice/connectors/file/file_columns.h"

#include <arrow/type.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "sluice/config/location.h"

namespace sluice::connectors {

using formats::Format;
using formats::RecordReader;

Result<FirstFile> OpenCheckingColumns(const InputFiles& files, Format format,
                                      const formats::ReadOptions& read_options,
                                      const std::string& pattern, const config::Options& options,
                                      spdlog::logger& logger) {
  const std::vector<std::string>& paths = files.paths();
  // Every file is opened at start, so that one whose columns differ from the others' is found
  // before the run rather than after the files before it. One that cannot be opened is left to
  // the run, where on_unreadable decides (fail: exit 1 naming it; skip: a dead letter).
  auto schema_error = [&](const Status& error) {
    return config::ConfigError(options.LocationOf("path"), error.message());
  };
  std::unique_ptr<RecordReader> first;
  size_t first_index = 0;
  Status first_error;
  for (; first_index < paths.size(); ++first_index) {
    auto opened = files.Open(first_index, format, read_options);
    if (opened.ok()) {
      first = *std::move(opened);
      break;
    }
    // A schema that does not fit the data (TypeError) is an error whatever on_unreadable says.
    if (opened.status().IsTypeError()) return schema_error(opened.status());
    if (first_error.ok()) first_error = opened.status();
  }
  if (!first) {
    return config::ConfigError(
        options.LocationOf("path"),
        paths.size() == 1
            ? fmt::format("cannot read '{}' as {}: {}", paths.front(), formats::FormatName(format),
                          first_error.message())
            : fmt::format("none of the {} files matching '{}' can be read as {}: {}", paths.size(),
                          pattern, formats::FormatName(format), first_error.message()));
  }
  for (const auto& warning : first->warnings()) logger.warn("{}", warning);
  // The later files: their own fields, against the schema of the first (declared or inferred).
  formats::ReadOptions probe = read_options;
  probe.schema = first->schema();
  probe.missing_fields_null = true;
  const std::vector<std::string> first_fields = first->input_fields();
  arrow::FieldVector added;  // columns only later files have, with missing_fields: null
  for (size_t i = first_index + 1; i < paths.size(); ++i) {
    const std::string& path = paths[i];
    auto opened = files.Open(i, format, probe);
    if (!opened.ok()) {
      if (opened.status().IsTypeError()) return schema_error(opened.status());
      continue;
    }
    for (const auto& warning : (*opened)->warnings()) {
      if (warning.find("missing_fields") == std::string::npos) logger.warn("{}", warning);
    }
    std::vector<std::string> fields = (*opened)->input_fields();
    if (fields.empty() && first_fields.empty()) continue;  // JSON lines: no header
    std::vector<std::string> missing;
    std::vector<std::string> extra;
    const auto wanted = read_options.schema ? read_options.schema->field_names() : first_fields;
    for (const auto& field : wanted)
      if (std::find(fields.begin(), fields.end(), field) == fields.end()) missing.push_back(field);
    if (!read_options.schema) {
      for (const auto& field : fields)
        if (std::find(first_fields.begin(), first_fields.end(), field) == first_fields.end())
          extra.push_back(field);
    }
    if (missing.empty() && extra.empty()) continue;
    std::string differences;
    if (!missing.empty()) differences = fmt::format("it lacks {}", fmt::join(missing, ", "));
    if (!extra.empty())
      differences +=
          fmt::format("{}it adds {}", differences.empty() ? "" : " and ", fmt::join(extra, ", "));
    const std::string against = read_options.schema
                                    ? "the declared schema"
                                    : fmt::format("'{}', the first file", paths[first_index]);
    if (!read_options.missing_fields_null) {
      return config::ConfigError(
          options.LocationOf("path"),
          fmt::format("the columns of '{}' differ from {}: {}", path, against, differences),
          "make the files agree, or set missing_fields: null to read the columns a file lacks "
          "as null");
    }
    logger.warn(
        "the columns of '{}' differ from {}: {}; read as null where missing "
        "(missing_fields: null)",
        path, against, differences);
    if (extra.empty()) continue;
    // Types of the added columns come from the file that has them.
    formats::ReadOptions own = read_options;
    own.schema = nullptr;
    auto reader = files.Open(i, format, own);
    if (!reader.ok()) return schema_error(reader.status());
    for (const auto& field : extra) {
      bool known = std::any_of(added.begin(), added.end(),
                               [&](const auto& other) { return other->name() == field; });
      if (!known) added.push_back((*reader)->schema()->GetFieldByName(field));
    }
  }
  if (!added.empty()) {
    // The columns of every file: the first file is read again as the union.
    arrow::FieldVector fields = first->schema()->fields();
    fields.insert(fields.end(), added.begin(), added.end());
    formats::ReadOptions united = read_options;
    united.schema = arrow::schema(std::move(fields));
    united.missing_fields_null = true;
    SLUICE_ASSIGN_OR_RAISE(first, files.Open(first_index, format, united));
  }
  return FirstFile{std::move(first), first_index};
}

}  // namespace sluice::connectors
