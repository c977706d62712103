#pragma once

#include <arrow/compute/expression.h>
#include <arrow/record_batch.h>
#include <arrow/type_fwd.h>

#include <memory>
#include <string>

#include "sluice/common/status.h"
#include "sluice/config/location.h"
#include "sluice/expr/ast.h"

/// The expression language of pipeline files (filters, computed columns), compiled to Arrow
/// compute expressions so that evaluation is vectorised over whole batches.
///
/// The language is SQL's expression syntax with DuckDB's semantics, which the tests use as the
/// oracle:
///  - literals: 42 (int64), 4.2 and 4e2 (double), 'text' ('' escapes a quote), TRUE, FALSE,
///    NULL, DATE '2024-01-31', TIMESTAMP '2024-01-31 12:00:00';
///  - fields: name (case-sensitive) or "any name" (for odd names or keywords);
///  - operators, loosest first: OR ||; AND &&; NOT !; comparisons = == != <> < <= > >=,
///    IS [NOT] NULL, [NOT] IN (...), [NOT] BETWEEN a AND b, [NOT] LIKE / ILIKE 'pattern';
///    + -; * / %; unary - +; x::type. Comparisons do not chain: (a < b) = c needs parentheses.
///  - `||` means OR, as in the JavaScript-like filter syntax users already write, not SQL's
///    string concatenation: join strings with concat(a, b, ...).
///  - `/` always divides in floating point; `%` is the remainder with the dividend's sign;
///    an integer remainder by zero is NULL. Integer + - * fail on overflow (a data error).
///  - CASE [x] WHEN ... THEN ... [ELSE ...] END; CAST(x AS type) and x::type with the types
///    bool/boolean, int/int32/integer, int64/bigint, double/float64/float, string/varchar/text,
///    timestamp, date. A value that does not convert is a data error.
///  - functions (any case): abs, round(x[, digits]), floor, ceil/ceiling, sqrt, power/pow, exp,
///    ln, log10, log2, sign, greatest, least, coalesce, nullif, lower, upper,
///    length/char_length, trim/ltrim/rtrim(s[, characters]), substr/substring(s, start[, len]),
///    concat(a, ...), replace, starts_with, ends_with, contains, strpos/instr, year, month, day,
///    hour, minute, second, date_trunc('unit', t), epoch_ms. Arguments that Arrow takes as
///    options (digits, substr positions, patterns, date_trunc units) must be constants.
///  - NaN compares as in DuckDB: equal to itself and greater than any other number.
namespace sluice::expr {

/// An expression ready to evaluate on batches of the schema it was compiled against.
/// Evaluate only reads it.
struct CompiledExpression {
  /// Bound to the input schema.
  arrow::compute::Expression expression;
  /// The result type; a filter's caller checks that it is boolean.
  std::shared_ptr<arrow::DataType> type;
  /// The source text, for messages.
  std::string text;
};

/// Parses `source.text` and binds it against `schema`. Every error is a config::ConfigError
/// located at the offending character through source.At(): syntax errors, an unknown field
/// (with a "did you mean" hint for a close name), an unknown function, and type errors such as
/// 'a' + 1, reported at the operator or call.
Result<CompiledExpression> Compile(const config::LocatedText& source, const arrow::Schema& schema);

/// Evaluates `expression` on a whole batch, which must have the schema it was compiled
/// against. A constant result is broadcast to batch.num_rows() rows. Conditionals (CASE,
/// AND/OR, coalesce, nullif) evaluate a branch only on the rows that select it, as in SQL, so
/// a guard such as `CASE WHEN code = 'N/A' THEN NULL ELSE CAST(code AS int64) END` guards.
/// Errors here (overflow, a failed CAST on a row whose value is used) are data errors: the
/// caller isolates the offending rows.
Result<std::shared_ptr<arrow::Array>> Evaluate(const CompiledExpression& expression,
                                               const arrow::RecordBatch& batch);

/// Parses without a schema, for validation and fuzzing: the syntax tree or a located error.
Result<NodePointer> ParseExpression(const config::LocatedText& source);

}  // namespace sluice::expr
