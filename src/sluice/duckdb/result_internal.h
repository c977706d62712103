#pragma once

#include <arrow/type_fwd.h>
#include <duckdb.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/common/status.h"

// Errors, types and results of the DuckDB C API in Arrow and Status terms; shared by the
// bridge's .cc files and not part of its public API.
namespace sluice::duckdb::internal {

/// Translates a DuckDB error into Sluice's conventions (common/status.h): user errors in a
/// statement (syntax, unknown column, failed cast) are Invalid, failures of the outside world
/// are IOError, and DuckDB's own failures are UnknownError.
Status ErrorStatus(duckdb_error_type type, std::string_view message);

/// The Status for a failed duckdb_query or duckdb_execute_prepared.
Status ResultErrorStatus(duckdb_result* result);

/// Takes a duckdb_error_data: OK when it is null, its message otherwise; destroys it.
Status ConsumeErrorData(duckdb_error_data error, std::string_view context);

/// Owns a duckdb_logical_type.
class LogicalType {
 public:
  explicit LogicalType(duckdb_logical_type type = nullptr) : type_(type) {}
  ~LogicalType() {
    if (type_ != nullptr) duckdb_destroy_logical_type(&type_);
  }
  LogicalType(LogicalType&& other) noexcept : type_(other.type_) { other.type_ = nullptr; }
  LogicalType& operator=(LogicalType&& other) noexcept {
    std::swap(type_, other.type_);
    return *this;
  }
  LogicalType(const LogicalType&) = delete;
  LogicalType& operator=(const LogicalType&) = delete;

  duckdb_logical_type get() const { return type_; }

 private:
  duckdb_logical_type type_;
};

/// The Arrow schema DuckDB produces for columns of these types and names, with the settings
/// in `options` (time zone, string layout).
Result<std::shared_ptr<arrow::Schema>> ToArrowSchema(duckdb_arrow_options options,
                                                     const std::vector<LogicalType>& types,
                                                     const std::vector<std::string>& names);

/// Reads every chunk of a successful result as Arrow record batches of `schema`, which must be
/// the result's own schema (from ToArrowSchema). DuckDB writes its vectors into new Arrow
/// buffers here: its in-memory layout differs from Arrow's for strings and booleans, and the
/// result chunks are recycled once fetched.
Result<std::vector<std::shared_ptr<arrow::RecordBatch>>> ReadResult(
    duckdb_result* result, const std::shared_ptr<arrow::Schema>& schema);

/// The Arrow schema of a successful result.
Result<std::shared_ptr<arrow::Schema>> ResultSchema(duckdb_result* result);

/// Owns a duckdb_result and destroys it.
class ResultHandle {
 public:
  ResultHandle() = default;
  ~ResultHandle() { duckdb_destroy_result(&result_); }
  ResultHandle(const ResultHandle&) = delete;
  ResultHandle& operator=(const ResultHandle&) = delete;

  duckdb_result* get() { return &result_; }

 private:
  duckdb_result result_{};
};

}  // namespace sluice::duckdb::internal
