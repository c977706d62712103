#include "sluice/cli/metrics_server.h"

namespace sluice::cli {

Result<std::unique_ptr<http::HttpServer>> StartMetricsServer(
    const std::string& address, std::shared_ptr<exec::PipelineMetrics> metrics) {
  // Scrapers and probes send small GET requests: 16 KiB bounds a hostile one.
  http::ServerOptions options;
  options.max_request_bytes = 16 * 1024;
  options.idle_timeout = std::chrono::seconds(60);
  options.max_connections = 512;
  SLUICE_ASSIGN_OR_RAISE(auto server, http::HttpServer::Make(address, options));
  server->Route("GET", "/metrics", [metrics](const http::Request&) {
    return http::Response{200, "text/plain; version=0.0.4; charset=utf-8",
                          exec::RenderPrometheus(metrics->Snapshot(), exec::UnixSeconds()),
                          {}};
  });
  server->Route("GET", "/health", [](const http::Request&) {
    return http::Response{200, "text/plain; charset=utf-8", "ok\n", {}};
  });
  server->Route("GET", "/ready", [metrics](const http::Request&) {
    return metrics->running()
               ? http::Response{200, "text/plain; charset=utf-8", "ready\n", {}}
               : http::Response{503, "text/plain; charset=utf-8", "not running\n", {}};
  });
  server->Start();
  return server;
}

}  // namespace sluice::cli
