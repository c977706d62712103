#pragma once

#include "sluice/exec/registry.h"

namespace sluice::processors {

/// Registers the `top_n` processor.
void RegisterTopN(exec::Registry* registry);

}  // namespace sluice::processors
