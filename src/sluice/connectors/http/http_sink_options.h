#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"
#include "sluice/connectors/common/http_client.h"

namespace sluice::connectors::http {

/// How the rows of one request are written in its body.
enum class BodyFormat {
  kJson,   ///< one JSON array of objects
  kJsonl,  ///< one JSON object a line
  kCsv,    ///< a header line, then one record a line
  kArrow,  ///< an Arrow IPC stream: schema, one batch, end marker
};

/// The Content-Type of `format`.
const char* ContentType(BodyFormat format);

/// How long to wait between attempts at one request.
struct RetryPolicy {
  /// Attempts in all (the first included) before a retryable failure fails the run.
  int64_t max_attempts = 5;
  /// The wait after the first failure, doubled after each further one up to `max_backoff`.
  std::chrono::milliseconds initial_backoff{200};
  /// The longest wait, also for a Retry-After that asks for more.
  std::chrono::milliseconds max_backoff{std::chrono::seconds(30)};
};

/// What the `http` sink's options say.
struct SinkSettings {
  /// Where requests go, query included; give it to messages only through UrlForMessages().
  std::string url;
  std::string method = "POST";
  /// Extra headers in file order, environment variables substituted.
  std::vector<std::pair<std::string, std::string>> headers;
  /// Authorization: Bearer <token> when not empty.
  std::string bearer_token;
  /// HTTP basic authentication when `username` is not empty.
  std::string username;
  std::string password;
  BodyFormat format = BodyFormat::kJson;
  /// Rows per request at most, and body bytes per request at most (unless one row is larger).
  int64_t batch_rows = 500;
  int64_t batch_bytes = 1 << 20;
  /// With checkpoints: how long rows may wait for a request to fill.
  std::chrono::nanoseconds linger{std::chrono::milliseconds(100)};
  /// Requests sent at once, each over its own connection.
  int64_t max_in_flight = 1;
  /// Longest time for one request.
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  RetryPolicy retry;
  HttpClientSettings http;

  /// The secrets to keep out of messages: token, password, and the values of headers that
  /// carry credentials.
  std::vector<std::string> Secrets() const;
};

/// The sink's option declarations.
std::vector<config::OptionSpec> SinkOptionSpecs();

/// Reads and checks the options; configuration errors at their place in the pipeline file.
Result<SinkSettings> SinkSettingsFromConfig(const config::Options& options);

}  // namespace sluice::connectors::http
