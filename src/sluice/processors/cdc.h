#pragma once

#include "sluice/exec/registry.h"

namespace sluice::processors {

/// Registers the `cdc` processor.
void RegisterCdc(exec::Registry* registry);

}  // namespace sluice::processors
