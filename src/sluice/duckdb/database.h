#pragma once

#include <duckdb.h>

#include <memory>
#include <string>

#include "sluice/common/status.h"

namespace sluice::duckdb {

/// Settings for an embedded DuckDB database.
struct DatabaseOptions {
  /// Worker threads DuckDB may use for one query. A processor's database runs small queries
  /// over one micro-batch at a time on its pipeline's thread, where extra threads only add
  /// hand-offs; a store holding reference data may profit from more.
  int threads = 1;
  /// The most memory DuckDB may hold, e.g. "512MB"; empty leaves DuckDB's default (80% of RAM,
  /// per database, which is too generous when a pipeline embeds several databases).
  std::string memory_limit;
  /// Open the file for reading only: no statement may change it, and other processes may read
  /// it at the same time (but none may hold it open for writing).
  bool read_only = false;
};

/// An embedded DuckDB database: in memory (path ":memory:" or empty) or in a file.
///
/// Owns the duckdb_database handle and closes it on destruction. Shared by the Connections
/// opened on it, which keep it alive. DuckDB makes a database safe to use from several threads
/// at once; each thread uses its own Connection.
class Database {
 public:
  /// Opens (or creates) the database. Extensions are never installed or loaded behind the
  /// user's back, so a run does not reach out to the network.
  static Result<std::shared_ptr<Database>> Open(const std::string& path = ":memory:",
                                                const DatabaseOptions& options = {});

  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// The C handle, for Connection. Valid for the lifetime of this object.
  duckdb_database handle() const { return database_; }

 private:
  explicit Database(duckdb_database database) : database_(database) {}

  duckdb_database database_ = nullptr;
};

}  // namespace sluice::duckdb
