#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `nexmark` source: the Nexmark benchmark's people, auctions and bids as three
/// streams (`<source>.person`, `<source>.auction`, `<source>.bid`), generated in process.
///
/// The events are a pure function of the options that shape them (`seed`, `rate`, `start`,
/// `out_of_order_group`, the hot ratios, `active_people`, `in_flight_auctions`), whatever
/// `batch_size` is, and equal those of the Java port used by the Flink benchmark
/// (docs/nexmark.md).
void RegisterNexmarkSource(exec::Registry* registry);

}  // namespace sluice::connectors
