#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `amqp` sink: publishes one message per row (one per batch with format arrow)
/// to a RabbitMQ exchange with publisher confirms; a batch is written once the broker confirmed
/// every message of it (at-least-once).
void RegisterAmqpSink(exec::Registry* registry);

}  // namespace sluice::connectors
