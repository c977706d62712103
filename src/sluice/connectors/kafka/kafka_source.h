#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `kafka` source: a consumer-group member reading one message per record (JSON or
/// raw text), unbounded or up to the end offsets seen at start (`until: end`), committing offsets
/// only for batches the pipeline has acknowledged (at-least-once), or leaving them to an
/// exactly-once Kafka sink's transactions (kafka::TransactionalInput); with checkpoints it
/// resumes from the offsets a checkpoint saved.
void RegisterKafkaSource(exec::Registry* registry);

}  // namespace sluice::connectors
