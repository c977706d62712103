#pragma once

#include <memory>
#include <string>

#include "sluice/common/status.h"
#include "sluice/duckdb/database.h"

namespace sluice::connectors::duckdb_store {

/// Opens the DuckDB database file at `path` (":memory:" for none) for the duckdb sink (read
/// and write, created when missing), the duckdb source and `sluice query` (read only; the file
/// must exist). DuckDB lets one process at a time open a file for writing: when another holds
/// it, the error says which process and what to do.
Result<std::shared_ptr<duckdb::Database>> OpenStore(const std::string& path, bool read_only);

}  // namespace sluice::connectors::duckdb_store
