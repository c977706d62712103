#pragma once

#include "sluice/exec/registry.h"

namespace sluice::processors {

/// Registers the `aggregate` processor: running aggregates per key without windows, emitted as
/// an upsert stream after every batch.
void RegisterAggregate(exec::Registry* registry);

}  // namespace sluice::processors
