#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "sluice/common/status.h"
#include "sluice/connectors/mysql/mysql_url.h"
#include "sluice/connectors/sql/sql_sink.h"

namespace sluice::connectors::mysql {

/// How a session connects and how large its statements grow.
struct SessionSettings {
  ConnectionTarget target;
  /// How long connecting may take (TCP connect and handshake).
  std::chrono::seconds connect_timeout{10};
  /// How long one read or write on the connection may block before it counts as lost.
  std::chrono::seconds io_timeout{300};
  /// Bytes per INSERT statement at most (also kept under the server's max_allowed_packet). A
  /// slice larger than this is written as several statements under a savepoint.
  int64_t statement_bytes = 1 << 20;
};

/// The MySQL error code of `status`, or 0 when it carries none.
int MySqlErrorCode(const Status& status);

/// Codes a session gives to rows it refuses before sending them (a value the server cannot
/// store, a row larger than a statement may be), so that IsRowError() treats them as the
/// server's own row errors.
constexpr int kUnstorableValue = -1;
constexpr int kRowTooLarge = -2;

/// Opens a session on MariaDB or MySQL over the client library (libmariadb): TCP, utf8mb4,
/// sql_mode STRICT_ALL_TABLES (a value too long or out of range is an error, never silently cut)
/// and time_zone UTC. Errors carry the server's message and code, never the password.
Result<std::unique_ptr<sql::Session>> OpenMySqlSession(const SessionSettings& settings);

}  // namespace sluice::connectors::mysql
