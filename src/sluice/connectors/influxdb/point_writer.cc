#include "sluice/connectors/influxdb/point_writer.h"

#include <arrow/buffer.h>
#include <arrow/util/compression.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <thread>

#include "sluice/common/duration.h"

namespace sluice::connectors::influxdb {
namespace {

/// Whether a 4xx answer is about some of the points (they become dead letters) rather than about
/// the request as a whole (credentials, database: the run fails).
bool AboutPoints(int status, std::string_view message) {
  if (status != 400 && status != 422) return false;
  for (std::string_view mark : {"partial write", "unable to parse", "field type conflict",
                                "invalid field", "invalid tag", "points beyond retention"}) {
    if (message.find(mark) != std::string_view::npos) return true;
  }
  return false;
}

bool WorthRetrying(int status) { return status == 408 || status == 429 || status >= 500; }

std::string_view WithoutNewline(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  return line;
}

Result<std::string> Gzip(std::string_view body) {
  static const auto codec = arrow::util::Codec::Create(arrow::Compression::GZIP, 1);
  if (!codec.ok()) return codec.status();
  const auto& gzip = *codec;
  int64_t bound = gzip->MaxCompressedLen(static_cast<int64_t>(body.size()),
                                         reinterpret_cast<const uint8_t*>(body.data()));
  std::string compressed(static_cast<size_t>(bound), '\0');
  SLUICE_ASSIGN_OR_RAISE(
      int64_t size,
      gzip->Compress(static_cast<int64_t>(body.size()),
                     reinterpret_cast<const uint8_t*>(body.data()), bound,
                     reinterpret_cast<uint8_t*>(compressed.data())));
  compressed.resize(static_cast<size_t>(size));
  return compressed;
}

std::string Join(const std::vector<std::string_view>& lines, const std::vector<size_t>& indices) {
  size_t size = 0;
  for (size_t index : indices) size += lines[index].size();
  std::string body;
  body.reserve(size);
  for (size_t index : indices) body.append(lines[index]);
  return body;
}

}  // namespace

std::string WriteEndpoint::WriteUrl() const {
  if (api == Api::kV2) {
    return fmt::format("{}/api/v2/write?org={}&bucket={}&precision={}", url, UrlEncode(org),
                       UrlEncode(bucket), PrecisionName(precision));
  }
  // 1.x spells nanoseconds and microseconds "n" and "u".
  std::string_view unit = precision == Precision::kNanoseconds    ? "n"
                          : precision == Precision::kMicroseconds ? "u"
                                                                  : PrecisionName(precision);
  std::string write = fmt::format("{}/write?db={}&precision={}", url, UrlEncode(database), unit);
  if (!retention_policy.empty()) write += "&rp=" + UrlEncode(retention_policy);
  return write;
}

std::string WriteEndpoint::Describe() const {
  if (api == Api::kV2) {
    return fmt::format("InfluxDB {} (org '{}', bucket '{}')", UrlForMessages(url), org, bucket);
  }
  return fmt::format("InfluxDB {} (database '{}')", UrlForMessages(url), database);
}

std::string ErrorMessage(const HttpResponse& response) {
  if (!response.body.empty()) {
    simdjson::dom::parser parser;
    simdjson::dom::element document;
    simdjson::padded_string padded(response.body);
    if (parser.parse(padded).get(document) == simdjson::SUCCESS) {
      for (const char* key : {"error", "message"}) {
        std::string_view text;
        if (document[key].get(text) == simdjson::SUCCESS) return std::string(text);
      }
    }
  }
  std::string_view header = response.Header("x-influxdb-error");
  if (!header.empty()) return std::string(header);
  std::string body = response.body.substr(0, 500);
  while (!body.empty() && (body.back() == '\n' || body.back() == ' ')) body.pop_back();
  return body.empty() ? "(no message)" : body;
}

std::vector<Refusal> ParseFailures(std::string_view message,
                                   const std::vector<std::string_view>& lines,
                                   const std::vector<size_t>& indices) {
  std::vector<Refusal> found;
  if (message.find("unable to parse '") == std::string_view::npos) return found;
  std::string needle;
  for (size_t index : indices) {
    std::string_view line = WithoutNewline(lines[index]);
    needle.assign("unable to parse '");
    needle.append(line);
    needle.append("': ");
    size_t at = message.find(needle);
    if (at == std::string_view::npos) continue;
    // The entry runs to the next entry or to the closing " dropped=N".
    size_t end = message.find("\nunable to parse '", at + needle.size());
    std::string_view entry = message.substr(at, end == std::string_view::npos ? end : end - at);
    size_t dropped = entry.rfind(" dropped=");
    if (dropped != std::string_view::npos) entry = entry.substr(0, dropped);
    found.push_back({index, std::string(entry)});
  }
  return found;
}

std::vector<size_t> ConflictSuspects(std::string_view message,
                                     const std::vector<std::string_view>& lines,
                                     const std::vector<size_t>& indices) {
  // 1.x: field type conflict: input field "F" on measurement "M" is type T, already exists ...
  std::vector<size_t> suspects;
  constexpr std::string_view kField = "input field \"";
  constexpr std::string_view kMeasurement = "\" on measurement \"";
  constexpr std::string_view kType = "\" is type ";
  size_t field_at = message.find(kField);
  if (message.find("field type conflict") == std::string_view::npos ||
      field_at == std::string_view::npos) {
    return suspects;
  }
  size_t measurement_at = message.find(kMeasurement, field_at);
  size_t type_at = message.rfind(kType);
  if (measurement_at == std::string_view::npos || type_at == std::string_view::npos ||
      type_at < measurement_at) {
    return suspects;
  }
  std::string_view field = message.substr(field_at + kField.size(),
                                          measurement_at - field_at - kField.size());
  std::string_view measurement = message.substr(measurement_at + kMeasurement.size(),
                                                type_at - measurement_at - kMeasurement.size());
  std::string prefix;
  AppendEscaped(measurement, Element::kMeasurement, &prefix);
  std::string key;
  AppendEscaped(field, Element::kFieldKey, &key);
  key += '=';
  for (size_t index : indices) {
    std::string_view line = lines[index];
    if (line.size() <= prefix.size() || line.substr(0, prefix.size()) != prefix ||
        (line[prefix.size()] != ',' && line[prefix.size()] != ' ')) {
      continue;
    }
    // The key after a space or comma; a string value holding the same text makes a false
    // suspect, which costs requests, never correctness.
    for (size_t at = line.find(key, prefix.size()); at != std::string_view::npos;
         at = line.find(key, at + 1)) {
      if (line[at - 1] == ' ' || line[at - 1] == ',') {
        suspects.push_back(index);
        break;
      }
    }
  }
  return suspects;
}

int64_t DroppedPoints(std::string_view message) {
  size_t at = message.rfind("dropped=");
  if (at == std::string_view::npos) return -1;
  std::string_view digits = message.substr(at + 8);
  int64_t dropped = -1;
  std::from_chars(digits.data(), digits.data() + digits.size(), dropped);
  return dropped;
}

PointWriter::PointWriter(WriteEndpoint endpoint, std::unique_ptr<HttpClient> client,
                         std::shared_ptr<spdlog::logger> logger)
    : endpoint_(std::move(endpoint)),
      write_url_(endpoint_.WriteUrl()),
      client_(std::move(client)),
      logger_(std::move(logger)) {}

std::string PointWriter::Secretless(std::string text) const {
  return Redact(std::move(text), {endpoint_.password, endpoint_.token});
}

Status PointWriter::Ping() {
  HttpRequest request;
  request.url = endpoint_.url + "/ping";
  request.timeout = endpoint_.timeout;
  auto response = client_->Get(request);
  if (!response.ok()) {
    return Status::IOError(Secretless(fmt::format("cannot reach {}: {}", endpoint_.Describe(),
                                                  response.status().message())));
  }
  if (!response->ok()) {
    return Status::IOError(Secretless(
        fmt::format("{} does not answer its /ping as InfluxDB does: HTTP {}: {}",
                    endpoint_.Describe(), response->status, ErrorMessage(*response))));
  }
  return Status::OK();
}

Result<std::vector<Refusal>> PointWriter::Write(const std::vector<std::string_view>& lines,
                                                std::string_view body) {
  std::vector<Refusal> refusals;
  std::vector<size_t> indices(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) indices[i] = i;
  if (!lines.empty()) SLUICE_RETURN_NOT_OK(Deliver(lines, std::move(indices), body, &refusals));
  std::sort(refusals.begin(), refusals.end(),
            [](const Refusal& a, const Refusal& b) { return a.line < b.line; });
  return refusals;
}

Status PointWriter::Deliver(const std::vector<std::string_view>& lines,
                            std::vector<size_t> indices, std::string_view body,
                            std::vector<Refusal>* refusals) {
  std::string joined;
  if (body.empty()) {
    joined = Join(lines, indices);
    body = joined;
  }
  SLUICE_ASSIGN_OR_RAISE(HttpResponse response, PostWithRetries(body, indices.size()));
  if (response.ok()) return Status::OK();
  std::string message = ErrorMessage(response);
  auto halves = [&]() -> Status {
    size_t middle = indices.size() / 2;
    std::vector<size_t> left(indices.begin(), indices.begin() + middle);
    std::vector<size_t> right(indices.begin() + middle, indices.end());
    SLUICE_RETURN_NOT_OK(Deliver(lines, std::move(left), {}, refusals));
    return Deliver(lines, std::move(right), {}, refusals);
  };
  if (response.status == 413) {  // the body is larger than the server takes
    if (indices.size() > 1) return halves();
    refusals->push_back({indices.front(), "the server refuses the point as too large: " +
                                              Secretless(message)});
    return Status::OK();
  }
  if (!AboutPoints(response.status, message)) return AnswerError(response, message);
  if (indices.size() == 1) {
    refusals->push_back({indices.front(), Secretless(message)});
    return Status::OK();
  }
  int64_t dropped = DroppedPoints(message);
  if (dropped == static_cast<int64_t>(indices.size())) {
    // Every point was refused for the same reason (a type conflict of a whole batch).
    for (size_t index : indices) refusals->push_back({index, Secretless(message)});
    return Status::OK();
  }
  // Lines the server names as unparseable are refused; InfluxDB 1.x wrote the others unless it
  // also dropped some ("dropped=N" above 0). Otherwise the rest is sent again (what was written
  // is overwritten by itself), split until each refused line stands alone.
  std::vector<Refusal> failures = ParseFailures(message, lines, indices);
  if (!failures.empty()) {
    std::vector<size_t> rest;
    size_t next = 0;
    for (size_t index : indices) {
      if (next < failures.size() && failures[next].line == index) {
        ++next;
        continue;
      }
      rest.push_back(index);
    }
    for (auto& failure : failures) {
      failure.reason = Secretless(std::move(failure.reason));
      refusals->push_back(std::move(failure));
    }
    if (rest.empty()) return Status::OK();
    if (endpoint_.api == WriteEndpoint::Api::kV1 && dropped == 0) return Status::OK();
    return Deliver(lines, std::move(rest), {}, refusals);
  }
  // A type conflict names its measurement and field: the lines that have both are sent apart
  // from the others, so that a batch with many conflicting points costs a few requests instead
  // of a split per point. The suspects are only a guess; each part is checked like any request.
  std::vector<size_t> suspects = ConflictSuspects(message, lines, indices);
  if (!suspects.empty() && suspects.size() < indices.size()) {
    std::vector<size_t> others;
    std::set_difference(indices.begin(), indices.end(), suspects.begin(), suspects.end(),
                        std::back_inserter(others));
    SLUICE_RETURN_NOT_OK(Deliver(lines, std::move(others), {}, refusals));
    return Deliver(lines, std::move(suspects), {}, refusals);
  }
  return halves();
}

Result<HttpResponse> PointWriter::PostWithRetries(std::string_view body, size_t num_lines) {
  HttpRequest request;
  request.url = write_url_;
  request.timeout = endpoint_.timeout;
  request.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  if (endpoint_.api == WriteEndpoint::Api::kV2) {
    request.headers.emplace_back("Authorization", "Token " + endpoint_.token);
  } else if (!endpoint_.username.empty()) {
    request.username = endpoint_.username;
    request.password = endpoint_.password;
  }
  std::string compressed;
  if (endpoint_.gzip) {
    SLUICE_ASSIGN_OR_RAISE(compressed, Gzip(body));
    request.headers.emplace_back("Content-Encoding", "gzip");
    request.body = compressed;
  } else {
    request.body = body;
  }
  std::chrono::milliseconds backoff = endpoint_.backoff;
  for (int64_t attempt = 0;; ++attempt) {
    ++requests_;
    auto response = client_->Post(request);
    std::string reason;
    std::optional<std::chrono::milliseconds> wait;
    if (!response.ok()) {
      reason = response.status().message();
    } else if (WorthRetrying(response->status)) {
      reason = fmt::format("HTTP {}: {}", response->status, ErrorMessage(*response));
      wait = response->RetryAfter();
    } else {
      return response;
    }
    reason = Secretless(std::move(reason));
    if (attempt >= endpoint_.retries) {
      return Status::IOError(fmt::format("cannot write {} point(s) to {} after {} attempt(s): {}",
                                         num_lines, endpoint_.Describe(), attempt + 1, reason));
    }
    std::chrono::milliseconds pause = wait.value_or(backoff);
    logger_->warn("writing {} point(s) failed ({}); attempt {} of {} in {}", num_lines, reason,
                  attempt + 2, endpoint_.retries + 1, FormatDuration(pause));
    std::this_thread::sleep_for(pause);
    backoff = std::min(backoff * 2, endpoint_.max_backoff);
  }
}

Status PointWriter::AnswerError(const HttpResponse& response, std::string_view message) const {
  std::string what;
  switch (response.status) {
    case 401:
      what = "refused the credentials";
      break;
    case 403:
      what = "does not allow writing with these credentials";
      break;
    case 404:
      what = endpoint_.api == WriteEndpoint::Api::kV2 ? "has no such org or bucket"
                                                      : "has no such database";
      break;
    default:
      what = "refused the write";
  }
  return Status::IOError(Secretless(fmt::format("{} {} (HTTP {}): {}", endpoint_.Describe(), what,
                                                response.status, message)));
}

}  // namespace sluice::connectors::influxdb
