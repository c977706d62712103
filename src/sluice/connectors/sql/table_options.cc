#include "sluice/connectors/sql/table_options.h"

#include <arrow/type.h>
#include <arrow/util/key_value_metadata.h>
#include <fmt/format.h>

#include "sluice/common/spelling.h"

namespace sluice::connectors::sql {

std::vector<config::OptionSpec> TableOptionSpecs() {
  auto table = config::MakeOption("table", config::OptionType::kString,
                                  "The table to write, optionally qualified by its schema "
                                  "(metrics.readings).");
  table.required = true;
  auto mode = config::MakeOption(
      "mode", config::OptionType::kEnum,
      "insert: every row is a new row; upsert: a row replaces the table's row with the same "
      "key. Default: upsert for an upsert stream (aggregate's output), else insert.");
  mode.choices = {"insert", "upsert"};
  return {
      std::move(table),
      config::MakeOption("create_table", config::OptionType::kBool,
                         "Create the table from the stream's schema when it does not exist (the "
                         "key becomes its primary key).",
                         "false"),
      std::move(mode),
      config::MakeOption("key", config::OptionType::kStringList,
                         "The fields that identify a row: the conflict target of upserts and "
                         "the primary key of a created table. Default: the upsert stream's key."),
  };
}

std::vector<std::string> UpsertKeyOf(const arrow::Schema& schema) {
  std::vector<std::string> key;
  if (schema.metadata() == nullptr) return key;
  auto value = schema.metadata()->Get("sluice.upsert_key");
  if (!value.ok() || value->empty()) return key;
  std::string_view rest = *value;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    key.emplace_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return key;
}

Result<TableOptions> TableOptionsFromConfig(const config::Options& options,
                                            const std::shared_ptr<arrow::Schema>& schema) {
  TableOptions table;
  table.where = options.where();
  table.table = options.GetString("table");
  if (table.table.empty()) {
    return config::ConfigError(options.LocationOf("table"), "table must not be empty");
  }
  table.create_table = options.GetBool("create_table");
  std::vector<std::string> stream_key;
  if (schema != nullptr) stream_key = UpsertKeyOf(*schema);
  if (options.Has("mode")) {
    table.mode = options.GetString("mode") == "upsert" ? WriteMode::kUpsert : WriteMode::kInsert;
  } else if (!stream_key.empty()) {
    table.mode = WriteMode::kUpsert;
  }
  if (options.Has("key")) {
    table.key = options.GetStringList("key");
  } else {
    table.key = stream_key;
  }
  if (table.mode == WriteMode::kUpsert && table.key.empty()) {
    return config::ConfigError(options.LocationOf(options.Has("mode") ? "mode" : "key"),
                               "mode upsert needs a key: list the fields that identify a row "
                               "(key: [...])");
  }
  if (schema != nullptr) {
    for (const auto& name : table.key) {
      if (schema->GetFieldIndex(name) < 0) {
        return config::ConfigError(options.LocationOf("key"),
                                   fmt::format("key field '{}' is not in the stream", name),
                                   SpellingHint(name, schema->field_names()));
      }
    }
  }
  return table;
}

}  // namespace sluice::connectors::sql
