#pragma once

#include <memory>

#include "sluice/common/status.h"
#include "sluice/config/options.h"
#include "sluice/exec/registry.h"
#include "sluice/exec/source.h"

namespace sluice::connectors {

/// Registers the `stdin` source: reads CSV, JSON lines or Arrow IPC from standard input as it
/// arrives, as a bounded stream that ends with the input.
void RegisterStdinSource(exec::Registry* registry);

/// The stdin source's factory, also behind the file source's `path: -`; `options` may be those
/// of either (it reads format, schema, time_format, delimiter, header and batch_size).
Result<std::unique_ptr<exec::Source>> MakeStdinSource(const exec::ConnectorContext& context,
                                                      const config::Options& options);

}  // namespace sluice::connectors
