#pragma once

#include <arrow/record_batch.h>
#include <arrow/type_fwd.h>
#include <duckdb.h>

#include <memory>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::duckdb {

/// A statement bound and planned once by Connection::Prepare, to run many times without
/// parsing or planning again. Its result schema is known before it runs.
///
/// Owns the duckdb_prepared_statement handle. Must be destroyed before the Connection that
/// prepared it, and used from that connection's thread.
class PreparedStatement {
 public:
  ~PreparedStatement();
  PreparedStatement(const PreparedStatement&) = delete;
  PreparedStatement& operator=(const PreparedStatement&) = delete;

  /// The schema of every batch Execute() returns.
  const std::shared_ptr<arrow::Schema>& schema() const { return schema_; }

  /// Whether the statement is a query (SELECT, WITH, VALUES, FROM-first, ...) rather than a
  /// command that changes the database, which could not be repeated per micro-batch.
  bool is_query() const {
    return duckdb_prepared_statement_type(statement_) == DUCKDB_STATEMENT_TYPE_SELECT;
  }

  /// Runs the statement and returns its result as batches of schema(), in DuckDB's vector size
  /// (2048 rows) or smaller; none for an empty result.
  Result<std::vector<std::shared_ptr<arrow::RecordBatch>>> Execute();

 private:
  friend class Connection;
  PreparedStatement(duckdb_prepared_statement statement, std::shared_ptr<arrow::Schema> schema)
      : statement_(statement), schema_(std::move(schema)) {}

  duckdb_prepared_statement statement_ = nullptr;
  std::shared_ptr<arrow::Schema> schema_;
};

}  // namespace sluice::duckdb
