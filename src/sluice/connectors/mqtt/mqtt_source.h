#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `mqtt` source: subscribes to MQTT 3.1.1 / 5 topics and acknowledges each QoS
/// 1/2 message only once the pipeline is done with it.
void RegisterMqttSource(exec::Registry* registry);

}  // namespace sluice::connectors
