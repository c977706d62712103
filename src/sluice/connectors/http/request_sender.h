#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/common/status.h"
#include "sluice/connectors/common/http_client.h"
#include "sluice/connectors/http/http_sink_options.h"

namespace sluice::connectors::http {

/// What an answer means for the rows of its request.
enum class Verdict {
  kDelivered,  ///< 2xx
  kRetry,      ///< 408, 429, 5xx (and no answer at all): worth sending again
  kReject,     ///< any other status: the rows become dead letters
};

/// The verdict on an answer with HTTP status `status`.
Verdict Judge(int status);

/// The wait before attempt `attempt` + 1, after `attempt` failed attempts (1 or more):
/// initial_backoff doubled per earlier failure, or what Retry-After asks; never more than
/// max_backoff.
std::chrono::milliseconds RetryWait(const RetryPolicy& policy, int64_t attempt,
                                    std::optional<std::chrono::milliseconds> retry_after);

/// At most `limit` bytes of `body` for a message, cut at a UTF-8 character boundary, line breaks
/// turned into spaces, "..." when cut.
std::string Excerpt(std::string_view body, size_t limit);

/// How one request ended, when it did not fail the run.
struct Outcome {
  /// Whether the server took it (2xx); otherwise it refused it (kReject).
  bool delivered = false;
  int status = 0;
  /// The start of the answer's body (refused requests).
  std::string excerpt;
};

/// Sends request bodies to the sink's URL with its method, headers and credentials, retrying
/// connection failures, timeouts, 408, 429 and 5xx (RetryWait). After max_attempts the error
/// names the URL without query and credentials; no message holds a secret. Not thread-safe:
/// the pipeline thread only.
class RequestSender {
 public:
  RequestSender(const SinkSettings& settings, std::unique_ptr<HttpClient> client,
                std::shared_ptr<spdlog::logger> logger);

  /// Sends `body` (of `num_rows` rows) with Idempotency-Key `key` until an answer that is not
  /// worth retrying; an IOError once max_attempts failed.
  Result<Outcome> Send(std::string_view body, std::string_view key, size_t num_rows);

  /// Requests sent, retries included, and retries alone.
  int64_t requests() const { return requests_; }
  int64_t retries() const { return retries_; }

 private:
  const SinkSettings& settings_;
  std::unique_ptr<HttpClient> client_;
  std::shared_ptr<spdlog::logger> logger_;
  std::vector<std::string> secrets_;
  int64_t requests_ = 0;
  int64_t retries_ = 0;
};

}  // namespace sluice::connectors::http
