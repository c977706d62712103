#include "sluice/connectors/mysql/mysql_session.h"

#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <errmsg.h>
#include <fmt/format.h>
#include <mysql.h>
#include <mysqld_error.h>

#include <algorithm>
#include <charconv>
#include <mutex>
#include <optional>
#include <utility>

#include "sluice/connectors/mysql/mysql_dialect.h"
#include "sluice/connectors/mysql/mysql_values.h"

namespace sluice::connectors::mysql {
namespace {

/// The MySQL error code and SQLSTATE behind a Status, for IsRowError() and IsConnectionLost().
class MySqlErrorDetail final : public arrow::StatusDetail {
 public:
  MySqlErrorDetail(int code, std::string sqlstate) : code_(code), sqlstate_(std::move(sqlstate)) {}
  static constexpr const char* kTypeId = "sluice::mysql::error";
  const char* type_id() const override { return kTypeId; }
  std::string ToString() const override {
    return fmt::format("MySQL error {} ({})", code_, sqlstate_);
  }
  int code() const { return code_; }

 private:
  int code_;
  std::string sqlstate_;
};

Status ErrorWithCode(int code, std::string sqlstate, std::string message) {
  return Status(arrow::StatusCode::IOError, std::move(message),
                std::make_shared<MySqlErrorDetail>(code, std::move(sqlstate)));
}

/// Statement bytes kept free under max_allowed_packet for the packet header and the
/// ON DUPLICATE KEY UPDATE clause's slack.
constexpr int64_t kPacketMargin = 1024;

/// The savepoint that makes a slice written as several statements atomic.
constexpr std::string_view kSliceSavepoint = "sluice_slice";

void InitializeLibrary() {
  // mysql_library_init is not thread-safe; mysql_init would call it on first use.
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

class MySqlSession final : public sql::Session {
 public:
  explicit MySqlSession(SessionSettings settings) : settings_(std::move(settings)) {}

  ~MySqlSession() override {
    if (mysql_ != nullptr) mysql_close(mysql_);
  }

  Status Connect() {
    InitializeLibrary();
    mysql_ = mysql_init(nullptr);
    if (mysql_ == nullptr) return Status::OutOfMemory("cannot allocate a MySQL connection");
    unsigned int connect_timeout = static_cast<unsigned int>(settings_.connect_timeout.count());
    unsigned int io_timeout = static_cast<unsigned int>(settings_.io_timeout.count());
    unsigned int protocol = MYSQL_PROTOCOL_TCP;
    my_bool off = 0;
    unsigned int no_local_infile = 0;
    mysql_options(mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_options(mysql_, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
    mysql_options(mysql_, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
    // TCP even for "localhost", which the library would otherwise take as the local socket.
    mysql_options(mysql_, MYSQL_OPT_PROTOCOL, &protocol);
    mysql_options(mysql_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    // The sink core reconnects itself and writes the lost transaction again; a silent
    // reconnect by the library would lose the transaction's state.
    mysql_options(mysql_, MYSQL_OPT_RECONNECT, &off);
    mysql_options(mysql_, MYSQL_OPT_LOCAL_INFILE, &no_local_infile);
    const ConnectionTarget& target = settings_.target;
    if (mysql_real_connect(mysql_, target.host.c_str(), target.user.c_str(),
                           target.password.c_str(),
                           target.database.empty() ? nullptr : target.database.c_str(),
                           static_cast<unsigned int>(target.port), nullptr, 0) == nullptr) {
      return LastError(fmt::format("cannot connect to {}", target.Describe()));
    }
    if (mariadb_connection(mysql_)) {
      dialect_ = MySqlDialect(MySqlDialect::Server::kMariaDb);
    } else if (mysql_get_server_version(mysql_) >= 80000) {
      dialect_ = MySqlDialect(MySqlDialect::Server::kMySql8);
    } else {
      dialect_ = MySqlDialect(MySqlDialect::Server::kMySql57);
    }
    // Strict: a value too long or out of range fails its row (a dead letter) instead of being
    // cut with a warning. UTC: NOW() and TIMESTAMP columns agree with the UTC the sink writes.
    SLUICE_RETURN_NOT_OK(Execute(
        "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION', "
        "time_zone = '+00:00', autocommit = 1"));
    SLUICE_ASSIGN_OR_RAISE(int64_t max_packet,
                           QueryInteger("SELECT @@max_allowed_packet", 1 << 20));
    max_packet_ = max_packet;
    statement_bytes_ = std::max<int64_t>(
        4096, std::min(settings_.statement_bytes, max_packet - kPacketMargin));
    return Status::OK();
  }

  const sql::Dialect& dialect() const override { return dialect_; }

  Status Execute(std::string_view sql) override {
    if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return LastError();
    // Statements that answer rows (SHOW, a SELECT through Execute) leave their result to read.
    MYSQL_RES* result = mysql_store_result(mysql_);
    if (result != nullptr) mysql_free_result(result);
    if (mysql_errno(mysql_) != 0) return LastError();
    return Status::OK();
  }

  Result<int64_t> QueryInteger(std::string_view sql, int64_t if_none) override {
    if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return LastError();
    MYSQL_RES* result = mysql_store_result(mysql_);
    if (result == nullptr) {
      if (mysql_errno(mysql_) != 0) return LastError();
      return if_none;
    }
    int64_t value = if_none;
    MYSQL_ROW row = mysql_fetch_row(result);
    if (row != nullptr && mysql_num_fields(result) > 0 && row[0] != nullptr) {
      unsigned long length = mysql_fetch_lengths(result)[0];
      auto [end, error] = std::from_chars(row[0], row[0] + length, value);
      if (error != std::errc() || end != row[0] + length) {
        std::string text(row[0], length);
        mysql_free_result(result);
        return Status::Invalid("expected an integer from MariaDB, got '", text, "'");
      }
    }
    mysql_free_result(result);
    return value;
  }

  Result<std::vector<std::string>> TableColumns(std::string_view table) override {
    size_t dot = table.find('.');
    std::string schema = dot == std::string_view::npos
                             ? std::string("DATABASE()")
                             : dialect().QuoteLiteral(table.substr(0, dot));
    std::string name(dot == std::string_view::npos ? table : table.substr(dot + 1));
    std::string sql = fmt::format(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} AND "
        "TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
        schema, dialect().QuoteLiteral(name));
    if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return LastError();
    MYSQL_RES* result = mysql_store_result(mysql_);
    if (result == nullptr) return LastError();
    std::vector<std::string> columns;
    while (MYSQL_ROW row = mysql_fetch_row(result)) {
      unsigned long* lengths = mysql_fetch_lengths(result);
      if (row[0] != nullptr) columns.emplace_back(row[0], lengths[0]);
    }
    mysql_free_result(result);
    return columns;
  }

  Status PrepareWrites(const arrow::Schema& schema, const sql::TableOptions& options) override {
    SLUICE_ASSIGN_OR_RAISE(renderer_, RowRenderer::Make(schema));
    insert_prefix_ = fmt::format("INSERT INTO {} ({}) VALUES ", dialect().QuoteTable(options.table),
                                 dialect().QuoteList(schema.field_names()));
    upsert_suffix_.clear();
    if (options.mode == sql::WriteMode::kUpsert) {
      // MySQL cannot name the conflict target: ON DUPLICATE KEY UPDATE applies to a clash on
      // any unique key of the table. A created table's only one is the primary key.
      for (const auto& field : schema.fields()) {
        if (std::find(options.key.begin(), options.key.end(), field->name()) !=
            options.key.end()) {
          continue;
        }
        std::string column = dialect().QuoteIdentifier(field->name());
        upsert_suffix_ += upsert_suffix_.empty() ? " ON DUPLICATE KEY UPDATE " : ",";
        upsert_suffix_ += fmt::format("{0}=VALUES({0})", column);
      }
      if (upsert_suffix_.empty()) {
        // Every column is part of the key: a clash changes nothing.
        std::string column = dialect().QuoteIdentifier(options.key.front());
        upsert_suffix_ = fmt::format(" ON DUPLICATE KEY UPDATE {0}={0}", column);
      }
    }
    return Status::OK();
  }

  Status Begin() override { return Execute("START TRANSACTION"); }
  Status Commit() override { return Execute("COMMIT"); }
  Status Rollback() override { return Execute("ROLLBACK"); }

  Status WriteSlice(const arrow::RecordBatch& batch, int64_t offset, int64_t length) override {
    if (!renderer_.has_value()) return Status::Invalid("WriteSlice() before PrepareWrites()");
    const auto& columns = batch.columns();
    const int64_t end = offset + length;
    int64_t next = offset;
    bool savepoint = false;
    std::string reason;
    while (next < end) {
      statement_.assign(insert_prefix_);
      const size_t empty_size = statement_.size();
      int64_t rows = 0;
      while (next < end) {
        const size_t before = statement_.size();
        if (rows > 0) statement_ += ',';
        if (!renderer_->AppendRow(columns, next, escape_, &statement_, &reason)) {
          return RefuseRow(savepoint, kUnstorableValue, reason);
        }
        const int64_t size =
            static_cast<int64_t>(statement_.size() + upsert_suffix_.size());
        if (size > statement_bytes_ && rows > 0) {
          // This row goes into the next statement.
          statement_.resize(before);
          break;
        }
        ++next;
        ++rows;
        if (size > statement_bytes_) {
          if (size > max_packet_bytes()) {
            return RefuseRow(savepoint, kRowTooLarge,
                             fmt::format("the row takes {} bytes as SQL, more than the "
                                         "server's max_allowed_packet allows ({})",
                                         size - static_cast<int64_t>(empty_size),
                                         max_packet_bytes()));
          }
          break;  // A single large row is its own statement.
        }
      }
      statement_ += upsert_suffix_;
      if (!savepoint && next < end) {
        // More than one statement: a savepoint makes the slice atomic. (A single statement
        // is atomic by itself: InnoDB rolls back a failed statement.)
        SLUICE_RETURN_NOT_OK(Execute(fmt::format("SAVEPOINT {}", kSliceSavepoint)));
        savepoint = true;
      }
      Status status = Execute(statement_);
      if (!status.ok()) {
        if (savepoint && !IsConnectionLost(status)) {
          SLUICE_RETURN_NOT_OK(
              Execute(fmt::format("ROLLBACK TO SAVEPOINT {}", kSliceSavepoint)));
        }
        return status;
      }
    }
    if (statement_.capacity() > 4 * static_cast<size_t>(statement_bytes_)) {
      std::string().swap(statement_);
    }
    return Status::OK();
  }

  bool IsRowError(const Status& status) const override {
    switch (MySqlErrorCode(status)) {
      case kUnstorableValue:
      case kRowTooLarge:
      case ER_DUP_ENTRY:
      case ER_DUP_ENTRY_WITH_KEY_NAME:
      case ER_BAD_NULL_ERROR:
      case ER_DATA_TOO_LONG:
      case ER_WARN_DATA_OUT_OF_RANGE:
      case WARN_DATA_TRUNCATED:
      case ER_TRUNCATED_WRONG_VALUE:
      case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
      case ER_INVALID_CHARACTER_STRING:
      case ER_DIVISION_BY_ZERO:
      case ER_WRONG_VALUE_FOR_TYPE:
      case ER_ROW_IS_REFERENCED_2:
      case ER_NO_REFERENCED_ROW_2:
      case ER_DATA_OUT_OF_RANGE:
      case ER_CONSTRAINT_FAILED:
      case 3819:  // MySQL 8: ER_CHECK_CONSTRAINT_VIOLATED
        return true;
      default:
        return false;
    }
  }

  bool IsConnectionLost(const Status& status) const override {
    switch (MySqlErrorCode(status)) {
      case CR_CONNECTION_ERROR:
      case CR_CONN_HOST_ERROR:
      case CR_SERVER_GONE_ERROR:
      case CR_SERVER_LOST:
      case CR_SERVER_LOST_EXTENDED:
      case CR_SERVER_HANDSHAKE_ERR:
      case CR_ERR_NET_READ:
      case CR_ERR_NET_WRITE:
      case ER_SERVER_SHUTDOWN:
      case ER_CONNECTION_KILLED:
      // The server rolled the transaction back (a deadlock) or gave up waiting for a lock: a
      // new connection writes the transaction again, as after a lost connection.
      case ER_LOCK_DEADLOCK:
      case ER_LOCK_WAIT_TIMEOUT:
        return true;
      default:
        return false;
    }
  }

 private:
  /// The largest statement the server takes.
  int64_t max_packet_bytes() const { return max_packet_ - kPacketMargin; }

  /// Fails the slice for a row refused before it was sent, undoing the statements of the
  /// slice already run.
  Status RefuseRow(bool savepoint, int code, std::string reason) {
    if (savepoint) {
      SLUICE_RETURN_NOT_OK(Execute(fmt::format("ROLLBACK TO SAVEPOINT {}", kSliceSavepoint)));
    }
    return ErrorWithCode(code, "HY000", std::move(reason));
  }

  /// The connection's last error with its code; `context` goes before the server's message.
  Status LastError(std::string_view context = {}) const {
    int code = static_cast<int>(mysql_errno(mysql_));
    std::string message = context.empty()
                              ? fmt::format("{} (error {})", mysql_error(mysql_), code)
                              : fmt::format("{}: {} (error {})", context, mysql_error(mysql_),
                                            code);
    return ErrorWithCode(code, mysql_sqlstate(mysql_), std::move(message));
  }

  SessionSettings settings_;
  MySqlDialect dialect_;
  MYSQL* mysql_ = nullptr;
  int64_t max_packet_ = 1 << 20;
  int64_t statement_bytes_ = 1 << 20;
  std::optional<RowRenderer> renderer_;
  std::string insert_prefix_;
  std::string upsert_suffix_;
  /// The statement being built, kept to reuse its memory.
  std::string statement_;
  Escape escape_ = [this](std::string_view text, std::string* out) {
    size_t at = out->size();
    out->resize(at + text.size() * 2 + 1);
    unsigned long written = mysql_real_escape_string(mysql_, out->data() + at, text.data(),
                                                     static_cast<unsigned long>(text.size()));
    out->resize(at + written);
  };
};

}  // namespace

int MySqlErrorCode(const Status& status) {
  const auto& detail = status.detail();
  if (detail == nullptr || std::string_view(detail->type_id()) != MySqlErrorDetail::kTypeId) {
    return 0;
  }
  return static_cast<const MySqlErrorDetail&>(*detail).code();
}

Result<std::unique_ptr<sql::Session>> OpenMySqlSession(const SessionSettings& settings) {
  auto session = std::make_unique<MySqlSession>(settings);
  SLUICE_RETURN_NOT_OK(session->Connect());
  return session;
}

}  // namespace sluice::connectors::mysql
