#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `file` sink: writes CSV, JSON lines, Parquet or Arrow to a temporary file
/// beside the target and renames it into place at Publish(), so readers never see half a file.
/// With `roll`, it writes rolling part files instead (see rolling_file_sink.h).
void RegisterFileSink(exec::Registry* registry);

}  // namespace sluice::connectors
