#include <arrow/c/abi.h>
#include <arrow/c/bridge.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>

#include <string>

#include "sluice/duckdb/result_internal.h"

namespace sluice::duckdb::internal {

Status ErrorStatus(duckdb_error_type type, std::string_view message) {
  switch (type) {
    case DUCKDB_ERROR_IO:
    case DUCKDB_ERROR_CONNECTION:
    case DUCKDB_ERROR_NETWORK:
    case DUCKDB_ERROR_HTTP:
      return Status::IOError("DuckDB: ", message);
    case DUCKDB_ERROR_OUT_OF_MEMORY:
      return Status::OutOfMemory("DuckDB: ", message);
    case DUCKDB_ERROR_INTERRUPT:
      return Status::Cancelled("DuckDB: ", message);
    case DUCKDB_ERROR_NOT_IMPLEMENTED:
      return Status::NotImplemented("DuckDB: ", message);
    case DUCKDB_ERROR_FATAL:
    case DUCKDB_ERROR_INTERNAL:
      return Status::UnknownError("DuckDB: ", message);
    default:
      return Status::Invalid("DuckDB: ", message);
  }
}

Status ResultErrorStatus(duckdb_result* result) {
  const char* message = duckdb_result_error(result);
  return ErrorStatus(duckdb_result_error_type(result),
                     message != nullptr ? message : "unknown error");
}

Status ConsumeErrorData(duckdb_error_data error, std::string_view context) {
  if (error == nullptr) return Status::OK();
  Status status;
  if (duckdb_error_data_has_error(error)) {
    const char* message = duckdb_error_data_message(error);
    status =
        ErrorStatus(duckdb_error_data_error_type(error),
                    std::string(context) + ": " + (message != nullptr ? message : "unknown error"));
  }
  duckdb_destroy_error_data(&error);
  return status;
}

Result<std::shared_ptr<arrow::Schema>> ToArrowSchema(duckdb_arrow_options options,
                                                     const std::vector<LogicalType>& types,
                                                     const std::vector<std::string>& names) {
  std::vector<duckdb_logical_type> type_handles;
  std::vector<const char*> name_pointers;
  for (const auto& type : types) type_handles.push_back(type.get());
  for (const auto& name : names) name_pointers.push_back(name.c_str());
  struct ArrowSchema c_schema {};
  SLUICE_RETURN_NOT_OK(
      ConsumeErrorData(duckdb_to_arrow_schema(options, type_handles.data(), name_pointers.data(),
                                              type_handles.size(), &c_schema),
                       "converting a result schema to Arrow"));
  // ImportSchema releases the C schema whether or not it succeeds.
  return arrow::ImportSchema(&c_schema);
}

Result<std::shared_ptr<arrow::Schema>> ResultSchema(duckdb_result* result) {
  const idx_t column_count = duckdb_column_count(result);
  std::vector<LogicalType> types;
  std::vector<std::string> names;
  for (idx_t column = 0; column < column_count; ++column) {
    types.emplace_back(duckdb_column_logical_type(result, column));
    const char* name = duckdb_column_name(result, column);
    names.emplace_back(name != nullptr ? name : "");
  }
  duckdb_arrow_options options = duckdb_result_get_arrow_options(result);
  auto schema = ToArrowSchema(options, types, names);
  duckdb_destroy_arrow_options(&options);
  return schema;
}

Result<std::vector<std::shared_ptr<arrow::RecordBatch>>> ReadResult(
    duckdb_result* result, const std::shared_ptr<arrow::Schema>& schema) {
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  duckdb_arrow_options options = duckdb_result_get_arrow_options(result);
  Status status;
  while (status.ok()) {
    duckdb_data_chunk chunk = duckdb_fetch_chunk(*result);
    if (chunk == nullptr) break;
    struct ArrowArray c_array {};
    status = ConsumeErrorData(duckdb_data_chunk_to_arrow(options, chunk, &c_array),
                              "converting a result to Arrow");
    duckdb_destroy_data_chunk(&chunk);
    if (!status.ok()) break;
    // ImportRecordBatch takes ownership of the C array whether or not it succeeds.
    auto batch = arrow::ImportRecordBatch(&c_array, schema);
    if (!batch.ok()) {
      status = batch.status();
      break;
    }
    batches.push_back(std::move(*batch));
  }
  duckdb_destroy_arrow_options(&options);
  SLUICE_RETURN_NOT_OK(status);
  return batches;
}

}  // namespace sluice::duckdb::internal
