#pragma once

#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `file` source: reads CSV, JSON lines, Parquet or Arrow files matching a path or
/// glob, one after another in sorted order, as a bounded stream.
void RegisterFileSource(exec::Registry* registry);

/// The regular files matching `pattern` (a path, or a glob with *, ? and [...]), sorted so that
/// a run reads them in a predictable order. Empty when nothing matches.
std::vector<std::string> ExpandFilePattern(const std::string& pattern);

}  // namespace sluice::connectors
