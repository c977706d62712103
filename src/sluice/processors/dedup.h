#pragma once

#include "sluice/exec/registry.h"

namespace sluice::processors {

/// Registers the `dedup` processor.
void RegisterDedup(exec::Registry* registry);

}  // namespace sluice::processors
