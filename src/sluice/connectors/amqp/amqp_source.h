#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `amqp` source: a consumer of one RabbitMQ queue (AMQP 0-9-1) with manual
/// acknowledgements, one record per message, acknowledging messages only once the pipeline has
/// written what they produced (at-least-once), or with checkpoints once the checkpoint covering
/// them is complete. Unbounded, or bounded by `until:`.
void RegisterAmqpSource(exec::Registry* registry);

}  // namespace sluice::connectors
