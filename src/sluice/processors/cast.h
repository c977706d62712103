#pragma once

#include "sluice/exec/registry.h"

namespace sluice::processors {

/// Registers the `cast` processor.
void RegisterCast(exec::Registry* registry);

}  // namespace sluice::processors
