#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `duckdb` sink: appends or upserts rows into a table of a DuckDB database file
/// through DuckDB's Arrow scan, one transaction per input batch or, with checkpoints, one per
/// checkpoint that also records the checkpoint's id (exactly-once); optionally keeps only a
/// retention window by event time.
void RegisterDuckDbSink(exec::Registry* registry);

}  // namespace sluice::connectors
