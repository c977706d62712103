#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `kafka` sink: one JSON message per row, to a fixed topic or one named by a
/// field, keyed by fields, with librdkafka's batching, compression and idempotent producer; with
/// `exactly_once`, one producer transaction per input batch that also commits the Kafka source's
/// offsets, or in a pipeline with checkpoints one per checkpoint.
void RegisterKafkaSink(exec::Registry* registry);

}  // namespace sluice::connectors
