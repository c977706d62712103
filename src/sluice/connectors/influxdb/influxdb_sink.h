#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `influxdb` sink: each row becomes a point in line protocol, written over HTTP
/// to InfluxDB 1.x or 2.x in batches, at-least-once (points are idempotent).
void RegisterInfluxDbSink(exec::Registry* registry);

}  // namespace sluice::connectors
