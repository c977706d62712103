#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `console` sink, which prints the pipeline's output on stdout or stderr: as an
/// aligned table per batch for people trying a pipeline out, or as JSON lines for piping into
/// other tools. It is the one sink besides the CLI that writes to the standard streams.
void RegisterConsoleSink(exec::Registry* registry);

}  // namespace sluice::connectors
