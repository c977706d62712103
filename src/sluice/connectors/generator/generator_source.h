#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `generator` source: synthetic market quotes (symbol, bid, ask, volume, ts)
/// for demos, tests and benchmarks, with no external system to set up.
///
/// The output is a pure function of the options that shape the data (`seed`, `symbols`,
/// `start`, `interval`): the same seed gives byte-identical rows whatever `batch_size`,
/// `linger` or `rate` are, so a pipeline run on generated data is reproducible.
void RegisterGeneratorSource(exec::Registry* registry);

}  // namespace sluice::connectors
