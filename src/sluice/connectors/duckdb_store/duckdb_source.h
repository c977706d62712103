#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `duckdb` source: runs a bounded query over a DuckDB database file (read only)
/// or, with `path: ":memory:"`, over Parquet, CSV or JSON files through DuckDB's table
/// functions, and streams its result in batches without holding it whole.
void RegisterDuckDbSource(exec::Registry* registry);

}  // namespace sluice::connectors
