#include "sluice/connectors/http/http_sink_options.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <string_view>

#include "sluice/common/byte_size.h"
#include "sluice/connectors/common/tls_options.h"

namespace sluice::connectors::http {

using config::MakeOption;
using config::OptionSpec;
using config::OptionType;

namespace {

std::chrono::milliseconds Milliseconds(Duration duration) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(duration);
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

/// Whether a header of this name usually carries a credential (its value is then redacted).
bool CarriesCredential(std::string_view name) {
  std::string lower = Lower(name);
  for (std::string_view mark : {"auth", "key", "token", "secret", "cookie", "signature"}) {
    if (lower.find(mark) != std::string::npos) return true;
  }
  return false;
}

/// A header name is a token (RFC 9110): visible characters other than separators.
bool IsHeaderName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

}  // namespace

const char* ContentType(BodyFormat format) {
  switch (format) {
    case BodyFormat::kJson:
      return "application/json";
    case BodyFormat::kJsonl:
      return "application/x-ndjson";
    case BodyFormat::kCsv:
      return "text/csv; charset=utf-8";
    case BodyFormat::kArrow:
      return "application/vnd.apache.arrow.stream";
  }
  return "application/octet-stream";
}

std::vector<std::string> SinkSettings::Secrets() const {
  std::vector<std::string> secrets{bearer_token, password};
  for (const auto& [name, value] : headers) {
    if (CarriesCredential(name)) secrets.push_back(value);
  }
  return secrets;
}

std::vector<OptionSpec> SinkOptionSpecs() {
  OptionSpec url = MakeOption("url", OptionType::kString,
                              "Where requests go: http://host:port/path or https://...; "
                              "credentials go in auth, not in the URL.");
  url.required = true;
  OptionSpec method = MakeOption("method", OptionType::kEnum, "The request method.", "POST");
  method.choices = {"POST", "PUT"};
  OptionSpec headers = MakeOption(
      "headers", OptionType::kStringMap,
      "Extra request headers; values may use ${VARIABLE}. Values of headers whose name holds "
      "auth, key, token, secret, cookie or signature are kept out of messages.");
  OptionSpec auth = MakeOption("auth", OptionType::kSection,
                               "Credentials: bearer_token, or basic (username, password).");
  OptionSpec bearer = MakeOption(
      "bearer_token", OptionType::kString,
      "Sent as Authorization: Bearer <token>; use ${VARIABLE} to keep it out of the file.");
  OptionSpec basic = MakeOption(
      "basic", OptionType::kSection,
      "HTTP basic authentication: username, and password (use ${VARIABLE} to keep it out of "
      "the file).");
  OptionSpec username = MakeOption("username", OptionType::kString, "The user name.");
  OptionSpec password = MakeOption("password", OptionType::kString,
                                   "The password; use ${VARIABLE} to keep it out of the file.");
  basic.fields = {username, password};
  auth.fields = {bearer, basic};
  OptionSpec format = MakeOption(
      "format", OptionType::kEnum,
      "The body of a request: json (one array of objects), jsonl (one object a line), csv (a "
      "header line, then one record a line) or arrow (an Arrow IPC stream of one batch).",
      "json");
  format.choices = {"json", "jsonl", "csv", "arrow"};
  OptionSpec batch = MakeOption("batch", OptionType::kSection, "How rows are grouped in requests.");
  OptionSpec rows = MakeOption("rows", OptionType::kInteger, "Rows per request at most.", "500");
  rows.min = 1;
  OptionSpec bytes = MakeOption(
      "bytes", OptionType::kString,
      "Body bytes per request at most, e.g. 1MB; only a single larger row makes a larger body.",
      "1MB");
  OptionSpec linger = MakeOption(
      "linger", OptionType::kDuration,
      "With checkpoints: how long rows may wait for a request to fill (every checkpoint sends "
      "what waits). Without, the rest of each input batch is sent once the batch is done.",
      "100ms");
  linger.min = 0;
  batch.fields = {rows, bytes, linger};
  OptionSpec max_in_flight = MakeOption(
      "max_in_flight", OptionType::kInteger,
      "Requests sent at once, each over its own connection; the next ones go when all have "
      "been answered. Above 1, requests may arrive in any order.",
      "1");
  max_in_flight.min = 1;
  max_in_flight.max = 64;
  OptionSpec timeout =
      MakeOption("timeout", OptionType::kDuration, "Longest time for one request.", "10s");
  timeout.min = 10;
  OptionSpec retry = MakeOption(
      "retry", OptionType::kSection,
      "Retries of a request that got no answer, timed out, or was answered 408, 429 or 5xx.");
  OptionSpec max_attempts = MakeOption(
      "max_attempts", OptionType::kInteger,
      "Attempts in all, the first included, before the run fails.", "5");
  max_attempts.min = 1;
  OptionSpec initial_backoff = MakeOption(
      "initial_backoff", OptionType::kDuration,
      "The wait before the first retry, doubled for each further one.", "200ms");
  initial_backoff.min = 1;
  OptionSpec max_backoff = MakeOption(
      "max_backoff", OptionType::kDuration,
      "The longest wait between attempts, also when Retry-After asks for more.", "30s");
  max_backoff.min = 1;
  retry.fields = {max_attempts, initial_backoff, max_backoff};
  return {url,           method,  headers, auth, format, batch, max_in_flight,
          timeout,       retry,   TlsOptionSpec("https")};
}

Result<SinkSettings> SinkSettingsFromConfig(const config::Options& options) {
  SinkSettings settings;
  settings.url = options.GetString("url");
  bool https = settings.url.rfind("https://", 0) == 0;
  if (!https && settings.url.rfind("http://", 0) != 0) {
    return config::ConfigError(options.LocationOf("url"),
                               "the url must start with http:// or https://");
  }
  std::string_view authority = std::string_view(settings.url).substr(settings.url.find("://") + 3);
  if (authority.substr(0, authority.find_first_of("/?#")).find('@') != std::string_view::npos) {
    return config::ConfigError(options.LocationOf("url"), "the url holds credentials",
                               "give them in auth: {bearer_token: ...} or auth: {basic: ...}");
  }
  settings.method = options.GetString("method");
  for (auto& [name, value] : options.GetMap("headers")) {
    if (!IsHeaderName(name)) {
      return config::ConfigError(options.LocationOf("headers"),
                                 fmt::format("'{}' is not a header name", name));
    }
    if (value.text.find_first_of("\r\n") != std::string::npos) {
      return config::ConfigError(value.where,
                                 fmt::format("the value of header '{}' holds a line break", name));
    }
    settings.headers.emplace_back(name, value.text);
  }

  const config::Options& auth = options.GetSection("auth");
  const config::Options& basic = auth.GetSection("basic");
  if (auth.Has("bearer_token") && auth.Has("basic")) {
    return config::ConfigError(auth.LocationOf("basic"),
                               "give either bearer_token or basic, not both");
  }
  if (auth.Has("bearer_token")) settings.bearer_token = auth.GetString("bearer_token");
  if (auth.Has("basic")) {
    if (!basic.Has("username")) {
      return config::ConfigError(auth.LocationOf("basic"), "basic needs a username");
    }
    settings.username = basic.GetString("username");
    if (basic.Has("password")) settings.password = basic.GetString("password");
  }
  for (const auto& [name, value] : settings.headers) {
    if (Lower(name) == "authorization" && (auth.Has("bearer_token") || auth.Has("basic"))) {
      return config::ConfigError(options.LocationOf("headers"),
                                 "an Authorization header and auth are both given");
    }
  }

  std::string format = options.GetString("format");
  settings.format = format == "jsonl" ? BodyFormat::kJsonl
                    : format == "csv" ? BodyFormat::kCsv
                    : format == "arrow" ? BodyFormat::kArrow
                                        : BodyFormat::kJson;

  const config::Options& batch = options.GetSection("batch");
  settings.batch_rows = batch.GetInteger("rows");
  auto bytes = ParseByteSize(batch.GetString("bytes"));
  if (!bytes.ok() || *bytes < 1) {
    return config::ConfigError(batch.LocationOf("bytes"),
                               bytes.ok() ? "bytes must be at least 1" : bytes.status().message());
  }
  settings.batch_bytes = *bytes;
  settings.linger = batch.GetDuration("linger");
  settings.max_in_flight = options.GetInteger("max_in_flight");
  settings.timeout = Milliseconds(options.GetDuration("timeout"));

  const config::Options& retry = options.GetSection("retry");
  settings.retry.max_attempts = retry.GetInteger("max_attempts");
  settings.retry.initial_backoff = Milliseconds(retry.GetDuration("initial_backoff"));
  settings.retry.max_backoff = Milliseconds(retry.GetDuration("max_backoff"));
  if (settings.retry.max_backoff < settings.retry.initial_backoff) {
    return config::ConfigError(retry.LocationOf("max_backoff"),
                               "max_backoff is shorter than initial_backoff");
  }
  SLUICE_ASSIGN_OR_RAISE(settings.http.tls,
                         TlsSettingsFromConfig(options, https, "https://host/path"));
  settings.http.connect_timeout = std::min(settings.timeout, std::chrono::milliseconds(10000));
  return settings;
}

}  // namespace sluice::connectors::http
