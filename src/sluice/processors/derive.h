#pragma once

#include "sluice/exec/registry.h"

namespace sluice::processors {

/// Registers the `derive` processor.
void RegisterDerive(exec::Registry* registry);

}  // namespace sluice::processors
