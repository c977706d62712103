#pragma once

#include <arrow/record_batch.h>
#include <arrow/type_fwd.h>
#include <duckdb.h>

#include <memory>

#include "sluice/common/status.h"

namespace sluice::duckdb {

/// The result of a query read piece by piece (Connection::Stream): DuckDB runs the query as
/// the pieces are fetched, so at most a few vectors of the result are held at a time, whatever
/// its size.
///
/// Owns the statement and its result. Must be destroyed before the Connection that made it, and
/// used from one thread at a time; the connection runs nothing else meanwhile.
class QueryStream {
 public:
  ~QueryStream();
  QueryStream(const QueryStream&) = delete;
  QueryStream& operator=(const QueryStream&) = delete;

  /// The schema of every batch Next() returns.
  const std::shared_ptr<arrow::Schema>& schema() const { return schema_; }

  /// The next piece of the result (DuckDB's vector size, 2048 rows, or fewer), or null at its
  /// end. An error while the query runs (a damaged file, a failed cast) is returned here.
  Result<std::shared_ptr<arrow::RecordBatch>> Next();

 private:
  friend class Connection;
  QueryStream() = default;

  duckdb_prepared_statement statement_ = nullptr;
  duckdb_result result_{};
  bool has_result_ = false;
  duckdb_arrow_options options_ = nullptr;
  std::shared_ptr<arrow::Schema> schema_;
};

}  // namespace sluice::duckdb
