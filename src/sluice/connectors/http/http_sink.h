#pragma once

#include "sluice/exec/registry.h"

namespace sluice::connectors {

/// Registers the `http` sink: rows are sent in batches to a URL (webhooks, REST APIs) as json,
/// jsonl, csv or Arrow bodies, retried with backoff, at-least-once with an Idempotency-Key.
void RegisterHttpSink(exec::Registry* registry);

}  // namespace sluice::connectors
