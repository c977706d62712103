#pragma once

#include "sluice/exec/registry.h"

namespace sluice::processors {

/// Registers `select` (keep the listed fields, in that order).
void RegisterSelect(exec::Registry* registry);
/// Registers `drop` (remove the listed fields).
void RegisterDrop(exec::Registry* registry);
/// Registers `rename` (a map of old name to new name).
void RegisterRename(exec::Registry* registry);

}  // namespace sluice::processors
