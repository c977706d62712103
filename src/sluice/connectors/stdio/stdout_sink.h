#pragma once

#include <memory>

#include "sluice/common/status.h"
#include "sluice/config/options.h"
#include "sluice/exec/registry.h"
#include "sluice/exec/sink.h"

namespace sluice::connectors {

/// Registers the `stdout` sink: writes the output to standard output in any format, for the
/// next program in a pipe.
void RegisterStdoutSink(exec::Registry* registry);

/// The stdout sink's factory, also behind the file sink's `path: -`; `options` may be those of
/// either (it reads format, delimiter and header).
Result<std::unique_ptr<exec::Sink>> MakeStdoutSink(const exec::ConnectorContext& context,
                                                   const config::Options& options);

}  // namespace sluice::connectors
