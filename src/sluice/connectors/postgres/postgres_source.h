#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `postgres` source: a query's rows read through a server-side cursor in
/// batches (bounded), or polled incrementally by an ever-growing column (`poll:`), whose last
/// value is the source's checkpoint position.
void RegisterPostgresSource(exec::Registry* registry);

}  // namespace sluice::connectors
