#include "sluice/connectors/postgres/pg_session.h"

#include <arrow/type.h>
#include <fmt/format.h>

#include <cstdlib>
#include <utility>

#include "sluice/connectors/postgres/pg_connection.h"
#include "sluice/connectors/postgres/pg_copy_encoder.h"

namespace sluice::connectors::postgres {
namespace {

/// The per-session table upserts are copied into before they are merged.
constexpr std::string_view kStage = "pg_temp.sluice_stage";

class PgSession final : public sql::Session {
 public:
  explicit PgSession(std::unique_ptr<PgConnection> connection)
      : connection_(std::move(connection)) {}

  const sql::Dialect& dialect() const override { return dialect_; }

  Status Execute(std::string_view sql) override { return connection_->Exec(std::string(sql)); }

  Result<int64_t> QueryInteger(std::string_view sql, int64_t if_none) override {
    SLUICE_ASSIGN_OR_RAISE(PgResult result, connection_->Query(std::string(sql)));
    if (PQntuples(result.get()) == 0 || PQgetisnull(result.get(), 0, 0)) return if_none;
    return std::strtoll(PQgetvalue(result.get(), 0, 0), nullptr, 10);
  }

  Result<std::vector<std::string>> TableColumns(std::string_view table) override {
    SLUICE_ASSIGN_OR_RAISE(auto columns, Columns(table));
    std::vector<std::string> names;
    for (const auto& column : columns) names.push_back(column.name);
    return names;
  }

  Status PrepareWrites(const arrow::Schema& schema, const sql::TableOptions& options) override {
    SLUICE_ASSIGN_OR_RAISE(auto columns, Columns(options.table));
    std::vector<TableColumn> targets;
    std::vector<std::string> names;
    for (const auto& field : schema.fields()) {
      for (const auto& column : columns) {
        if (column.name == field->name()) targets.push_back(column);
      }
      names.push_back(field->name());
    }
    SLUICE_ASSIGN_OR_RAISE(encoder_, CopyEncoder::Make(schema, targets));
    const std::string table = dialect_.QuoteTable(options.table);
    const std::string list = dialect_.QuoteList(names);
    upsert_ = options.mode == sql::WriteMode::kUpsert;
    if (!upsert_) {
      copy_ = fmt::format("COPY {} ({}) FROM STDIN (FORMAT binary)", table, list);
      return Status::OK();
    }
    // Upserts are copied into a staging table, then merged; within one slice the last row of
    // a key wins (DISTINCT ON ... ORDER BY the staging order, newest first).
    SLUICE_RETURN_NOT_OK(connection_->Exec(fmt::format(
        "CREATE TEMP TABLE sluice_stage (LIKE {1} INCLUDING DEFAULTS); "
        "ALTER TABLE {0} ADD COLUMN sluice_seq bigserial",
        kStage, table)));
    copy_ = fmt::format("COPY {} ({}) FROM STDIN (FORMAT binary)", kStage, list);
    const std::string key = dialect_.QuoteList(options.key);
    std::string updates;
    for (const auto& name : names) {
      if (std::find(options.key.begin(), options.key.end(), name) != options.key.end()) continue;
      if (!updates.empty()) updates += ", ";
      updates += fmt::format("{0} = EXCLUDED.{0}", dialect_.QuoteIdentifier(name));
    }
    merge_ = fmt::format(
        "INSERT INTO {0} ({1}) SELECT {1} FROM (SELECT DISTINCT ON ({2}) {1} FROM {3} "
        "ORDER BY {2}, sluice_seq DESC) AS newest ON CONFLICT ({2}) DO {4}; TRUNCATE {3}",
        table, list, key, kStage,
        updates.empty() ? std::string("NOTHING") : "UPDATE SET " + updates);
    return Status::OK();
  }

  Status Begin() override { return connection_->Exec("BEGIN"); }
  Status Commit() override {
    // COMMIT of a transaction a failed statement aborted answers ROLLBACK, not an error.
    SLUICE_ASSIGN_OR_RAISE(PgResult result, connection_->Query("COMMIT"));
    if (std::string_view(PQcmdStatus(result.get())) != "COMMIT") {
      return Status::IOError("PostgreSQL rolled the transaction back instead of committing it");
    }
    return Status::OK();
  }
  Status Rollback() override { return connection_->Exec("ROLLBACK"); }

  Status WriteSlice(const arrow::RecordBatch& batch, int64_t offset, int64_t length) override {
    buffer_.clear();
    CopyEncoder::AppendHeader(&buffer_);
    SLUICE_RETURN_NOT_OK(encoder_->AppendRows(batch, offset, length, &buffer_));
    CopyEncoder::AppendTrailer(&buffer_);
    SLUICE_RETURN_NOT_OK(connection_->Exec("SAVEPOINT sluice_slice"));
    Status status = connection_->CopyIn(copy_, buffer_);
    if (status.ok() && upsert_) status = connection_->Exec(merge_);
    if (status.ok()) return connection_->Exec("RELEASE SAVEPOINT sluice_slice");
    if (!IsConnectionLost(status)) {
      SLUICE_RETURN_NOT_OK(connection_->Exec("ROLLBACK TO SAVEPOINT sluice_slice"));
    }
    return status;
  }

  bool IsRowError(const Status& status) const override {
    // Class 22: data exception (out of range, invalid text, too long); 23: integrity
    // constraint violation (unique, not null, check, foreign key).
    const std::string state = SqlState(status);
    return state.rfind("22", 0) == 0 || state.rfind("23", 0) == 0;
  }

  bool IsConnectionLost(const Status& status) const override {
    return postgres::IsConnectionLost(status);
  }

 private:
  /// The columns of `table`, in order; none when it does not exist.
  Result<std::vector<TableColumn>> Columns(std::string_view table) {
    const std::string name = dialect_.QuoteTable(table);
    SLUICE_ASSIGN_OR_RAISE(
        PgResult result,
        connection_->Query("SELECT a.attname, a.atttypid, format_type(a.atttypid, a.atttypmod) "
                           "FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND "
                           "a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                           {name.c_str()}));
    std::vector<TableColumn> columns;
    for (int row = 0; row < PQntuples(result.get()); ++row) {
      columns.push_back(TableColumn{
          PQgetvalue(result.get(), row, 0),
          static_cast<uint32_t>(std::strtoul(PQgetvalue(result.get(), row, 1), nullptr, 10)),
          PQgetvalue(result.get(), row, 2)});
    }
    return columns;
  }

  PostgresDialect dialect_;
  std::unique_ptr<PgConnection> connection_;
  std::optional<CopyEncoder> encoder_;
  bool upsert_ = false;
  std::string copy_;
  std::string merge_;
  std::string buffer_;
};

}  // namespace

Result<std::string> PostgresDialect::ColumnType(const arrow::DataType& type) const {
  switch (type.id()) {
    case arrow::Type::BOOL:
      return std::string("boolean");
    case arrow::Type::INT8:
    case arrow::Type::INT16:
    case arrow::Type::UINT8:
      return std::string("smallint");
    case arrow::Type::INT32:
    case arrow::Type::UINT16:
      return std::string("integer");
    case arrow::Type::INT64:
    case arrow::Type::UINT32:
      return std::string("bigint");
    case arrow::Type::UINT64:
      return std::string("numeric(20, 0)");
    case arrow::Type::FLOAT:
      return std::string("real");
    case arrow::Type::DOUBLE:
      return std::string("double precision");
    case arrow::Type::DECIMAL128:
    case arrow::Type::DECIMAL256: {
      const auto& decimal = static_cast<const arrow::DecimalType&>(type);
      if (decimal.precision() > 1000) return std::string("numeric");
      return fmt::format("numeric({}, {})", decimal.precision(), decimal.scale());
    }
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::STRING_VIEW:
      return std::string("text");
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
    case arrow::Type::BINARY_VIEW:
    case arrow::Type::FIXED_SIZE_BINARY:
      return std::string("bytea");
    case arrow::Type::DATE32:
    case arrow::Type::DATE64:
      return std::string("date");
    case arrow::Type::TIMESTAMP:
      return static_cast<const arrow::TimestampType&>(type).timezone().empty()
                 ? std::string("timestamp")
                 : std::string("timestamptz");
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST:
    case arrow::Type::FIXED_SIZE_LIST:
    case arrow::Type::STRUCT:
    case arrow::Type::MAP:
      return std::string("jsonb");
    default:
      return Status::NotImplemented("no column type for ", type.ToString());
  }
}

Result<std::unique_ptr<sql::Session>> OpenPgSession(const std::string& url,
                                                    std::chrono::milliseconds connect_timeout) {
  SLUICE_ASSIGN_OR_RAISE(auto connection, PgConnection::Connect(url, connect_timeout));
  return std::make_unique<PgSession>(std::move(connection));
}

}  // namespace sluice::connectors::postgres
