#pragma once

#include <arrow/compute/expression.h>
#include <arrow/compute/function_options.h>
#include <arrow/type.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/location.h"
#include "sluice/expr/ast.h"

namespace sluice::expr {

/// A bound Arrow expression and its result type. Constant sub-expressions are folded while
/// binding, so a Bound whose expression is a literal is a compile-time constant.
struct Bound {
  arrow::compute::Expression expression;
  std::shared_ptr<arrow::DataType> type;

  bool IsConstant() const { return expression.literal() != nullptr; }
  /// The constant's value; only valid when IsConstant().
  const std::shared_ptr<arrow::Scalar>& Constant() const { return expression.literal()->scalar(); }
  /// The untyped NULL literal, which takes whatever type its context needs.
  bool IsUntypedNull() const { return type->id() == arrow::Type::NA; }
};

/// Type predicates shared by the binder and the function table.
bool IsIntegerType(const arrow::DataType& type);
bool IsNumericType(const arrow::DataType& type);
bool IsStringType(const arrow::DataType& type);
bool IsTemporalType(const arrow::DataType& type);

/// Turns a syntax tree into an Arrow expression bound to one schema, applying the language's
/// typing rules (implicit conversions, SQL semantics that Arrow's kernels lack) and reporting
/// type errors at the node's position in the source. Holds references to the source and the
/// schema, which must outlive it; single-threaded.
class Binder {
 public:
  Binder(const config::LocatedText& source, const arrow::Schema& schema);

  Result<Bound> Bind(const Node& node);

  /// A configuration error located at `node`.
  Status ErrorAt(const Node& node, std::string_view message, std::string_view hint = {}) const;

  /// Calls Arrow compute function `function` and binds the call; a call whose arguments are all
  /// constants is evaluated now. Arrow refusing the argument types is reported at `at`.
  Result<Bound> Call(const Node& at, const std::string& function, std::vector<Bound> arguments,
                     std::shared_ptr<arrow::compute::FunctionOptions> options = nullptr);

  /// An implicit conversion, as when a string literal is compared with a timestamp.
  Result<Bound> Convert(const Node& at, Bound value, const std::shared_ptr<arrow::DataType>& type);

  /// CAST(value AS type): the SQL conversion, which rounds floating-point numbers to integers
  /// and ignores blanks around strings parsed as numbers. Refuses conversions SQL refuses.
  Result<Bound> CastExplicitly(const Node& at, Bound value,
                               const std::shared_ptr<arrow::DataType>& type);

  /// Converts all `values` to one type (numbers widen to int64 or double, string literals adapt
  /// to the other values' type). `what` names the construct in the error, e.g. "coalesce()".
  /// Returns the null type when every value is an untyped NULL.
  Result<std::shared_ptr<arrow::DataType>> Unify(const Node& at, std::vector<Bound>* values,
                                                 std::string_view what);

  /// A comparison (`function` is "equal", "less", ...) after unifying the operand types.
  Result<Bound> Compare(const Node& at, const std::string& function, Bound left, Bound right);

  /// Combines `operands` with the binary, associative `function` as a balanced tree, so that
  /// a long list stays shallow for Arrow's recursive binding and execution.
  Result<Bound> Reduce(const Node& at, const std::string& function, std::vector<Bound> operands);

  static Bound Constant(std::shared_ptr<arrow::Scalar> value);
  static Bound NullOf(const std::shared_ptr<arrow::DataType>& type);

 private:
  Result<Bound> BindField(const Node& node);
  Result<Bound> BindLiteral(const Node& node);
  Result<Bound> BindUnary(const Node& node);
  Result<Bound> BindBinary(const Node& node);
  Result<Bound> BindArithmetic(const Node& node, Bound left, Bound right);
  Result<Bound> BindCall(const Node& node);
  Result<Bound> BindCast(const Node& node);
  Result<Bound> BindCase(const Node& node);
  Result<Bound> BindIn(const Node& node);
  Result<Bound> BindBetween(const Node& node);
  Result<Bound> BindLike(const Node& node);
  Result<Bound> BindIsNull(const Node& node);
  Result<Bound> CompareFloatingPoint(const Node& at, const std::string& function, Bound left,
                                     Bound right);
  Result<Bound> RequireBoolean(const Node& at, Bound value, std::string_view what);
  Result<Bound> Not(const Node& at, Bound value);

  const config::LocatedText& source_;
  const arrow::Schema& schema_;
};

}  // namespace sluice::expr
