#pragma once

#include <arrow/type_fwd.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::connectors::mysql {

/// Escapes `text` into `out` (quotes not included) for a string literal, as the connection's
/// character set requires (mysql_real_escape_string on a session).
using Escape = std::function<void(std::string_view text, std::string* out)>;

/// Appends the SQL literal of one value (`array`[`row`], not null) to `out`. Answers false, with
/// why in `reason`, for a value the server cannot store (NaN, a year past 9999).
using AppendLiteral = bool (*)(const arrow::Array& array, int64_t row, const Escape& escape,
                               std::string* out, std::string* reason);

/// The function that writes values of `type` as MariaDB literals: numbers as digits (floats
/// in their shortest round-trip form), strings escaped in quotes, binary as X'hex', dates as
/// 'YYYY-MM-DD', timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC (or as given, without a time
/// zone; nanoseconds are cut to microseconds), decimals as digits. NotImplemented for other
/// types.
Result<AppendLiteral> LiteralWriterFor(const arrow::DataType& type);

/// Renders rows of a batch as the tuples of a multi-row INSERT: "(1,'a',NULL)". One per
/// session and schema; not thread-safe.
class RowRenderer {
 public:
  /// Writers for every field of `schema`; NotImplemented names the first field without one.
  static Result<RowRenderer> Make(const arrow::Schema& schema);

  /// Appends row `row` of `columns` (the batch's columns, in schema order) to `out`. False
  /// with `reason` when a value cannot be stored; `out` then holds a partial tuple.
  bool AppendRow(const std::vector<std::shared_ptr<arrow::Array>>& columns, int64_t row,
                 const Escape& escape, std::string* out, std::string* reason) const;

 private:
  std::vector<AppendLiteral> writers_;
  std::vector<std::string> names_;
};

}  // namespace sluice::connectors::mysql
