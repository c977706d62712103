#pragma once

#include <string>

#include "sluice/duckdb/plan.h"

namespace sluice::processors {

/// Whether a `sql` statement can run over each micro-batch on its own, read off its plan.
struct StatementShape {
  /// Each output row comes from one row of `input` alone (projections, filters, scalar
  /// functions, unnest, joins with constant tables): running the statement per batch gives the
  /// same rows whatever the batches are. Otherwise the result depends on which rows are read
  /// together (aggregates, GROUP BY, DISTINCT, ORDER BY, LIMIT, window functions, set
  /// operations, joins of `input` with itself) and the statement needs a window or the whole
  /// input.
  bool row_wise = false;
  /// Row-wise, and exactly one output row per input row, in order (projections only).
  bool one_row_per_row = false;
  /// Why the statement is not row-wise, for messages: "it aggregates", ...
  std::string reason;
};

/// The shape of the statement whose unoptimised logical plan is `plan`.
///
/// The plan rather than the text decides, because only DuckDB knows which functions are
/// aggregates (`list(x)`, a macro), what `*` or a `QUALIFY` expands to, and where a subquery
/// reads `input` again; the binder's plan names each of these as an operator. The rule is a list
/// of operators known to work row by row: anything else above a scan of `input` makes the
/// statement not row-wise, so an operator of a later DuckDB errs on the side of a whole-input
/// run rather than a result that depends on batch sizes.
StatementShape ShapeOf(const duckdb::PlanNode& plan);

}  // namespace sluice::processors
