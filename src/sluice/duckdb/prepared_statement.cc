#include "sluice/duckdb/prepared_statement.h"

#include "sluice/duckdb/result_internal.h"

namespace sluice::duckdb {

PreparedStatement::~PreparedStatement() {
  if (statement_ != nullptr) duckdb_destroy_prepare(&statement_);
}

Result<std::vector<std::shared_ptr<arrow::RecordBatch>>> PreparedStatement::Execute() {
  internal::ResultHandle result;
  if (duckdb_execute_prepared(statement_, result.get()) != DuckDBSuccess) {
    return internal::ResultErrorStatus(result.get());
  }
  return internal::ReadResult(result.get(), schema_);
}

}  // namespace sluice::duckdb
