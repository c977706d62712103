#include "sluice/expr/expression.h"

#include <arrow/array/util.h>
#include <arrow/compute/exec.h>
#include <arrow/compute/initialize.h>
#include <arrow/compute/registry.h>

#include <mutex>

#include "sluice/expr/binder.h"
#include "sluice/expr/lazy_evaluation.h"
#include "sluice/expr/parser.h"
#include "sluice/expr/sql_kernels.h"

namespace sluice::expr {

namespace {

/// Arrow's kernels must be registered before any expression binds, and the language needs a
/// few of its own (sql_kernels.h). Those go into the default registry, not a private one,
/// because bound expressions travel to code (Acero plans, simplification passes) that looks
/// functions up there by name.
Status InitializeFunctions() {
  static const Status status = [] {
    SLUICE_RETURN_NOT_OK(arrow::compute::Initialize());
    auto* registry = arrow::compute::GetFunctionRegistry();
    if (registry->GetFunction(kModuloFunction).ok()) return Status::OK();
    return RegisterSqlKernels(registry);
  }();
  return status;
}

/// Checks that the fields `expression` reads are where, and of the type, they were when it was
/// bound, so that a batch of another schema is an error rather than a misread buffer.
Status CheckInputs(const arrow::compute::Expression& expression, const arrow::RecordBatch& batch) {
  if (const auto* parameter = expression.parameter()) {
    if (parameter->indices.empty()) return Status::OK();
    const int index = parameter->indices[0];
    if (index >= batch.num_columns() ||
        !batch.column(index)->type()->Equals(*parameter->type.type)) {
      return Status::Invalid(
          "batch does not match the schema the expression was compiled against: field ",
          parameter->ref.ToString());
    }
    return Status::OK();
  }
  if (const auto* call = expression.call()) {
    for (const auto& argument : call->arguments) SLUICE_RETURN_NOT_OK(CheckInputs(argument, batch));
  }
  return Status::OK();
}

}  // namespace

Result<NodePointer> ParseExpression(const config::LocatedText& source) { return Parse(source); }

Result<CompiledExpression> Compile(const config::LocatedText& source, const arrow::Schema& schema) {
  SLUICE_RETURN_NOT_OK(InitializeFunctions());
  SLUICE_ASSIGN_OR_RAISE(NodePointer tree, Parse(source));
  Binder binder(source, schema);
  SLUICE_ASSIGN_OR_RAISE(Bound bound, binder.Bind(*tree));
  return CompiledExpression{std::move(bound.expression), std::move(bound.type), source.text};
}

Result<std::shared_ptr<arrow::Array>> Evaluate(const CompiledExpression& expression,
                                               const arrow::RecordBatch& batch) {
  if (!expression.expression.IsBound())
    return Status::Invalid("expression '", expression.text, "' is not compiled");
  SLUICE_RETURN_NOT_OK(CheckInputs(expression.expression, batch));
  SLUICE_ASSIGN_OR_RAISE(arrow::Datum result,
                         EvaluateLazily(expression.expression, arrow::compute::ExecBatch(batch)));
  if (result.is_array()) return result.make_array();
  if (result.is_scalar()) return arrow::MakeArrayFromScalar(*result.scalar(), batch.num_rows());
  return Status::Invalid("expression '", expression.text, "' did not evaluate to an array");
}

}  // namespace sluice::expr
