#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `mysql` sink (and its alias `mariadb`): writes the stream into a MariaDB or
/// MySQL table with multi-row INSERTs, inserting or upserting, on the SQL sink core.
void RegisterMySqlSink(exec::Registry* registry);

}  // namespace sluice::connectors
