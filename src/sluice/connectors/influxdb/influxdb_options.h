#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/location.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"
#include "sluice/connectors/common/http_client.h"
#include "sluice/connectors/influxdb/line_protocol.h"
#include "sluice/connectors/influxdb/point_writer.h"

namespace sluice::connectors::influxdb {

/// What the `influxdb` sink's options say.
struct SinkSettings {
  WriteEndpoint endpoint;
  HttpClientSettings http;
  PointLayout layout;
  /// Where each layout option stands, to place errors found once the schema is known.
  config::Location measurement_where;
  config::Location measurement_field_where;
  config::Location tags_where;
  config::Location fields_where;
  config::Location time_where;
  /// Lines per request at most, and bytes per request at most (uncompressed).
  int64_t batch_rows = 5000;
  int64_t batch_bytes = 1 << 20;
  /// With checkpoints: how long rows may wait for a request to fill.
  std::chrono::nanoseconds linger{std::chrono::seconds(1)};
};

/// The sink's option declarations.
std::vector<config::OptionSpec> SinkOptionSpecs();

/// Reads and checks the options (everything that does not need the stream's schema).
Result<SinkSettings> SinkSettingsFromConfig(const config::Options& options);

/// A LineRenderer error ("tags: ...") placed at the option it names.
Status PlaceLayoutError(const SinkSettings& settings, const Status& error);

}  // namespace sluice::connectors::influxdb
