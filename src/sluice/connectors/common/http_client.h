#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/connectors/common/tls_options.h"

// A small HTTP client for connectors that talk to HTTP APIs (InfluxDB's write API), on libcurl.

namespace sluice::connectors {

/// How an HttpClient connects.
struct HttpClientSettings {
  /// Longest time to establish a connection (TCP and TLS).
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  /// Certificates for https:// URLs; the system's authorities when empty.
  TlsSettings tls;
  /// Bytes of a response body kept in HttpResponse::body; the rest is read and dropped.
  size_t body_excerpt = 64 * 1024;
};

/// One request.
struct HttpRequest {
  std::string url;
  /// Extra header lines, e.g. {"Content-Encoding", "gzip"}.
  std::vector<std::pair<std::string, std::string>> headers;
  /// The body of a POST or PUT; not copied, it must live until the call returns.
  std::string_view body;
  /// Longest time for the whole exchange, connection included.
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  /// HTTP basic authentication when `username` is not empty.
  std::string username;
  std::string password;
  /// AWS Signature Version 4 instead of basic authentication when not empty:
  /// "aws:amz:REGION:SERVICE" (libcurl signs; `username` and `password` are then the access
  /// key and the secret). The caller gives the x-amz-content-sha256 header.
  std::string aws_sigv4;
};

/// What the server answered.
struct HttpResponse {
  /// The status code, e.g. 204.
  int status = 0;
  /// Response headers by lower-case name (the last value of a repeated header).
  std::map<std::string, std::string, std::less<>> headers;
  /// The start of the body, at most HttpClientSettings::body_excerpt bytes.
  std::string body;

  bool ok() const { return status >= 200 && status < 300; }
  /// The value of header `name` (lower case), or empty.
  std::string_view Header(std::string_view name) const;
  /// How long Retry-After asks to wait (delay-seconds or an HTTP date), when it is given.
  std::optional<std::chrono::milliseconds> RetryAfter() const;
};

/// `url` without user information, query and fragment, for messages and logs: a URL may carry
/// credentials, and a query may carry tokens.
std::string UrlForMessages(std::string_view url);

/// `text` percent-encoded for a URL's query.
std::string UrlEncode(std::string_view text);

/// `text` with every occurrence of each non-empty secret replaced by "***".
std::string Redact(std::string text, const std::vector<std::string>& secrets);

/// Sends requests one at a time over a kept-alive connection. A transport failure (no
/// connection, timeout, TLS) is an IOError naming the URL without its query; any answer from
/// the server, whatever its status, is a response. Not thread-safe: one client per thread.
class HttpClient {
 public:
  static Result<std::unique_ptr<HttpClient>> Make(HttpClientSettings settings);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpResponse> Post(const HttpRequest& request);
  Result<HttpResponse> Get(const HttpRequest& request);
  /// A request with any method: GET, HEAD, POST, PUT or DELETE (a body only with POST and PUT).
  Result<HttpResponse> Send(std::string_view method, const HttpRequest& request);

 private:
  explicit HttpClient(HttpClientSettings settings);

  HttpClientSettings settings_;
  /// The libcurl easy handle (CURL*), kept between requests for connection reuse.
  void* handle_ = nullptr;
};

}  // namespace sluice::connectors
