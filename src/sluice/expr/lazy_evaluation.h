#pragma once

#include <arrow/compute/exec.h>
#include <arrow/compute/expression.h>
#include <arrow/datum.h>

#include "sluice/common/status.h"

namespace sluice::expr {

/// Whether `expression` holds a conditional: CASE (case_when), AND and OR (and_kleene,
/// or_kleene), coalesce or if_else, whose arguments SQL evaluates only on the rows that need
/// them.
bool HasConditionals(const arrow::compute::Expression& expression);

/// Evaluates the bound `expression` over `input` the way SQL does: a conditional evaluates a
/// branch only on the rows that select it, so an error (a failed CAST, an overflow) is raised
/// only by a row whose value is used. CASE evaluates each WHEN on the rows no earlier WHEN took
/// and each THEN on the rows its WHEN took; AND and OR evaluate their right side on the rows
/// their left side does not decide; coalesce evaluates an argument on the rows still NULL;
/// if_else each side on the rows of its condition.
///
/// Each sub-expression is first evaluated on all of its rows at once, which Arrow does fastest
/// and which gives the same values wherever nothing fails; only a sub-expression that fails is
/// taken apart, its branches evaluated on the rows they are selected for (only the columns a
/// branch reads are gathered) and the results scattered back. A branch selected by every row
/// is evaluated on the rows as they are, without a copy.
Result<arrow::Datum> EvaluateLazily(const arrow::compute::Expression& expression,
                                    const arrow::compute::ExecBatch& input);

}  // namespace sluice::expr
