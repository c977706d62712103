#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `postgres` sink: writes rows into a PostgreSQL table with binary COPY
/// (upserts through a staging table and INSERT ... ON CONFLICT), one transaction per input
/// batch, or per checkpoint with the checkpoint's id recorded in `sluice_commits` in the same
/// transaction (exactly-once).
void RegisterPostgresSink(exec::Registry* registry);

}  // namespace sluice::connectors
