#pragma once

#include "sluice/exec/registry.h"

namespace sluice::processors {

/// Registers the `window` processor: tumbling, sliding, session and count windows with
/// aggregate functions, fired by the watermark.
void RegisterWindow(exec::Registry* registry);

}  // namespace sluice::processors
