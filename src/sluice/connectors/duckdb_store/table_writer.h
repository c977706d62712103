#pragma once

#include <arrow/record_batch.h>
#include <arrow/type_fwd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/connectors/duckdb_store/duckdb_dialect.h"
#include "sluice/connectors/sql/reject_isolation.h"
#include "sluice/connectors/sql/table_options.h"
#include "sluice/duckdb/connection.h"

namespace sluice::connectors::duckdb_store {

/// Writes Arrow batches into one table of a DuckDB database, in transactions the caller
/// delimits, through DuckDB's Arrow scan: each batch is registered on the connection and
/// inserted (or upserted) by one `INSERT INTO t (fields) SELECT fields FROM batch`, never row
/// by row.
///
/// Rows the database refuses (a constraint violation, a value that does not fit its column)
/// are isolated and returned with DuckDB's message; the rest of the batch is written. DuckDB has
/// no savepoints: a failed statement aborts the whole transaction. So the writer keeps the
/// slices it wrote in the open transaction (references to their batches, not copies), and
/// after a failed statement rolls back, begins again and writes those slices again before it
/// tries the halves of the failed slice (sql::WriteIsolatingRejects). A clean batch costs one
/// statement; a batch with k refused rows about k log n statements plus as many replays of
/// the open transaction's earlier slices.
///
/// In upsert mode the last row of a batch with a given key wins, as if the rows were written
/// one by one (DuckDB itself would keep the first).
///
/// Owns nothing but the statements it prepared; the Connection must outlive it. One thread.
class TableWriter {
 public:
  /// Checks that `options.table` exists (creating it from `schema` with `create_table`), that
  /// every field of `schema` is one of its columns and, for upserts, that the key is its
  /// primary key or unique. Errors name the table and the columns.
  static Result<std::unique_ptr<TableWriter>> Make(duckdb::Connection* connection,
                                                   std::shared_ptr<arrow::Schema> schema,
                                                   const sql::TableOptions& options);

  ~TableWriter();

  /// Writes `batch` (of the schema given to Make()) in the open transaction, beginning one
  /// when none is open. Returns the rows refused, with their reasons, in row order.
  Result<std::vector<sql::RejectedRow>> Write(const std::shared_ptr<arrow::RecordBatch>& batch);

  /// Runs `statements` (may be empty) in the open transaction, beginning one when none is open,
  /// and commits it.
  Status Commit(std::string_view statements);

  /// Discards the open transaction, if any.
  void Rollback();

  bool in_transaction() const { return in_transaction_; }

  /// The quoted table name, for the caller's own statements.
  const std::string& quoted_table() const { return quoted_table_; }

  /// Whether `status`, from a failed insert, was caused by the rows written.
  static bool IsRowError(const Status& status);

 private:
  TableWriter(duckdb::Connection* connection, std::shared_ptr<arrow::Schema> schema,
              std::string quoted_table)
      : connection_(connection), schema_(std::move(schema)), quoted_table_(std::move(quoted_table)) {}

  Status Begin();
  /// Inserts rows [offset, offset + length) of `batch` (which carries the row-number column).
  Status Insert(const std::shared_ptr<arrow::RecordBatch>& batch, int64_t offset, int64_t length);
  /// After a failed statement: a fresh transaction holding again every slice written so far.
  Status Restart();

  struct Slice {
    std::shared_ptr<arrow::RecordBatch> batch;
    int64_t offset = 0;
    int64_t length = 0;
  };

  duckdb::Connection* connection_;
  std::shared_ptr<arrow::Schema> schema_;
  std::string quoted_table_;
  /// The view the batches are registered as.
  std::string input_name_;
  std::unique_ptr<duckdb::PreparedStatement> insert_;
  /// Whether rows are upserted (the batches then carry a row-number column).
  bool upsert_ = false;
  bool in_transaction_ = false;
  /// The slices written in the open transaction, in order.
  std::vector<Slice> written_;
};

}  // namespace sluice::connectors::duckdb_store
