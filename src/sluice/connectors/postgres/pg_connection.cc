#include "sluice/connectors/postgres/pg_connection.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

#include "sluice/common/logging.h"

namespace sluice::connectors::postgres {
namespace {

/// What PgConnection adds to a failed Status: the SQLSTATE and whether the connection is gone.
class PgErrorDetail : public arrow::StatusDetail {
 public:
  PgErrorDetail(std::string sql_state, bool connection_lost)
      : sql_state_(std::move(sql_state)), connection_lost_(connection_lost) {}

  static constexpr const char* kTypeId = "sluice::postgres";
  const char* type_id() const override { return kTypeId; }
  std::string ToString() const override {
    return sql_state_.empty() ? std::string("PostgreSQL error") : "SQLSTATE " + sql_state_;
  }

  const std::string& sql_state() const { return sql_state_; }
  bool connection_lost() const { return connection_lost_; }

 private:
  std::string sql_state_;
  bool connection_lost_;
};

const PgErrorDetail* DetailOf(const Status& status) {
  const auto& detail = status.detail();
  if (detail == nullptr || std::string_view(detail->type_id()) != PgErrorDetail::kTypeId) {
    return nullptr;
  }
  return static_cast<const PgErrorDetail*>(detail.get());
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

/// The password of a postgresql:// URL as written (possibly percent-encoded), or "".
std::string_view UrlPassword(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view rest = url.substr(scheme + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string_view user_info = authority.substr(0, at);
  size_t colon = user_info.find(':');
  if (colon == std::string_view::npos) return {};
  return user_info.substr(colon + 1);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecoded(std::string_view text) {
  std::string decoded;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      decoded += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
      i += 2;
      continue;
    }
    decoded += text[i];
  }
  return decoded;
}

void ReplaceAll(std::string* text, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  for (size_t at = text->find(from); at != std::string::npos;
       at = text->find(from, at + to.size())) {
    text->replace(at, from.size(), to);
  }
}

/// libpq's multi-line messages ("FATAL:  ...\n\tThis probably means ...") on one line.
std::string OneLine(std::string_view message) {
  std::string line;
  bool space = false;
  for (char c : message) {
    if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
      space = !line.empty();
      continue;
    }
    if (space) line += ' ';
    space = false;
    line += c;
  }
  return line;
}

/// Whether a failed connection attempt may succeed later (the server is down, starting or
/// unreachable), unlike refused credentials or a database that does not exist.
bool ConnectMayRecover(std::string_view message) {
  for (std::string_view permanent :
       {"authentication failed", "does not exist", "no pg_hba.conf entry", "permission denied",
        "invalid URI", "invalid connection option", "missing \"=\"", "invalid integer value",
        "invalid sslmode", "password is required", "no password supplied"}) {
    if (message.find(permanent) != std::string_view::npos) return false;
  }
  return true;
}

/// Whether a SQLSTATE says the connection is gone: class 08 (connection exception), or the
/// server shutting down (57P01 admin, 57P02 crash) or starting (57P03).
bool LostState(std::string_view sql_state) {
  return StartsWith(sql_state, "08") || sql_state == "57P01" || sql_state == "57P02" ||
         sql_state == "57P03";
}

void LogNotice(void* logger, const char* message) {
  static_cast<spdlog::logger*>(logger)->debug("server notice: {}", OneLine(message));
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  std::string redacted(url);
  std::string_view password = UrlPassword(url);
  if (!password.empty()) {
    size_t at = static_cast<size_t>(password.data() - url.data());
    // Drop ":password" and keep "user@".
    redacted.erase(at - 1, password.size() + 1);
  }
  return RedactPassword(redacted, url);
}

std::string RedactPassword(std::string_view message, std::string_view url) {
  std::string redacted(message);
  std::string_view password = UrlPassword(url);
  if (!password.empty()) {
    ReplaceAll(&redacted, password, "***");
    ReplaceAll(&redacted, PercentDecoded(password), "***");
  }
  // `password=secret` of a keyword string or URL query, up to the next separator.
  for (size_t at = redacted.find("password="); at != std::string::npos;
       at = redacted.find("password=", at + 1)) {
    size_t begin = at + 9;
    size_t end = redacted.find_first_of(" &'\"", begin);
    if (end == std::string::npos) end = redacted.size();
    redacted.replace(begin, end - begin, "***");
  }
  // `://user:secret@` of any URL.
  for (size_t at = redacted.find("://"); at != std::string::npos;
       at = redacted.find("://", at + 3)) {
    size_t end = redacted.find_first_of("/? \"'", at + 3);
    if (end == std::string::npos) end = redacted.size();
    size_t sign = redacted.rfind('@', end);
    if (sign == std::string::npos || sign < at + 3) continue;
    size_t colon = redacted.find(':', at + 3);
    if (colon == std::string::npos || colon > sign) continue;
    redacted.replace(colon + 1, sign - colon - 1, "***");
  }
  return redacted;
}

std::string SqlState(const Status& status) {
  if (const PgErrorDetail* detail = DetailOf(status)) return detail->sql_state();
  // A message rewritten elsewhere lost its detail: "... [23505] ...".
  const std::string& message = status.message();
  size_t open = message.find('[');
  if (open != std::string::npos && open + 6 < message.size() && message[open + 6] == ']') {
    return message.substr(open + 1, 5);
  }
  return {};
}

bool IsConnectionLost(const Status& status) {
  if (const PgErrorDetail* detail = DetailOf(status)) return detail->connection_lost();
  return LostState(SqlState(status));
}

PgConnection::PgConnection(PGconn* connection, std::string url, std::string description)
    : connection_(connection), url_(std::move(url)), description_(std::move(description)) {}

PgConnection::~PgConnection() { PQfinish(connection_); }

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& url,
                                                            std::chrono::milliseconds timeout) {
  const std::string seconds = std::to_string(
      std::max<int64_t>(2, std::chrono::duration_cast<std::chrono::seconds>(timeout).count()));
  // dbname is expanded as a connection string (the URL); the keywords after it override it.
  const std::array<const char*, 5> keywords = {"dbname", "connect_timeout", "client_encoding",
                                               "fallback_application_name", nullptr};
  const std::array<const char*, 5> values = {url.c_str(), seconds.c_str(), "UTF8", "sluice",
                                             nullptr};
  PGconn* raw = PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1);
  std::string description = RedactUrl(url);
  if (raw == nullptr) return Status::OutOfMemory("cannot allocate a PostgreSQL connection");
  std::unique_ptr<PgConnection> connection(new PgConnection(raw, url, description));
  if (PQstatus(raw) != CONNECTION_OK) {
    std::string reason = RedactPassword(OneLine(PQerrorMessage(raw)), url);
    return Status(arrow::StatusCode::IOError,
                  fmt::format("cannot connect to PostgreSQL at {}: {}", description, reason),
                  std::make_shared<PgErrorDetail>("", ConnectMayRecover(reason)));
  }
  static const auto logger = ComponentLogger("postgres");
  PQsetNoticeProcessor(raw, LogNotice, logger.get());
  // Text values (timestamps, floats) look the same whatever the server's defaults are.
  SLUICE_RETURN_NOT_OK(connection->Exec(
      "SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'iso_8601'; "
      "SET extra_float_digits = 3"));
  return connection;
}

Status PgConnection::Error(std::string_view what, const PGresult* result) {
  std::string sql_state;
  std::string message;
  if (result != nullptr && PQresultErrorField(result, PG_DIAG_SQLSTATE) != nullptr) {
    sql_state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL);
    const char* hint = PQresultErrorField(result, PG_DIAG_MESSAGE_HINT);
    message = fmt::format("[{}] {}", sql_state, primary != nullptr ? primary : "");
    if (detail != nullptr) message += fmt::format(" ({})", OneLine(detail));
    if (hint != nullptr) message += fmt::format(" (hint: {})", OneLine(hint));
  } else {
    message = OneLine(result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(connection_));
    if (message.empty()) message = OneLine(PQerrorMessage(connection_));
  }
  const bool lost = PQstatus(connection_) == CONNECTION_BAD || LostState(sql_state);
  if (lost && sql_state.empty()) message = "lost the connection: " + message;
  return Status(arrow::StatusCode::IOError,
                fmt::format("PostgreSQL {}: {}", what, RedactPassword(message, url_)),
                std::make_shared<PgErrorDetail>(sql_state, lost));
}

Status PgConnection::Exec(const std::string& sql) {
  PgResult result(PQexec(connection_, sql.c_str()));
  ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) {
    return Status::OK();
  }
  return Error("error", result.get());
}

Result<PgResult> PgConnection::Query(const std::string& sql,
                                     const std::vector<const char*>& parameters, bool binary) {
  PgResult result(PQexecParams(connection_, sql.c_str(), static_cast<int>(parameters.size()),
                               nullptr, parameters.data(), nullptr, nullptr, binary ? 1 : 0));
  ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  return Error("error", result.get());
}

Status PgConnection::CopyIn(const std::string& sql, std::string_view data) {
  {
    PgResult started(PQexec(connection_, sql.c_str()));
    if (!started || PQresultStatus(started.get()) != PGRES_COPY_IN) {
      return Error("error", started.get());
    }
  }
  // libpq takes at most INT_MAX bytes per call.
  constexpr size_t kChunk = size_t{1} << 30;
  for (size_t sent = 0; sent < data.size(); sent += kChunk) {
    const size_t size = std::min(kChunk, data.size() - sent);
    if (PQputCopyData(connection_, data.data() + sent, static_cast<int>(size)) != 1) {
      // The server's answer (an error it sent while we wrote) comes with the end of the COPY.
      break;
    }
  }
  if (PQputCopyEnd(connection_, nullptr) != 1) return Error("COPY", nullptr);
  Status status;
  // The COPY's result, then nothing.
  while (PGresult* raw = PQgetResult(connection_)) {
    PgResult result(raw);
    if (status.ok() && PQresultStatus(raw) != PGRES_COMMAND_OK) status = Error("error", raw);
  }
  if (status.ok() && PQstatus(connection_) == CONNECTION_BAD) return Error("COPY", nullptr);
  return status;
}

Result<PgResult> PgConnection::Describe(const std::string& sql) {
  {
    PgResult prepared(PQprepare(connection_, "", sql.c_str(), 0, nullptr));
    if (!prepared || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      return Error("error", prepared.get());
    }
  }
  PgResult described(PQdescribePrepared(connection_, ""));
  if (!described || PQresultStatus(described.get()) != PGRES_COMMAND_OK) {
    return Error("error", described.get());
  }
  return described;
}

Result<std::string> PgConnection::QuoteIdentifier(std::string_view name) {
  char* quoted = PQescapeIdentifier(connection_, name.data(), name.size());
  if (quoted == nullptr) return Error("cannot quote an identifier", nullptr);
  std::string text(quoted);
  PQfreemem(quoted);
  return text;
}

}  // namespace sluice::connectors::postgres
