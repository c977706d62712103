#pragma once

#include <arrow/record_batch.h>
#include <arrow/type_fwd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::connectors::postgres {

/// PostgreSQL type OIDs the sink writes (pg_type.h).
namespace oid {
constexpr uint32_t kBool = 16;
constexpr uint32_t kBytea = 17;
constexpr uint32_t kInt8 = 20;
constexpr uint32_t kInt2 = 21;
constexpr uint32_t kInt4 = 23;
constexpr uint32_t kText = 25;
constexpr uint32_t kJson = 114;
constexpr uint32_t kFloat4 = 700;
constexpr uint32_t kFloat8 = 701;
constexpr uint32_t kBpchar = 1042;
constexpr uint32_t kVarchar = 1043;
constexpr uint32_t kDate = 1082;
constexpr uint32_t kTimestamp = 1114;
constexpr uint32_t kTimestamptz = 1184;
constexpr uint32_t kNumeric = 1700;
constexpr uint32_t kUuid = 2950;
constexpr uint32_t kJsonb = 3802;
}  // namespace oid

/// A column of the target table: its name and type.
struct TableColumn {
  std::string name;
  uint32_t type_oid = 0;
  /// The type as PostgreSQL spells it ("character varying(20)"), for messages.
  std::string type_name;
};

/// Renders rows of Arrow batches in PostgreSQL's binary COPY format, each field converted to
/// its column's type: integers of any width to smallint, integer or bigint (a value out of the
/// column's range is that row's error), numbers to real, double precision or numeric,
/// timestamps of any unit to timestamp or timestamptz (microseconds), dates, strings to text,
/// varchar, char, json, jsonb or uuid, binaries to bytea, and lists, structs and maps to json
/// or jsonb. Rendering is a loop over rows and columns with the conversion of each column
/// chosen once, when the encoder is made.
class CopyEncoder {
 public:
  /// An encoder of rows of `schema` into `columns` (one per field, in field order). Fails,
  /// naming the field and column, when a field cannot be written to its column's type.
  static Result<CopyEncoder> Make(const arrow::Schema& schema,
                                  const std::vector<TableColumn>& columns);

  /// The COPY header; sent once per COPY.
  static void AppendHeader(std::string* out);
  /// The COPY trailer.
  static void AppendTrailer(std::string* out);

  /// Appends rows [offset, offset + length) of `batch`. A value its column cannot hold (an
  /// integer out of range, an invalid uuid) fails with Invalid("[SQLSTATE] message"), the
  /// SQLSTATE PostgreSQL would answer (22003, 22P02), naming the row.
  Status AppendRows(const arrow::RecordBatch& batch, int64_t offset, int64_t length,
                    std::string* out) const;

  enum class Kind {
    kBool,
    kInt2,
    kInt4,
    kInt8,
    kFloat4,
    kFloat8,
    kNumeric,
    kText,
    kJsonText,
    kJsonb,
    kBytea,
    kDate,
    kTimestamp,
    kUuid,
  };

 private:
  struct Column {
    Kind kind;
    /// The Arrow type of the field (its id decides how the value is read).
    std::shared_ptr<arrow::DataType> type;
    std::string name;
    std::string type_name;
  };

  Status AppendValue(const Column& column, const arrow::Array& array, int64_t row,
                     std::string* out) const;

  std::vector<Column> columns_;
};

/// Appends the binary `numeric` value of a decimal number written in text ("-12.3400"): its
/// digits in base 10000, weight, sign and display scale. False when `text` is not a plain
/// decimal number.
bool AppendNumericFromText(std::string_view text, std::string* out);

}  // namespace sluice::connectors::postgres
