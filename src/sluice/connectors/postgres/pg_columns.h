#pragma once

#include <arrow/builder.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::connectors::postgres {

/// How a result column's values arrive (binary format) and which Arrow type they become.
enum class PgValueKind {
  kBool,
  kInt16,
  kInt32,
  kInt64,
  kOid,  ///< unsigned 32 bits, widened to int64
  kFloat32,
  kFloat64,
  kNumericDouble,   ///< numeric without a known precision (or above 38 digits): float64
  kNumericDecimal,  ///< numeric(p, s) with p <= 38: decimal128(p, s)
  kText,            ///< text, varchar, char(n), name, json, xml and any type read as text
  kJsonb,           ///< jsonb: a version byte, then the JSON text
  kBytea,
  kUuid,
  kDate,
  kTimestamp,  ///< timestamp and timestamptz: microseconds, UTC
};

/// One column of a query's result.
struct PgColumn {
  std::string name;
  /// The PostgreSQL type (pg_type OID) and its modifier (for numeric: precision and scale).
  Oid type_oid = 0;
  int type_modifier = -1;
  /// The PostgreSQL type's name, for messages ("numeric(10,2)", "interval").
  std::string type_name;
  /// Whether the query must select the column as `::text`: its type has no binary decoder.
  bool read_as_text = false;
  PgValueKind kind = PgValueKind::kText;
  std::shared_ptr<arrow::DataType> type;
};

/// The columns of a described statement (PQdescribePrepared), with their Arrow types.
/// Types without a decoder are marked read_as_text and become strings.
std::vector<PgColumn> DescribeColumns(const PGresult& described);

/// Builds Arrow columns from rows of binary-format results (PQexecParams with resultFormat 1)
/// of a query selecting `columns` (a column marked read_as_text selected as ::text).
/// Not thread-safe.
class PgBatchBuilder {
 public:
  static Result<std::unique_ptr<PgBatchBuilder>> Make(std::vector<PgColumn> columns,
                                                      std::shared_ptr<arrow::Schema> schema);

  /// Appends rows [begin, end) of `result`, whose first columns are those described.
  Status AppendRows(const PGresult& result, int begin, int end);

  int64_t num_rows() const { return num_rows_; }

  /// The rows appended since the last Finish(), as a batch; the builder starts again empty.
  Result<std::shared_ptr<arrow::RecordBatch>> Finish();

 private:
  PgBatchBuilder(std::vector<PgColumn> columns, std::shared_ptr<arrow::Schema> schema,
                 std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders)
      : columns_(std::move(columns)), schema_(std::move(schema)), builders_(std::move(builders)) {}

  Status Append(size_t column, const char* value, int length);

  std::vector<PgColumn> columns_;
  std::shared_ptr<arrow::Schema> schema_;
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders_;
  int64_t num_rows_ = 0;
};

}  // namespace sluice::connectors::postgres
