#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `blackhole` sink, which discards every row and only counts them. Benchmarks
/// use it to measure sources and processors without the cost of encoding or writing output.
void RegisterBlackholeSink(exec::Registry* registry);

}  // namespace sluice::connectors
