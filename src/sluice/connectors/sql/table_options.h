#pragma once

#include <arrow/type_fwd.h>

#include <memory>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/location.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"

namespace sluice::connectors::sql {

/// How rows reach the table.
enum class WriteMode {
  /// Every row is a new row of the table.
  kInsert,
  /// A row replaces the table's row with the same key, or is inserted when there is none.
  kUpsert,
};

/// Where and how a database sink writes: the options every SQL sink shares (`table`,
/// `create_table`, `mode`, `key`).
struct TableOptions {
  /// The table, optionally qualified by its schema ("metrics.readings"), as the user wrote it.
  std::string table;
  /// Create the table from the stream's schema when it does not exist.
  bool create_table = false;
  WriteMode mode = WriteMode::kInsert;
  /// The fields that identify a row: the conflict target of upserts and the primary key of a
  /// created table. Empty for inserts into a table without a key.
  std::vector<std::string> key;
  config::Location where;
};

/// Declarations of `table`, `create_table`, `mode` and `key`, for a sink's PluginSpec.
std::vector<config::OptionSpec> TableOptionSpecs();

/// Reads the options declared by TableOptionSpecs(). For an upsert stream (a schema whose
/// metadata names `sluice.upsert_key`, such as `aggregate`'s output) `mode` defaults to upsert
/// and `key` to that key. Checks against `schema`, when known, that the key fields exist; an
/// upsert needs a key. Errors point at the option, as `file:line:col`.
Result<TableOptions> TableOptionsFromConfig(const config::Options& options,
                                            const std::shared_ptr<arrow::Schema>& schema);

/// The fields of the upsert key named by `schema`'s metadata (`sluice.upsert_key`), or none.
std::vector<std::string> UpsertKeyOf(const arrow::Schema& schema);

}  // namespace sluice::connectors::sql
