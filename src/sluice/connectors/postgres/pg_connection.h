#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::connectors::postgres {

/// Owns a PGresult; PQclear on destruction.
struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

/// `url` (postgresql://user:password@host:port/db?...) without its password, for messages.
std::string RedactUrl(std::string_view url);

/// `message` with anything that looks like a password taken out: the password of `url`
/// itself, `password=...` of a keyword connection string and the `:password@` of a URL.
std::string RedactPassword(std::string_view message, std::string_view url);

/// The SQLSTATE of an error made by PgConnection ("23505"), or "" when it has none (a lost
/// connection, a failure outside the server).
std::string SqlState(const Status& status);

/// Whether `status` (made by PgConnection) means the connection is gone: the server closed
/// it, went down or is shutting down. Reconnecting may help; repeating the statement on this
/// connection cannot.
bool IsConnectionLost(const Status& status);

/// One libpq connection to PostgreSQL, in blocking mode.
///
/// Errors are IOError statuses whose message is the server's (with its SQLSTATE as
/// "[42P01] ...") and never holds the password; SqlState() and IsConnectionLost() read them.
/// Sessions use UTF-8, ISO dates and UTC, so that text values are the same whatever the
/// server's defaults. Not thread-safe: one thread uses a connection at a time.
class PgConnection {
 public:
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  /// Connects to `url` (a postgresql:// URL or a keyword string), giving up after `timeout`
  /// (libpq counts whole seconds, at least 2). The error says where it tried, without the
  /// password, and the server's reason (wrong password, no such database, ...).
  static Result<std::unique_ptr<PgConnection>> Connect(const std::string& url,
                                                       std::chrono::milliseconds timeout);

  /// Runs `sql` (one or more statements without parameters) and drops any rows.
  Status Exec(const std::string& sql);

  /// Runs one statement with text parameters (`$1`..., null for a nullptr entry) and returns
  /// its result, in binary format with `binary`, text otherwise.
  Result<PgResult> Query(const std::string& sql, const std::vector<const char*>& parameters = {},
                         bool binary = false);

  /// The columns `sql` would return (PQdescribePrepared of the unnamed statement): a result
  /// without rows whose PQnfields/PQfname/PQftype/PQfmod describe them. Checks the statement
  /// without running it.
  Result<PgResult> Describe(const std::string& sql);

  /// Runs `sql`, a `COPY ... FROM STDIN`, sending `data` (in the format the statement names).
  Status CopyIn(const std::string& sql, std::string_view data);

  /// `name` as a quoted identifier (PQescapeIdentifier).
  Result<std::string> QuoteIdentifier(std::string_view name);

  /// Where the connection goes, without the password ("postgresql://sluice@host:5432/db").
  const std::string& description() const { return description_; }

  PGconn* raw() { return connection_; }

 private:
  PgConnection(PGconn* connection, std::string url, std::string description);

  /// The error of the last command, or of `result` when given, as an IOError.
  Status Error(std::string_view what, const PGresult* result);

  PGconn* connection_;
  std::string url_;
  std::string description_;
};

}  // namespace sluice::connectors::postgres
