#include "sluice/duckdb/query_stream.h"

#include <arrow/c/abi.h>
#include <arrow/c/bridge.h>

#include <string>

#include "sluice/duckdb/connection.h"
#include "sluice/duckdb/result_internal.h"

namespace sluice::duckdb {

QueryStream::~QueryStream() {
  if (options_ != nullptr) duckdb_destroy_arrow_options(&options_);
  if (has_result_) duckdb_destroy_result(&result_);
  if (statement_ != nullptr) duckdb_destroy_prepare(&statement_);
}

Result<std::shared_ptr<arrow::RecordBatch>> QueryStream::Next() {
  duckdb_data_chunk chunk = duckdb_fetch_chunk(result_);
  if (chunk == nullptr) {
    // The end of the result, or a failure while the query ran.
    const char* message = duckdb_result_error(&result_);
    if (message != nullptr && *message != '\0') return internal::ResultErrorStatus(&result_);
    return nullptr;
  }
  struct ArrowArray c_array {};
  Status status = internal::ConsumeErrorData(duckdb_data_chunk_to_arrow(options_, chunk, &c_array),
                                             "converting a result to Arrow");
  duckdb_destroy_data_chunk(&chunk);
  SLUICE_RETURN_NOT_OK(status);
  // ImportRecordBatch takes ownership of the C array whether or not it succeeds.
  return arrow::ImportRecordBatch(&c_array, schema_);
}

Result<std::unique_ptr<QueryStream>> Connection::Stream(std::string_view sql) {
  std::unique_ptr<QueryStream> stream(new QueryStream());
  if (duckdb_prepare(connection_, std::string(sql).c_str(), &stream->statement_) != DuckDBSuccess) {
    const char* message = duckdb_prepare_error(stream->statement_);
    return Status::Invalid("DuckDB: ", message != nullptr ? message : "cannot prepare the query");
  }
  duckdb_pending_result pending = nullptr;
  // DuckDB's C API marks the streaming calls as due to change; they are still the only way to
  // read a result without materialising it.
  if (duckdb_pending_prepared_streaming(stream->statement_, &pending) != DuckDBSuccess) {
    const char* message = duckdb_pending_error(pending);
    Status status =
        Status::Invalid("DuckDB: ", message != nullptr ? message : "cannot run the query");
    duckdb_destroy_pending(&pending);
    return status;
  }
  duckdb_state state = duckdb_execute_pending(pending, &stream->result_);
  duckdb_destroy_pending(&pending);
  stream->has_result_ = true;
  if (state != DuckDBSuccess) return internal::ResultErrorStatus(&stream->result_);
  SLUICE_ASSIGN_OR_RAISE(stream->schema_, internal::ResultSchema(&stream->result_));
  stream->options_ = duckdb_result_get_arrow_options(&stream->result_);
  return stream;
}

}  // namespace sluice::duckdb
