#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/expr/ast.h"
#include "sluice/expr/binder.h"

namespace sluice::expr {

/// Binds a call whose arguments are already bound. `call` is the kCall node (for positions:
/// its children are the argument nodes).
using FunctionBinder = Result<Bound> (*)(Binder& binder, const Node& call,
                                         std::vector<Bound> arguments);

/// One built-in function of the expression language. Each maps to Arrow compute functions,
/// composed where Arrow's semantics differ from SQL's (DuckDB is the reference).
struct FunctionDefinition {
  /// Lower-case name; calls match it ignoring case.
  const char* name;
  int min_arguments;
  /// -1 for no limit.
  int max_arguments;
  /// Shown in arity errors, e.g. "round(x[, digits])".
  const char* usage;
  FunctionBinder bind;
};

/// The definition called `name` (any case), or nullptr.
const FunctionDefinition* FindFunction(std::string_view name);

/// All function names, for "did you mean" hints and documentation.
std::vector<std::string> FunctionNames();

/// "1 argument", "1 to 2 arguments", "at least 1 argument".
std::string ArgumentCountText(const FunctionDefinition& definition);

}  // namespace sluice::expr
