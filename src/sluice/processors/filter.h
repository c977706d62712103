#pragma once

#include "sluice/exec/registry.h"

namespace sluice::processors {

/// Registers the `filter` processor.
void RegisterFilter(exec::Registry* registry);

}  // namespace sluice::processors
