#include "sluice/connectors/duckdb_store/store_database.h"

#include <filesystem>
#include <system_error>

namespace sluice::connectors::duckdb_store {

Result<std::shared_ptr<duckdb::Database>> OpenStore(const std::string& path, bool read_only) {
  const bool in_memory = path.empty() || path == ":memory:";
  if (read_only && !in_memory) {
    std::error_code error;
    if (!std::filesystem::exists(path, error)) {
      return Status::IOError("DuckDB database '", path, "' does not exist");
    }
  }
  duckdb::DatabaseOptions options;
  // A file opened read-only must not be touched; an in-memory database has nothing to protect.
  options.read_only = read_only && !in_memory;
  auto database = duckdb::Database::Open(path, options);
  if (!database.ok() &&
      database.status().message().find("Could not set lock") != std::string::npos) {
    return Status::IOError(
        "DuckDB database '", path, "' is locked by another process: DuckDB lets one process at "
        "a time open a file for writing (", database.status().message(),
        "). Stop that process, or write to a file of its own and read both with ATTACH");
  }
  return database;
}

}  // namespace sluice::connectors::duckdb_store
