#include "sluice/expr/binder.h"

#include <arrow/array/builder_base.h>
#include <arrow/compute/api_scalar.h>
#include <arrow/compute/cast.h>
#include <arrow/scalar.h>
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "sluice/expr/diagnostic.h"
#include "sluice/expr/functions.h"
#include "sluice/expr/sql_kernels.h"

namespace sluice::expr {

namespace compute = arrow::compute;

namespace {

std::shared_ptr<arrow::DataType> TypeOf(const compute::Expression& expression) {
  if (const auto* literal = expression.literal()) return literal->type();
  if (const auto* parameter = expression.parameter()) return parameter->type.GetSharedPtr();
  return expression.call()->type.GetSharedPtr();
}

std::string Lowercase(std::string_view text) {
  std::string lowered(text);
  for (char& c : lowered) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return lowered;
}

/// The timestamp resolution of SQL's TIMESTAMP (and of DuckDB's).
std::shared_ptr<arrow::DataType> SqlTimestamp() { return arrow::timestamp(arrow::TimeUnit::MICRO); }

struct TypeName {
  const char* name;
  std::shared_ptr<arrow::DataType> (*make)();
};

const TypeName kTypeNames[] = {
    {"bool", [] { return arrow::boolean(); }},    {"boolean", [] { return arrow::boolean(); }},
    {"int32", [] { return arrow::int32(); }},     {"integer", [] { return arrow::int32(); }},
    {"int", [] { return arrow::int32(); }},       {"int64", [] { return arrow::int64(); }},
    {"bigint", [] { return arrow::int64(); }},    {"double", [] { return arrow::float64(); }},
    {"float64", [] { return arrow::float64(); }}, {"float", [] { return arrow::float64(); }},
    {"string", [] { return arrow::utf8(); }},     {"varchar", [] { return arrow::utf8(); }},
    {"text", [] { return arrow::utf8(); }},       {"timestamp", SqlTimestamp},
    {"date", [] { return arrow::date32(); }},
};

std::string ConstantText(const arrow::Scalar& scalar) {
  if (IsStringType(*scalar.type) && scalar.is_valid) {
    return fmt::format("'{}'", static_cast<const arrow::BaseBinaryScalar&>(scalar).view());
  }
  return scalar.ToString();
}

/// Whether `type` orders and compares with itself under Arrow's comparison kernels.
bool IsComparableType(const arrow::DataType& type) {
  return IsNumericType(type) || IsStringType(type) || IsTemporalType(type) ||
         type.id() == arrow::Type::BOOL;
}

bool IsStringConstant(const Bound& value) {
  return value.IsConstant() && IsStringType(*value.type);
}

/// The type both values convert to, or null if there is none.
std::shared_ptr<arrow::DataType> Widen(const std::shared_ptr<arrow::DataType>& left,
                                       const std::shared_ptr<arrow::DataType>& right) {
  if (left->Equals(*right)) return left;
  if (IsNumericType(*left) && IsNumericType(*right)) {
    return IsIntegerType(*left) && IsIntegerType(*right) ? arrow::int64() : arrow::float64();
  }
  if (IsStringType(*left) && IsStringType(*right)) {
    return left->id() == arrow::Type::LARGE_STRING ? left : right;
  }
  if (IsTemporalType(*left) && IsTemporalType(*right)) {
    if (left->id() != arrow::Type::TIMESTAMP)
      return right->id() == arrow::Type::TIMESTAMP ? right : arrow::date32();
    if (right->id() != arrow::Type::TIMESTAMP) return left;
    const auto& left_timestamp = static_cast<const arrow::TimestampType&>(*left);
    const auto& right_timestamp = static_cast<const arrow::TimestampType&>(*right);
    if (left_timestamp.timezone() != right_timestamp.timezone()) return nullptr;
    return left_timestamp.unit() >= right_timestamp.unit() ? left : right;
  }
  return nullptr;
}

}  // namespace

bool IsIntegerType(const arrow::DataType& type) { return arrow::is_integer(type.id()); }
bool IsNumericType(const arrow::DataType& type) {
  return arrow::is_integer(type.id()) || type.id() == arrow::Type::FLOAT ||
         type.id() == arrow::Type::DOUBLE;
}
bool IsStringType(const arrow::DataType& type) {
  return type.id() == arrow::Type::STRING || type.id() == arrow::Type::LARGE_STRING;
}
bool IsTemporalType(const arrow::DataType& type) {
  return type.id() == arrow::Type::DATE32 || type.id() == arrow::Type::DATE64 ||
         type.id() == arrow::Type::TIMESTAMP;
}

Binder::Binder(const config::LocatedText& source, const arrow::Schema& schema)
    : source_(source), schema_(schema) {}

Status Binder::ErrorAt(const Node& node, std::string_view message, std::string_view hint) const {
  return expr::ErrorAt(source_, node.offset, message, hint);
}

Bound Binder::Constant(std::shared_ptr<arrow::Scalar> value) {
  auto type = value->type;
  return Bound{compute::literal(std::move(value)), std::move(type)};
}

Bound Binder::NullOf(const std::shared_ptr<arrow::DataType>& type) {
  return Constant(arrow::MakeNullScalar(type));
}

Result<Bound> Binder::Call(const Node& at, const std::string& function,
                           std::vector<Bound> arguments,
                           std::shared_ptr<compute::FunctionOptions> options) {
  std::vector<compute::Expression> expressions;
  expressions.reserve(arguments.size());
  bool all_constant = true;
  std::string types;
  for (auto& argument : arguments) {
    all_constant = all_constant && argument.IsConstant();
    if (!types.empty()) types += ", ";
    types += argument.type->ToString();
    expressions.push_back(std::move(argument.expression));
  }
  auto bound = compute::call(function, std::move(expressions), std::move(options)).Bind(schema_);
  if (!bound.ok()) {
    return ErrorAt(at, fmt::format("cannot apply {} to ({})", function, types),
                   bound.status().message());
  }
  compute::Expression expression = bound.MoveValueUnsafe();
  if (all_constant) {
    auto folded = compute::FoldConstants(expression);
    if (!folded.ok()) {
      return ErrorAt(at,
                     fmt::format("this constant expression fails: {}", folded.status().message()));
    }
    expression = folded.MoveValueUnsafe();
  }
  auto type = TypeOf(expression);
  return Bound{std::move(expression), std::move(type)};
}

Result<Bound> Binder::Convert(const Node& at, Bound value,
                              const std::shared_ptr<arrow::DataType>& type) {
  if (value.type->Equals(*type)) return value;
  if (value.IsConstant()) {
    const auto& scalar = value.Constant();
    if (!scalar->is_valid) return NullOf(type);
    auto converted = compute::Cast(scalar, type, compute::CastOptions::Safe());
    if (!converted.ok()) {
      return ErrorAt(
          at, fmt::format("cannot convert {} to {}", ConstantText(*scalar), type->ToString()),
          converted.status().message());
    }
    return Constant(converted->scalar());
  }
  return Call(at, "cast", {std::move(value)},
              std::make_shared<compute::CastOptions>(compute::CastOptions::Safe(type)));
}

Result<Bound> Binder::CastExplicitly(const Node& at, Bound value,
                                     const std::shared_ptr<arrow::DataType>& type) {
  const auto& from = *value.type;
  if (value.IsUntypedNull()) return NullOf(type);
  if (from.Equals(*type)) return value;
  // A timestamp of any resolution or zone already is a TIMESTAMP.
  if (from.id() == arrow::Type::TIMESTAMP && type->id() == arrow::Type::TIMESTAMP) return value;
  const bool from_scalar = IsNumericType(from) || from.id() == arrow::Type::BOOL;
  const bool to_scalar = IsNumericType(*type) || type->id() == arrow::Type::BOOL;
  if (IsStringType(from) && (to_scalar || IsTemporalType(*type))) {
    // SQL accepts ' 42 ' as a number; Arrow's parsers do not.
    SLUICE_ASSIGN_OR_RAISE(value, Call(at, "utf8_trim_whitespace", {std::move(value)}));
    return Convert(at, std::move(value), type);
  }
  if (from_scalar && to_scalar) {
    if (!IsIntegerType(from) && IsIntegerType(*type) && from.id() != arrow::Type::BOOL) {
      // DuckDB rounds a DOUBLE to the nearest integer, halves to even (62.5 -> 62); Arrow
      // would refuse to truncate.
      SLUICE_ASSIGN_OR_RAISE(value, Call(at, "round", {std::move(value)},
                                         std::make_shared<compute::RoundOptions>(
                                             0, compute::RoundMode::HALF_TO_EVEN)));
    }
    return Convert(at, std::move(value), type);
  }
  if (IsStringType(*type) && (from_scalar || IsTemporalType(from) || IsStringType(from))) {
    if (from.id() == arrow::Type::DOUBLE) {
      // Arrow prints 1.0 as "1"; DuckDB as "1.0".
      SLUICE_ASSIGN_OR_RAISE(value, Call(at, kDoubleToStringFunction, {std::move(value)}));
    }
    const bool timestamp = from.id() == arrow::Type::TIMESTAMP;
    SLUICE_ASSIGN_OR_RAISE(value, Convert(at, std::move(value), type));
    if (timestamp) {
      // Arrow prints every fractional digit of the unit ("10:00:00.500000"); DuckDB drops
      // trailing zeros and a zero fraction ("10:00:00.5", "10:00:00").
      SLUICE_ASSIGN_OR_RAISE(value, Call(at, "replace_substring_regex", {std::move(value)},
                                         std::make_shared<compute::ReplaceSubstringOptions>(
                                             R"((\.[0-9]*[1-9])0+$|\.0+$)", R"(\1)")));
    }
    return value;
  }
  if (IsTemporalType(from) && IsTemporalType(*type)) return Convert(at, std::move(value), type);
  return ErrorAt(at, fmt::format("cannot cast {} to {}", from.ToString(), type->ToString()));
}

Result<std::shared_ptr<arrow::DataType>> Binder::Unify(const Node& at, std::vector<Bound>* values,
                                                       std::string_view what) {
  std::shared_ptr<arrow::DataType> common;
  bool has_string_constant = false;
  for (const auto& value : *values) {
    if (value.IsUntypedNull()) continue;
    // A string literal takes the type of what it meets ('2024-01-01' next to a timestamp).
    if (IsStringConstant(value)) {
      has_string_constant = true;
      continue;
    }
    if (!common) {
      common = value.type;
      continue;
    }
    auto widened = Widen(common, value.type);
    if (!widened) {
      return ErrorAt(at, fmt::format("{} mixes incompatible types {} and {}", what,
                                     common->ToString(), value.type->ToString()));
    }
    common = std::move(widened);
  }
  if (!common) common = has_string_constant ? arrow::utf8() : arrow::null();
  if (common->id() == arrow::Type::NA) return common;
  for (auto& value : *values) {
    SLUICE_ASSIGN_OR_RAISE(value, Convert(at, std::move(value), common));
  }
  return common;
}

Result<Bound> Binder::Compare(const Node& at, const std::string& function, Bound left,
                              Bound right) {
  std::vector<Bound> operands{std::move(left), std::move(right)};
  SLUICE_ASSIGN_OR_RAISE(auto type, Unify(at, &operands, "comparison"));
  if (type->id() == arrow::Type::NA) return NullOf(arrow::boolean());
  if (!IsComparableType(*type))
    return ErrorAt(at, fmt::format("cannot compare values of type {}", type->ToString()));
  if (arrow::is_floating(type->id())) {
    return CompareFloatingPoint(at, function, std::move(operands[0]), std::move(operands[1]));
  }
  return Call(at, function, std::move(operands));
}

Result<Bound> Binder::CompareFloatingPoint(const Node& at, const std::string& function, Bound left,
                                           Bound right) {
  // DuckDB orders NaN above every number (infinity included) and equal to itself, where
  // IEEE comparisons (Arrow's) are false. So compare the pairs (is NaN, value with NaN
  // zeroed) lexicographically. The plain (not Kleene) AND/OR keep the result NULL exactly
  // when either side is NULL.
  if (function == "greater")
    return CompareFloatingPoint(at, "less", std::move(right), std::move(left));
  if (function == "greater_equal")
    return CompareFloatingPoint(at, "less_equal", std::move(right), std::move(left));
  if (function == "not_equal") {
    SLUICE_ASSIGN_OR_RAISE(Bound equal,
                           CompareFloatingPoint(at, "equal", std::move(left), std::move(right)));
    return Not(at, std::move(equal));
  }
  if (function == "less_equal") {
    SLUICE_ASSIGN_OR_RAISE(Bound greater,
                           CompareFloatingPoint(at, "less", std::move(right), std::move(left)));
    return Not(at, std::move(greater));
  }
  SLUICE_ASSIGN_OR_RAISE(Bound left_nan, Call(at, "is_nan", {left}));
  SLUICE_ASSIGN_OR_RAISE(Bound right_nan, Call(at, "is_nan", {right}));
  SLUICE_ASSIGN_OR_RAISE(
      Bound zero, Convert(at, Constant(std::make_shared<arrow::DoubleScalar>(0)), left.type));
  SLUICE_ASSIGN_OR_RAISE(Bound left_value, Call(at, "if_else", {left_nan, zero, std::move(left)}));
  SLUICE_ASSIGN_OR_RAISE(Bound right_value,
                         Call(at, "if_else", {right_nan, zero, std::move(right)}));
  SLUICE_ASSIGN_OR_RAISE(Bound same_kind, Call(at, "equal", {left_nan, right_nan}));
  SLUICE_ASSIGN_OR_RAISE(Bound values_compare,
                         Call(at, function, {std::move(left_value), std::move(right_value)}));
  SLUICE_ASSIGN_OR_RAISE(Bound tie,
                         Call(at, "and", {std::move(same_kind), std::move(values_compare)}));
  if (function == "equal") return tie;
  // less: a number is below NaN; otherwise the values decide.
  SLUICE_ASSIGN_OR_RAISE(Bound kinds_compare,
                         Call(at, "less", {std::move(left_nan), std::move(right_nan)}));
  return Call(at, "or", {std::move(kinds_compare), std::move(tie)});
}

Result<Bound> Binder::Reduce(const Node& at, const std::string& function,
                             std::vector<Bound> operands) {
  while (operands.size() > 1) {
    std::vector<Bound> next;
    for (size_t i = 0; i + 1 < operands.size(); i += 2) {
      SLUICE_ASSIGN_OR_RAISE(
          Bound combined, Call(at, function, {std::move(operands[i]), std::move(operands[i + 1])}));
      next.push_back(std::move(combined));
    }
    if (operands.size() % 2 == 1) next.push_back(std::move(operands.back()));
    operands = std::move(next);
  }
  return std::move(operands.front());
}

Result<Bound> Binder::RequireBoolean(const Node& at, Bound value, std::string_view what) {
  if (value.IsUntypedNull()) return NullOf(arrow::boolean());
  if (value.type->id() != arrow::Type::BOOL) {
    return ErrorAt(at, fmt::format("{} needs a boolean, got {}", what, value.type->ToString()));
  }
  return value;
}

Result<Bound> Binder::Not(const Node& at, Bound value) {
  return Call(at, "invert", {std::move(value)});
}

Result<Bound> Binder::Bind(const Node& node) {
  switch (node.kind) {
    case NodeKind::kLiteral:
      return BindLiteral(node);
    case NodeKind::kField:
      return BindField(node);
    case NodeKind::kUnary:
      return BindUnary(node);
    case NodeKind::kBinary:
      return BindBinary(node);
    case NodeKind::kCall:
      return BindCall(node);
    case NodeKind::kCast:
      return BindCast(node);
    case NodeKind::kCase:
      return BindCase(node);
    case NodeKind::kIn:
      return BindIn(node);
    case NodeKind::kBetween:
      return BindBetween(node);
    case NodeKind::kLike:
      return BindLike(node);
    case NodeKind::kIsNull:
      return BindIsNull(node);
  }
  return ErrorAt(node, "unsupported expression");
}

Result<Bound> Binder::BindLiteral(const Node& node) {
  struct Visitor {
    std::shared_ptr<arrow::Scalar> operator()(std::monostate) const {
      return std::make_shared<arrow::NullScalar>();
    }
    std::shared_ptr<arrow::Scalar> operator()(bool value) const {
      return std::make_shared<arrow::BooleanScalar>(value);
    }
    std::shared_ptr<arrow::Scalar> operator()(int64_t value) const {
      return std::make_shared<arrow::Int64Scalar>(value);
    }
    std::shared_ptr<arrow::Scalar> operator()(double value) const {
      return std::make_shared<arrow::DoubleScalar>(value);
    }
    std::shared_ptr<arrow::Scalar> operator()(const std::string& value) const {
      return std::make_shared<arrow::StringScalar>(value);
    }
  };
  return Constant(std::visit(Visitor{}, node.literal));
}

Result<Bound> Binder::BindField(const Node& node) {
  const std::vector<int> indices = schema_.GetAllFieldIndices(node.name);
  if (indices.empty()) {
    std::vector<std::string> names;
    for (const auto& field : schema_.fields()) names.push_back(field->name());
    std::string hint = DidYouMean(node.name, names);
    if (hint.empty() && !names.empty() && names.size() <= 12) {
      hint = "fields are: " + fmt::format("{}", fmt::join(names, ", "));
    }
    return ErrorAt(node, fmt::format("unknown field '{}'", node.name), hint);
  }
  if (indices.size() > 1)
    return ErrorAt(node, fmt::format("field name '{}' is ambiguous", node.name));
  auto bound = compute::field_ref(node.name).Bind(schema_);
  if (!bound.ok()) return ErrorAt(node, bound.status().message());
  auto type = TypeOf(*bound);
  return Bound{bound.MoveValueUnsafe(), std::move(type)};
}

Result<Bound> Binder::BindUnary(const Node& node) {
  SLUICE_ASSIGN_OR_RAISE(Bound operand, Bind(*node.children[0]));
  if (node.unary_operator == UnaryOperator::kNot) {
    SLUICE_ASSIGN_OR_RAISE(operand, RequireBoolean(node, std::move(operand), "NOT"));
    return Not(node, std::move(operand));
  }
  if (operand.IsUntypedNull()) return NullOf(arrow::int64());
  if (!IsNumericType(*operand.type)) {
    return ErrorAt(node,
                   fmt::format("unary {} needs a number, got {}",
                               node.unary_operator == UnaryOperator::kNegate ? "minus" : "plus",
                               operand.type->ToString()));
  }
  if (node.unary_operator == UnaryOperator::kPlus) return operand;
  const bool integer = IsIntegerType(*operand.type);
  return Call(node, integer ? "negate_checked" : "negate", {std::move(operand)});
}

Result<Bound> Binder::BindBinary(const Node& node) {
  SLUICE_ASSIGN_OR_RAISE(Bound left, Bind(*node.children[0]));
  SLUICE_ASSIGN_OR_RAISE(Bound right, Bind(*node.children[1]));
  switch (node.binary_operator) {
    case BinaryOperator::kAnd:
    case BinaryOperator::kOr: {
      const bool is_and = node.binary_operator == BinaryOperator::kAnd;
      SLUICE_ASSIGN_OR_RAISE(left, RequireBoolean(node, std::move(left), is_and ? "AND" : "OR"));
      SLUICE_ASSIGN_OR_RAISE(right, RequireBoolean(node, std::move(right), is_and ? "AND" : "OR"));
      // The Kleene variants give SQL's three-valued logic: NULL AND FALSE is FALSE.
      return Call(node, is_and ? "and_kleene" : "or_kleene", {std::move(left), std::move(right)});
    }
    case BinaryOperator::kEqual:
      return Compare(node, "equal", std::move(left), std::move(right));
    case BinaryOperator::kNotEqual:
      return Compare(node, "not_equal", std::move(left), std::move(right));
    case BinaryOperator::kLess:
      return Compare(node, "less", std::move(left), std::move(right));
    case BinaryOperator::kLessEqual:
      return Compare(node, "less_equal", std::move(left), std::move(right));
    case BinaryOperator::kGreater:
      return Compare(node, "greater", std::move(left), std::move(right));
    case BinaryOperator::kGreaterEqual:
      return Compare(node, "greater_equal", std::move(left), std::move(right));
    default:
      return BindArithmetic(node, std::move(left), std::move(right));
  }
}

Result<Bound> Binder::BindArithmetic(const Node& node, Bound left, Bound right) {
  const BinaryOperator op = node.binary_operator;
  // An untyped NULL takes the other operand's type, so that the kernels see real types.
  if (left.IsUntypedNull() && right.IsUntypedNull()) {
    left = NullOf(arrow::int64());
    right = NullOf(arrow::int64());
  } else if (left.IsUntypedNull() && IsNumericType(*right.type)) {
    left = NullOf(right.type);
  } else if (right.IsUntypedNull() && IsNumericType(*left.type)) {
    right = NullOf(left.type);
  }
  if (!IsNumericType(*left.type) || !IsNumericType(*right.type)) {
    std::string hint;
    if (op == BinaryOperator::kAdd && (IsStringType(*left.type) || IsStringType(*right.type))) {
      hint = "join strings with concat(a, b)";
    }
    return ErrorAt(node,
                   fmt::format("operator {} cannot be applied to {} and {}", OperatorSymbol(op),
                               left.type->ToString(), right.type->ToString()),
                   hint);
  }
  const bool integers = IsIntegerType(*left.type) && IsIntegerType(*right.type);
  if (!integers && !left.type->Equals(*right.type)) {
    // Widen to double ourselves: Arrow would narrow a double literal to a float32 operand's
    // type and lose precision.
    SLUICE_ASSIGN_OR_RAISE(left, Convert(node, std::move(left), arrow::float64()));
    SLUICE_ASSIGN_OR_RAISE(right, Convert(node, std::move(right), arrow::float64()));
  }
  switch (op) {
    case BinaryOperator::kAdd:
      return Call(node, "add_checked", {std::move(left), std::move(right)});
    case BinaryOperator::kSubtract:
      return Call(node, "subtract_checked", {std::move(left), std::move(right)});
    case BinaryOperator::kMultiply:
      return Call(node, "multiply_checked", {std::move(left), std::move(right)});
    case BinaryOperator::kDivide: {
      // '/' always divides in floating point (as in DuckDB): 1 / 2 is 0.5 and 1 / 0 is
      // infinity, not an error.
      SLUICE_ASSIGN_OR_RAISE(left, Convert(node, std::move(left), arrow::float64()));
      SLUICE_ASSIGN_OR_RAISE(right, Convert(node, std::move(right), arrow::float64()));
      return Call(node, "divide", {std::move(left), std::move(right)});
    }
    case BinaryOperator::kModulo: {
      const auto type = integers ? arrow::int64() : arrow::float64();
      SLUICE_ASSIGN_OR_RAISE(left, Convert(node, std::move(left), type));
      SLUICE_ASSIGN_OR_RAISE(right, Convert(node, std::move(right), type));
      return Call(node, kModuloFunction, {std::move(left), std::move(right)});
    }
    default:
      return ErrorAt(node, "unsupported operator");
  }
}

Result<Bound> Binder::BindCall(const Node& node) {
  const FunctionDefinition* definition = FindFunction(node.name);
  if (definition == nullptr) {
    return ErrorAt(node, fmt::format("unknown function '{}'", node.name),
                   DidYouMean(node.name, FunctionNames()));
  }
  const int count = static_cast<int>(node.children.size());
  if (count < definition->min_arguments ||
      (definition->max_arguments >= 0 && count > definition->max_arguments)) {
    return ErrorAt(node,
                   fmt::format("{}() takes {} but was given {}", definition->name,
                               ArgumentCountText(*definition), count),
                   fmt::format("usage: {}", definition->usage));
  }
  std::vector<Bound> arguments;
  arguments.reserve(node.children.size());
  for (const auto& child : node.children) {
    SLUICE_ASSIGN_OR_RAISE(Bound argument, Bind(*child));
    arguments.push_back(std::move(argument));
  }
  return definition->bind(*this, node, std::move(arguments));
}

Result<Bound> Binder::BindCast(const Node& node) {
  const std::string name = Lowercase(node.name);
  const auto* type_name =
      std::find_if(std::begin(kTypeNames), std::end(kTypeNames),
                   [&](const TypeName& candidate) { return name == candidate.name; });
  if (type_name == std::end(kTypeNames)) {
    std::vector<std::string> names;
    for (const auto& candidate : kTypeNames) names.emplace_back(candidate.name);
    std::string hint = DidYouMean(node.name, names);
    if (hint.empty()) hint = "types are: " + fmt::format("{}", fmt::join(names, ", "));
    return expr::ErrorAt(source_, node.name_offset, fmt::format("unknown type '{}'", node.name),
                         hint);
  }
  SLUICE_ASSIGN_OR_RAISE(Bound operand, Bind(*node.children[0]));
  return CastExplicitly(node, std::move(operand), type_name->make());
}

Result<Bound> Binder::BindCase(const Node& node) {
  size_t index = 0;
  std::optional<Bound> operand;
  if (node.has_operand) {
    SLUICE_ASSIGN_OR_RAISE(operand, Bind(*node.children[index++]));
  }
  const size_t end = node.children.size() - (node.has_else ? 1 : 0);
  std::vector<Bound> conditions;
  std::vector<Bound> values;
  for (; index + 1 < end; index += 2) {
    const Node& when = *node.children[index];
    SLUICE_ASSIGN_OR_RAISE(Bound condition, Bind(when));
    if (operand) {
      // CASE x WHEN v is x = v, so a NULL x matches no branch.
      SLUICE_ASSIGN_OR_RAISE(condition, Compare(when, "equal", *operand, std::move(condition)));
    } else {
      SLUICE_ASSIGN_OR_RAISE(condition, RequireBoolean(when, std::move(condition), "WHEN"));
    }
    conditions.push_back(std::move(condition));
    SLUICE_ASSIGN_OR_RAISE(Bound value, Bind(*node.children[index + 1]));
    values.push_back(std::move(value));
  }
  if (node.has_else) {
    SLUICE_ASSIGN_OR_RAISE(Bound value, Bind(*node.children[end]));
    values.push_back(std::move(value));
  }
  SLUICE_ASSIGN_OR_RAISE(auto type, Unify(node, &values, "CASE"));
  if (type->id() == arrow::Type::NA) return NullOf(type);
  std::vector<std::string> names;
  for (size_t i = 0; i < conditions.size(); ++i) names.push_back(std::to_string(i));
  // case_when takes its conditions as one struct; a NULL condition counts as false, as in SQL.
  SLUICE_ASSIGN_OR_RAISE(Bound packed,
                         Call(node, "make_struct", std::move(conditions),
                              std::make_shared<compute::MakeStructOptions>(std::move(names))));
  std::vector<Bound> arguments;
  arguments.push_back(std::move(packed));
  for (auto& value : values) arguments.push_back(std::move(value));
  return Call(node, "case_when", std::move(arguments));
}

Result<Bound> Binder::BindIn(const Node& node) {
  std::vector<Bound> values;
  bool all_constant = true;
  for (const auto& child : node.children) {
    SLUICE_ASSIGN_OR_RAISE(Bound value, Bind(*child));
    if (&child != &node.children.front()) all_constant = all_constant && value.IsConstant();
    values.push_back(std::move(value));
  }
  SLUICE_ASSIGN_OR_RAISE(auto type, Unify(node, &values, "IN"));
  if (type->id() == arrow::Type::NA) return NullOf(arrow::boolean());
  if (!IsComparableType(*type))
    return ErrorAt(node, fmt::format("IN cannot compare values of type {}", type->ToString()));
  Bound result;
  if (all_constant) {
    // A hash lookup. INCONCLUSIVE gives SQL's answer: NULL, not false, when the list holds a
    // NULL and the value is not found.
    SLUICE_ASSIGN_OR_RAISE(auto builder, arrow::MakeBuilder(type));
    for (size_t i = 1; i < values.size(); ++i)
      SLUICE_RETURN_NOT_OK(builder->AppendScalar(*values[i].Constant()));
    SLUICE_ASSIGN_OR_RAISE(auto value_set, builder->Finish());
    auto options = std::make_shared<compute::SetLookupOptions>(
        value_set, compute::SetLookupOptions::NullMatchingBehavior::INCONCLUSIVE);
    SLUICE_ASSIGN_OR_RAISE(result, Call(node, "is_in", {std::move(values[0])}, std::move(options)));
  } else {
    // x IN (a, b) is x = a OR x = b.
    std::vector<Bound> comparisons;
    for (size_t i = 1; i < values.size(); ++i) {
      SLUICE_ASSIGN_OR_RAISE(Bound comparison,
                             Compare(node, "equal", values[0], std::move(values[i])));
      comparisons.push_back(std::move(comparison));
    }
    SLUICE_ASSIGN_OR_RAISE(result, Reduce(node, "or_kleene", std::move(comparisons)));
  }
  if (node.negated) return Not(node, std::move(result));
  return result;
}

Result<Bound> Binder::BindBetween(const Node& node) {
  SLUICE_ASSIGN_OR_RAISE(Bound value, Bind(*node.children[0]));
  SLUICE_ASSIGN_OR_RAISE(Bound low, Bind(*node.children[1]));
  SLUICE_ASSIGN_OR_RAISE(Bound high, Bind(*node.children[2]));
  SLUICE_ASSIGN_OR_RAISE(Bound above, Compare(node, "greater_equal", value, std::move(low)));
  SLUICE_ASSIGN_OR_RAISE(Bound below,
                         Compare(node, "less_equal", std::move(value), std::move(high)));
  SLUICE_ASSIGN_OR_RAISE(Bound result,
                         Call(node, "and_kleene", {std::move(above), std::move(below)}));
  if (node.negated) return Not(node, std::move(result));
  return result;
}

Result<Bound> Binder::BindLike(const Node& node) {
  SLUICE_ASSIGN_OR_RAISE(Bound value, Bind(*node.children[0]));
  const Node& pattern_node = *node.children[1];
  SLUICE_ASSIGN_OR_RAISE(Bound pattern, Bind(pattern_node));
  const char* keyword = node.case_insensitive ? "ILIKE" : "LIKE";
  if (!pattern.IsConstant()) {
    return ErrorAt(pattern_node, fmt::format("the {} pattern must be a constant string", keyword));
  }
  if (!pattern.IsUntypedNull() && !IsStringType(*pattern.type)) {
    return ErrorAt(pattern_node, fmt::format("the {} pattern must be a string, got {}", keyword,
                                             pattern.type->ToString()));
  }
  if (value.IsUntypedNull() || !pattern.Constant()->is_valid) return NullOf(arrow::boolean());
  if (!IsStringType(*value.type)) {
    return ErrorAt(node, fmt::format("{} needs a string, got {}", keyword, value.type->ToString()),
                   "convert it first, e.g. CAST(x AS string)");
  }
  // SQL's LIKE has no escape character unless one is declared, but Arrow's treats '\' as one:
  // double every backslash so that it matches itself.
  std::string arrow_pattern;
  for (char c : static_cast<const arrow::BaseBinaryScalar&>(*pattern.Constant()).view()) {
    if (c == '\\') arrow_pattern += '\\';
    arrow_pattern += c;
  }
  SLUICE_ASSIGN_OR_RAISE(Bound result, Call(node, "match_like", {std::move(value)},
                                            std::make_shared<compute::MatchSubstringOptions>(
                                                arrow_pattern, node.case_insensitive)));
  if (node.negated) return Not(node, std::move(result));
  return result;
}

Result<Bound> Binder::BindIsNull(const Node& node) {
  SLUICE_ASSIGN_OR_RAISE(Bound value, Bind(*node.children[0]));
  if (value.IsUntypedNull()) value = NullOf(arrow::boolean());
  // NaN is a value, not a NULL, as in DuckDB.
  return Call(node, node.negated ? "is_valid" : "is_null", {std::move(value)});
}

}  // namespace sluice::expr
