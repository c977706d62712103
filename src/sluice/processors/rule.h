#pragma once

#include "sluice/exec/registry.h"

namespace sluice::processors {

/// Registers the `rule` processor.
void RegisterRule(exec::Registry* registry);

}  // namespace sluice::processors
