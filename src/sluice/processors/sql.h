#pragma once

#include "sluice/exec/registry.h"

namespace sluice::processors {

/// Registers the `sql` processor, which runs a DuckDB query over its input, read as the table
/// `input`: per micro-batch when the statement is row-wise, else per window or over the whole
/// (bounded) input, so that its result never depends on micro-batch boundaries.
void RegisterSql(exec::Registry* registry);

}  // namespace sluice::processors
