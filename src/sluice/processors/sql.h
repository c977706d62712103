#pragma once

#include "sluice/exec/registry.h"

namespace sluice::processors {

/// Registers the `sql` processor, which runs a DuckDB query over each micro-batch, read as the
/// table `input`.
void RegisterSql(exec::Registry* registry);

}  // namespace sluice::processors
