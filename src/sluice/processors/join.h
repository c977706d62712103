#pragma once

#include "sluice/exec/registry.h"

namespace sluice::processors {

/// Registers the `join` processor: an equi-join of two streams (inner, left, right or full
/// outer) whose state is bounded by a window, a time interval or a time-to-live.
void RegisterJoin(exec::Registry* registry);

}  // namespace sluice::processors
