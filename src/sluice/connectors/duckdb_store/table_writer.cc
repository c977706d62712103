#include "sluice/connectors/duckdb_store/table_writer.h"

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/type.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <utility>

#include "sluice/config/location.h"

namespace sluice::connectors::duckdb_store {
namespace {

/// The column added to each batch in upsert mode: the row's index, so that of several rows
/// with one key the last can be chosen.
constexpr std::string_view kRowColumn = "__sluice_row";

/// A view name of its own for each writer, so that several writers can share a connection.
std::string NextInputName() {
  static std::atomic<int64_t> next{0};
  return fmt::format("sluice_sink_input_{}", next.fetch_add(1));
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

/// DuckDB's message without the bridge's "DuckDB: " prefix.
std::string_view DuckDbMessage(const Status& status) {
  std::string_view message = status.message();
  if (StartsWith(message, "DuckDB: ")) message.remove_prefix(8);
  return message;
}

Result<std::shared_ptr<arrow::Array>> RowNumbers(int64_t rows) {
  arrow::Int64Builder builder;
  SLUICE_RETURN_NOT_OK(builder.Reserve(rows));
  for (int64_t row = 0; row < rows; ++row) builder.UnsafeAppend(row);
  return builder.Finish();
}

}  // namespace

bool TableWriter::IsRowError(const Status& status) {
  std::string_view message = DuckDbMessage(status);
  for (std::string_view kind : {"Constraint Error", "Conversion Error", "Out of Range Error"}) {
    if (StartsWith(message, kind)) return true;
  }
  return false;
}

Result<std::unique_ptr<TableWriter>> TableWriter::Make(duckdb::Connection* connection,
                                                       std::shared_ptr<arrow::Schema> schema,
                                                       const sql::TableOptions& options) {
  const DuckDbDialect dialect;
  const std::string table = dialect.QuoteTable(options.table);
  if (options.create_table) {
    SLUICE_ASSIGN_OR_RAISE(std::string create,
                           sql::CreateTableSql(dialect, options.table, *schema, options.key));
    Status created = connection->Execute(create);
    if (!created.ok()) {
      return created.WithMessage("cannot create table '", options.table,
                                 "': ", DuckDbMessage(created));
    }
  }
  auto columns = connection->Describe("SELECT * FROM " + table);
  if (!columns.ok()) {
    if (columns.status().message().find("does not exist") != std::string::npos) {
      return config::ConfigError(options.where,
                                 fmt::format("table '{}' does not exist", options.table),
                                 "create it, or set create_table: true to create it from the "
                                 "stream's schema");
    }
    return columns.status().WithMessage("cannot read table '", options.table,
                                        "': ", DuckDbMessage(columns.status()));
  }
  std::vector<std::string> missing;
  for (const auto& field : schema->fields()) {
    if ((*columns)->GetFieldIndex(field->name()) < 0) missing.push_back(field->name());
  }
  if (!missing.empty()) {
    return config::ConfigError(
        options.where,
        fmt::format("table '{}' has no column {} (its columns: {})", options.table,
                    fmt::join(missing, ", "), fmt::join((*columns)->field_names(), ", ")),
        "add the column(s) to the table, or drop the field(s) first (drop processor)");
  }
  for (const auto& name : options.key) {
    if (schema->GetFieldIndex(name) < 0) {
      return config::ConfigError(options.where,
                                 fmt::format("key field '{}' is not in the stream", name));
    }
  }

  std::unique_ptr<TableWriter> writer(new TableWriter(connection, schema, table));
  writer->input_name_ = NextInputName();
  const bool upsert = options.mode == sql::WriteMode::kUpsert;
  writer->upsert_ = upsert;
  std::shared_ptr<arrow::Schema> registered = schema;
  if (upsert) {
    SLUICE_ASSIGN_OR_RAISE(registered,
                           schema->AddField(schema->num_fields(),
                                            arrow::field(std::string(kRowColumn), arrow::int64())));
  }
  SLUICE_RETURN_NOT_OK(connection->RegisterBatches(writer->input_name_, registered, {}));

  const std::string fields = dialect.QuoteList(schema->field_names());
  const std::string input = dialect.QuoteIdentifier(writer->input_name_);
  std::string insert;
  if (!upsert) {
    insert = fmt::format("INSERT INTO {} ({}) SELECT {} FROM {}", table, fields, fields, input);
  } else {
    // Of several rows with one key the last wins; DuckDB would keep the first.
    std::string updates;
    for (const auto& name : schema->field_names()) {
      if (std::find(options.key.begin(), options.key.end(), name) != options.key.end()) continue;
      if (!updates.empty()) updates += ", ";
      updates += fmt::format("{0} = excluded.{0}", dialect.QuoteIdentifier(name));
    }
    insert = fmt::format(
        "INSERT INTO {0} ({1}) SELECT {1} FROM (SELECT * FROM {2} QUALIFY row_number() OVER "
        "(PARTITION BY {3} ORDER BY {4} DESC) = 1) ON CONFLICT ({3}) DO {5}",
        table, fields, input, dialect.QuoteList(options.key), dialect.QuoteIdentifier(kRowColumn),
        updates.empty() ? std::string("NOTHING") : "UPDATE SET " + updates);
  }
  auto prepared = connection->Prepare(insert);
  if (!prepared.ok()) {
    std::string_view message = DuckDbMessage(prepared.status());
    if (upsert && message.find("conflict target") != std::string_view::npos) {
      return config::ConfigError(
          options.where,
          fmt::format("mode upsert needs a primary key or unique constraint on ({}) in table "
                      "'{}': {}",
                      fmt::join(options.key, ", "), options.table, message),
          "add one (ALTER TABLE ... ADD PRIMARY KEY), or let create_table: true create the "
          "table with the key as its primary key");
    }
    return prepared.status().WithMessage("cannot write into table '", options.table,
                                         "': ", message);
  }
  writer->insert_ = std::move(*prepared);
  return writer;
}

TableWriter::~TableWriter() {
  Rollback();
  insert_.reset();
  (void)connection_->Unregister(input_name_);
}

Status TableWriter::Begin() {
  if (in_transaction_) return Status::OK();
  SLUICE_RETURN_NOT_OK(connection_->Execute("BEGIN TRANSACTION"));
  in_transaction_ = true;
  return Status::OK();
}

Status TableWriter::Insert(const std::shared_ptr<arrow::RecordBatch>& batch, int64_t offset,
                           int64_t length) {
  SLUICE_RETURN_NOT_OK(connection_->SetBatches(input_name_, {batch->Slice(offset, length)}));
  auto inserted = insert_->Execute();
  // Release the slice at once: the registered view must not keep the pipeline's buffers.
  Status cleared = connection_->SetBatches(input_name_, {});
  SLUICE_RETURN_NOT_OK(inserted.status());
  return cleared;
}

Status TableWriter::Restart() {
  std::vector<Slice> written = std::move(written_);
  Rollback();
  SLUICE_RETURN_NOT_OK(Begin());
  written_ = std::move(written);
  for (const Slice& slice : written_) {
    Status again = Insert(slice.batch, slice.offset, slice.length);
    if (!again.ok()) {
      // Not a row error, whatever DuckDB says: these rows were accepted a moment ago.
      return Status::UnknownError("DuckDB refused rows it had accepted in the same transaction: ",
                                  again.message());
    }
  }
  return Status::OK();
}

Result<std::vector<sql::RejectedRow>> TableWriter::Write(
    const std::shared_ptr<arrow::RecordBatch>& batch) {
  if (batch->num_rows() == 0) return std::vector<sql::RejectedRow>{};
  if (batch->num_columns() != schema_->num_fields()) {
    return Status::Invalid("a batch of ", batch->num_columns(), " columns for table ",
                           quoted_table_, ", which is written with ", schema_->num_fields());
  }
  std::shared_ptr<arrow::RecordBatch> input = batch;
  if (upsert_) {
    SLUICE_ASSIGN_OR_RAISE(auto rows, RowNumbers(batch->num_rows()));
    SLUICE_ASSIGN_OR_RAISE(input, batch->AddColumn(batch->num_columns(),
                                                   std::string(kRowColumn), std::move(rows)));
  }
  SLUICE_RETURN_NOT_OK(Begin());
  auto attempt = [&](int64_t offset, int64_t length) -> Status {
    Status status = Insert(input, offset, length);
    if (status.ok()) {
      written_.push_back(Slice{input, offset, length});
      return status;
    }
    if (!IsRowError(status)) return status;
    SLUICE_RETURN_NOT_OK(Restart());
    return status;
  };
  return sql::WriteIsolatingRejects(input->num_rows(), attempt, IsRowError);
}

Status TableWriter::Commit(std::string_view statements) {
  SLUICE_RETURN_NOT_OK(Begin());
  if (!statements.empty()) {
    Status status = connection_->Execute(statements);
    if (!status.ok()) {
      Rollback();
      return status;
    }
  }
  Status committed = connection_->Execute("COMMIT");
  in_transaction_ = false;
  written_.clear();
  if (!committed.ok()) {
    // A failed COMMIT leaves DuckDB's transaction aborted; end it.
    (void)connection_->Execute("ROLLBACK");
    return Status::IOError("DuckDB: cannot commit: ", DuckDbMessage(committed));
  }
  return Status::OK();
}

void TableWriter::Rollback() {
  if (in_transaction_) (void)connection_->Execute("ROLLBACK");
  in_transaction_ = false;
  written_.clear();
}

}  // namespace sluice::connectors::duckdb_store
