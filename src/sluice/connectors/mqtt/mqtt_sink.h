#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `mqtt` sink: publishes one message per row (or per batch with format arrow) to
/// a fixed topic or one made from fields; a batch is written once the broker confirmed every
/// QoS 1/2 message of it.
void RegisterMqttSink(exec::Registry* registry);

}  // namespace sluice::connectors
