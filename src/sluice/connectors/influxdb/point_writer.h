#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/connectors/common/http_client.h"
#include "sluice/connectors/influxdb/line_protocol.h"

namespace sluice::connectors::influxdb {

/// Where and how points are written.
struct WriteEndpoint {
  enum class Api { kV1, kV2 };
  Api api = Api::kV1;
  /// The server's base URL, without a trailing slash.
  std::string url;
  /// 1.x: database and retention policy (empty: the default one); basic authentication when
  /// `username` is given.
  std::string database;
  std::string retention_policy;
  std::string username;
  std::string password;
  /// 2.x: organisation, bucket and API token.
  std::string org;
  std::string bucket;
  std::string token;
  Precision precision = Precision::kNanoseconds;
  bool gzip = false;
  /// Longest time for one request.
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  /// Attempts after the first for a request that failed in a way worth retrying (no answer, a
  /// timeout, 5xx, 429), waiting `backoff`, doubled each time up to `max_backoff`, or what the
  /// server's Retry-After asks.
  int64_t retries = 10;
  std::chrono::milliseconds backoff{500};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(30)};

  /// The write URL, query included.
  std::string WriteUrl() const;
  /// "http://host:8086 database db" / "... org o bucket b", for messages: no secrets.
  std::string Describe() const;
};

/// A line the server would not take, and its message.
struct Refusal {
  /// Index into the lines given to PointWriter::Write().
  size_t line = 0;
  std::string reason;
};

/// Writes line protocol to InfluxDB's write API: retries what is worth retrying, and isolates
/// the lines the server refuses (a partial write), so that the good lines are written and each
/// refused one is reported with the server's message. Points are idempotent (the same
/// measurement, tags and time overwrite), so sending a line again — after a lost answer, or while
/// isolating refused lines — never duplicates a point. Not thread-safe.
class PointWriter {
 public:
  PointWriter(WriteEndpoint endpoint, std::unique_ptr<HttpClient> client,
              std::shared_ptr<spdlog::logger> logger);

  /// Checks that the server answers (GET /ping), once; an IOError saying why when it does not.
  Status Ping();

  /// Writes `lines` (each ending in '\n'); `body` is their concatenation when the caller has it
  /// (empty otherwise). Returns the refused lines. Fails when the server stays unreachable or
  /// answers with an error that is not about the points (credentials, a missing database).
  Result<std::vector<Refusal>> Write(const std::vector<std::string_view>& lines,
                                     std::string_view body = {});

  /// Requests sent, retries included.
  int64_t requests() const { return requests_; }

 private:
  /// Writes lines[indices], splitting the request when the server refuses some of them.
  Status Deliver(const std::vector<std::string_view>& lines, std::vector<size_t> indices,
                 std::string_view body, std::vector<Refusal>* refusals);
  /// Posts `body`, retrying transport failures, 5xx and 429; returns the first other answer.
  Result<HttpResponse> PostWithRetries(std::string_view body, size_t num_lines);
  /// The error for an answer that fails the run.
  Status AnswerError(const HttpResponse& response, std::string_view message) const;
  std::string Secretless(std::string text) const;

  WriteEndpoint endpoint_;
  std::string write_url_;
  std::unique_ptr<HttpClient> client_;
  std::shared_ptr<spdlog::logger> logger_;
  int64_t requests_ = 0;
};

/// The server's error message in a response: the JSON body's "error" (1.x) or "message" (2.x),
/// else the X-Influxdb-Error header, else the body.
std::string ErrorMessage(const HttpResponse& response);

/// The lines of `lines` that an "unable to parse '<line>': <why>" entry of `message` names,
/// each with that entry.
std::vector<Refusal> ParseFailures(std::string_view message,
                                   const std::vector<std::string_view>& lines,
                                   const std::vector<size_t>& indices);

/// For a 1.x type conflict ("input field \"F\" on measurement \"M\" ..."): the lines of
/// measurement M that have field F, in `indices` order; empty for other messages.
std::vector<size_t> ConflictSuspects(std::string_view message,
                                     const std::vector<std::string_view>& lines,
                                     const std::vector<size_t>& indices);

/// N of "dropped=N" at the end of a 1.x partial-write message, or -1.
int64_t DroppedPoints(std::string_view message);

}  // namespace sluice::connectors::influxdb
