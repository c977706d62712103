#pragma once

#include <memory>
#include <string>

#include "sluice/common/status.h"
#include "sluice/exec/pipeline_metrics.h"
#include "sluice/http/http_server.h"

namespace sluice::cli {

/// Starts the HTTP server of `sluice run --http`: /metrics (Prometheus text format 0.0.4),
/// /health (200 while the process runs) and /ready (200 while the pipeline runs, 503 before
/// and after). Fails when the address is invalid or already in use. The server holds a
/// reference to `metrics`; stop it (or destroy it) to close its port.
Result<std::unique_ptr<http::HttpServer>> StartMetricsServer(
    const std::string& address, std::shared_ptr<exec::PipelineMetrics> metrics);

}  // namespace sluice::cli
