#include "sluice/connectors/influxdb/influxdb_options.h"

#include <fmt/format.h>

#include <string_view>

#include "sluice/common/byte_size.h"
#include "sluice/connectors/common/tls_options.h"

namespace sluice::connectors::influxdb {

using config::OptionSpec;
using config::OptionType;

std::vector<OptionSpec> SinkOptionSpecs() {
  OptionSpec url{"url", OptionType::kString,
                 "The server's base URL, http://host:8086 or https://...; credentials go in "
                 "username/password (1.x) or token (2.x)."};
  url.required = true;
  OptionSpec api{"api", OptionType::kEnum,
                 "The write API: v1 (/write, InfluxDB 1.x) or v2 (/api/v2/write, InfluxDB 2.x). "
                 "Left out: v2 when org, bucket or token is given, v1 otherwise."};
  api.choices = {"v1", "v2"};
  OptionSpec database{"database", OptionType::kString, "v1: the database to write to."};
  OptionSpec retention_policy{"retention_policy", OptionType::kString,
                              "v1: the retention policy; the database's default when left out."};
  OptionSpec username{"username", OptionType::kString, "v1: user name (basic authentication)."};
  OptionSpec password{"password", OptionType::kString,
                      "v1: password; use ${VARIABLE} to keep it out of the file."};
  OptionSpec org{"org", OptionType::kString, "v2: the organisation."};
  OptionSpec bucket{"bucket", OptionType::kString, "v2: the bucket to write to."};
  OptionSpec token{"token", OptionType::kString,
                   "v2: the API token (Authorization: Token ...); use ${VARIABLE} to keep it out "
                   "of the file."};
  OptionSpec measurement{"measurement", OptionType::kString,
                         "The measurement of every point (or use measurement_field)."};
  OptionSpec measurement_field{"measurement_field", OptionType::kString,
                               "A string field holding each row's measurement."};
  OptionSpec tags{"tags", OptionType::kStringList,
                  "Fields written as tags (as text); a null or empty value writes no tag."};
  OptionSpec fields{"fields", OptionType::kStringList,
                    "Fields written as point fields; left out: every other numeric, boolean and "
                    "string field (not the tags, time or measurement field). Nulls are left out "
                    "of the point."};
  OptionSpec time{"time", OptionType::kString,
                  "The timestamp field giving each point's time (or an int64 field already in "
                  "the unit of precision). Left out: the server's clock, and replays are then "
                  "not idempotent."};
  OptionSpec precision{"precision", OptionType::kEnum,
                       "The unit of the written timestamps; finer times are floored to it.", "ns"};
  precision.choices = {"ns", "us", "ms", "s"};
  OptionSpec batch_rows{"batch_rows", OptionType::kInteger, "Points per request at most.",
                        "5000"};
  batch_rows.min = 1;
  OptionSpec batch_bytes{"batch_bytes", OptionType::kString,
                         "Line protocol bytes per request at most (before gzip), e.g. 1MB.",
                         "1MB"};
  OptionSpec linger{"linger", OptionType::kDuration,
                    "With checkpoints: how long points may wait for a request to fill (every "
                    "checkpoint sends what waits). Without, each batch is sent at once.",
                    "1s"};
  linger.min = 0;
  OptionSpec gzip{"gzip", OptionType::kBool, "Compress request bodies (Content-Encoding: gzip).",
                  "false"};
  OptionSpec timeout{"timeout", OptionType::kDuration, "Longest time for one request.", "10s"};
  timeout.min = 100;
  OptionSpec retries{"retries", OptionType::kInteger,
                     "Attempts after the first for a request that got no answer, timed out, or "
                     "was answered 5xx or 429, before the run fails.",
                     "10"};
  retries.min = 0;
  OptionSpec retry_backoff{"retry_backoff", OptionType::kDuration,
                           "The wait before the first retry, doubled for each further one up to "
                           "30s; a Retry-After from the server takes precedence.",
                           "500ms"};
  retry_backoff.min = 1;
  OptionSpec tls = TlsOptionSpec("https");
  return {url,    api,        database,   retention_policy, username,    password,
          org,    bucket,     token,      measurement,      measurement_field,
          tags,   fields,     time,       precision,        batch_rows,  batch_bytes,
          linger, gzip,       timeout,    retries,          retry_backoff, tls};
}

namespace {

Precision ParsePrecision(const std::string& text) {
  if (text == "s") return Precision::kSeconds;
  if (text == "ms") return Precision::kMilliseconds;
  if (text == "us") return Precision::kMicroseconds;
  return Precision::kNanoseconds;
}

std::chrono::milliseconds Milliseconds(Duration duration) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(duration);
}

}  // namespace

Result<SinkSettings> SinkSettingsFromConfig(const config::Options& options) {
  SinkSettings settings;
  WriteEndpoint& endpoint = settings.endpoint;
  std::string url = options.GetString("url");
  bool https = url.rfind("https://", 0) == 0;
  if (!https && url.rfind("http://", 0) != 0) {
    return config::ConfigError(options.LocationOf("url"), "the url must start with http:// or "
                                                          "https://");
  }
  std::string_view authority = std::string_view(url).substr(url.find("://") + 3);
  if (authority.substr(0, authority.find('/')).find('@') != std::string_view::npos) {
    return config::ConfigError(options.LocationOf("url"), "the url holds credentials",
                               "give them as username/password (v1) or token (v2)");
  }
  if (url.find_first_of("?#") != std::string::npos) {
    return config::ConfigError(options.LocationOf("url"), "the url holds a query",
                               "give the base URL, e.g. http://127.0.0.1:8086; database, org "
                               "and bucket are options");
  }
  while (!url.empty() && url.back() == '/') url.pop_back();
  endpoint.url = url;

  bool v2_options = options.Has("org") || options.Has("bucket") || options.Has("token");
  bool v2 = options.Has("api") ? options.GetString("api") == "v2" : v2_options;
  endpoint.api = v2 ? WriteEndpoint::Api::kV2 : WriteEndpoint::Api::kV1;
  if (v2) {
    for (const char* name : {"database", "retention_policy", "username", "password"}) {
      if (options.Has(name)) {
        return config::ConfigError(options.LocationOf(name),
                                   fmt::format("{} is for api v1; v2 writes with org, bucket "
                                               "and token",
                                               name));
      }
    }
    for (const char* name : {"org", "bucket", "token"}) {
      if (!options.Has(name)) {
        return config::ConfigError(options.where(),
                                   fmt::format("api v2 needs {} (it needs org, bucket and token)",
                                               name));
      }
    }
    endpoint.org = options.GetString("org");
    endpoint.bucket = options.GetString("bucket");
    endpoint.token = options.GetString("token");
  } else {
    for (const char* name : {"org", "bucket", "token"}) {
      if (options.Has(name)) {
        return config::ConfigError(options.LocationOf(name),
                                   fmt::format("{} is for api v2; v1 writes to a database", name));
      }
    }
    if (!options.Has("database")) {
      return config::ConfigError(options.where(), "the influxdb sink needs a database (v1)",
                                 "or org, bucket and token for InfluxDB 2.x");
    }
    endpoint.database = options.GetString("database");
    if (options.Has("retention_policy")) {
      endpoint.retention_policy = options.GetString("retention_policy");
    }
    if (options.Has("password") && !options.Has("username")) {
      return config::ConfigError(options.LocationOf("password"), "password without username");
    }
    if (options.Has("username")) {
      endpoint.username = options.GetString("username");
      if (options.Has("password")) endpoint.password = options.GetString("password");
    }
  }
  endpoint.precision = ParsePrecision(options.GetString("precision"));
  endpoint.gzip = options.GetBool("gzip");
  endpoint.timeout = Milliseconds(options.GetDuration("timeout"));
  endpoint.retries = options.GetInteger("retries");
  endpoint.backoff = std::max(std::chrono::milliseconds(1),
                              Milliseconds(options.GetDuration("retry_backoff")));
  endpoint.max_backoff = std::max(endpoint.backoff, std::chrono::milliseconds(30000));

  SLUICE_ASSIGN_OR_RAISE(settings.http.tls,
                         TlsSettingsFromConfig(options, https, "https://host:8086"));
  settings.http.connect_timeout = std::min(endpoint.timeout, std::chrono::milliseconds(10000));

  PointLayout& layout = settings.layout;
  if (options.Has("measurement") == options.Has("measurement_field")) {
    return config::ConfigError(
        options.Has("measurement") ? options.LocationOf("measurement_field") : options.where(),
        "give either measurement (fixed) or measurement_field (from each row)");
  }
  if (options.Has("measurement")) {
    layout.measurement = options.GetString("measurement");
    std::string why = WhyUnwritable(layout.measurement, Element::kMeasurement);
    if (!why.empty()) return config::ConfigError(options.LocationOf("measurement"), why);
  } else {
    layout.measurement_field = options.GetString("measurement_field");
  }
  if (options.Has("tags")) layout.tags = options.GetStringList("tags");
  if (options.Has("fields")) {
    layout.fields = options.GetStringList("fields");
    if (layout.fields.empty()) {
      return config::ConfigError(options.LocationOf("fields"),
                                 "fields is empty; a point needs at least one field");
    }
  }
  if (options.Has("time")) layout.time_field = options.GetString("time");
  layout.precision = endpoint.precision;
  settings.measurement_where = options.LocationOf("measurement");
  settings.measurement_field_where = options.LocationOf("measurement_field");
  settings.tags_where = options.LocationOf("tags");
  settings.fields_where = options.LocationOf("fields");
  settings.time_where = options.LocationOf("time");

  settings.batch_rows = options.GetInteger("batch_rows");
  auto bytes = ParseByteSize(options.GetString("batch_bytes"));
  if (!bytes.ok() || *bytes < 1024) {
    return config::ConfigError(options.LocationOf("batch_bytes"),
                               bytes.ok() ? "batch_bytes must be at least 1KB"
                                          : bytes.status().message());
  }
  settings.batch_bytes = *bytes;
  settings.linger = options.GetDuration("linger");
  return settings;
}

Status PlaceLayoutError(const SinkSettings& settings, const Status& error) {
  std::string_view message = error.message();
  size_t colon = message.find(": ");
  std::string_view option = message.substr(0, colon);
  const config::Location* where = nullptr;
  if (option == "measurement") where = &settings.measurement_where;
  if (option == "measurement_field") where = &settings.measurement_field_where;
  if (option == "tags") where = &settings.tags_where;
  if (option == "fields") where = &settings.fields_where;
  if (option == "time") where = &settings.time_where;
  if (where == nullptr || colon == std::string_view::npos) return error;
  return config::ConfigError(*where, message.substr(colon + 2));
}

}  // namespace sluice::connectors::influxdb
