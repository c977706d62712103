#include "sluice/expr/lazy_evaluation.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace sluice::expr {

namespace compute = arrow::compute;
using arrow::Datum;
using compute::ExecBatch;
using compute::Expression;

namespace {

enum class Conditional { kNone, kCase, kAnd, kOr, kCoalesce, kIfElse };

Conditional KindOf(const Expression::Call& call) {
  const std::string& name = call.function_name;
  if (name == "case_when") return Conditional::kCase;
  if (name == "and_kleene") return Conditional::kAnd;
  if (name == "or_kleene") return Conditional::kOr;
  if (name == "coalesce") return Conditional::kCoalesce;
  if (name == "if_else") return Conditional::kIfElse;
  return Conditional::kNone;
}

void CollectColumns(const Expression& expression, std::set<int>* columns) {
  if (const auto* parameter = expression.parameter()) {
    if (!parameter->indices.empty()) columns->insert(parameter->indices[0]);
    return;
  }
  if (const auto* call = expression.call()) {
    for (const auto& argument : call->arguments) CollectColumns(argument, columns);
  }
}

/// Some rows of an input, by their positions in it (ascending).
struct Rows {
  std::vector<int64_t> positions;
  /// Every row of the input, in order: the input is used as it is.
  bool all = false;

  int64_t size() const { return static_cast<int64_t>(positions.size()); }
  bool empty() const { return positions.empty(); }

  static Rows All(int64_t length) {
    Rows rows;
    rows.positions.resize(static_cast<size_t>(length));
    for (int64_t i = 0; i < length; ++i) rows.positions[static_cast<size_t>(i)] = i;
    rows.all = true;
    return rows;
  }
};

Result<std::shared_ptr<arrow::Array>> PositionArray(const std::vector<int64_t>& positions) {
  arrow::Int64Builder builder;
  SLUICE_RETURN_NOT_OK(builder.AppendValues(positions));
  return builder.Finish();
}

/// `value` as an array of `length` rows (a scalar is repeated).
Result<std::shared_ptr<arrow::Array>> ToArray(const Datum& value, int64_t length) {
  if (value.is_scalar()) return arrow::MakeArrayFromScalar(*value.scalar(), length);
  return value.make_array();
}

/// The rows `rows` of `input`, for evaluating `expression` on them: only the columns it reads
/// are gathered; the others are NULL constants of their type, which it never looks at.
Result<ExecBatch> Select(const ExecBatch& input, const Rows& rows, const Expression& expression) {
  if (rows.all) return input;
  std::set<int> columns;
  CollectColumns(expression, &columns);
  SLUICE_ASSIGN_OR_RAISE(auto positions, PositionArray(rows.positions));
  ExecBatch selected;
  selected.length = rows.size();
  selected.values.reserve(input.values.size());
  for (size_t i = 0; i < input.values.size(); ++i) {
    const Datum& value = input.values[i];
    if (value.is_scalar()) {
      selected.values.push_back(value);
    } else if (columns.count(static_cast<int>(i)) > 0) {
      SLUICE_ASSIGN_OR_RAISE(Datum taken, compute::Take(value, positions));
      selected.values.push_back(std::move(taken));
    } else {
      selected.values.emplace_back(arrow::MakeNullScalar(value.type()));
    }
  }
  return selected;
}

/// Assembles a result of `length` rows from values computed on some of the rows each: a row
/// takes the value given for it last, or NULL when none was.
class Scatter {
 public:
  Scatter(int64_t length, std::shared_ptr<arrow::DataType> type)
      : type_(std::move(type)), sources_(static_cast<size_t>(length), -1) {}

  /// `value` holds one value per row of `rows` (or one for all of them).
  Status Add(const Rows& rows, const Datum& value) {
    if (rows.empty()) return Status::OK();
    SLUICE_ASSIGN_OR_RAISE(auto piece, ToArray(value, rows.size()));
    if (!piece->type()->Equals(*type_)) {
      SLUICE_ASSIGN_OR_RAISE(Datum cast, compute::Cast(piece, type_));
      piece = cast.make_array();
    }
    whole_ = rows.all && pieces_.empty() ? piece : nullptr;
    for (int64_t j = 0; j < rows.size(); ++j)
      sources_[static_cast<size_t>(rows.positions[static_cast<size_t>(j)])] = offset_ + j;
    offset_ += rows.size();
    pieces_.push_back(std::move(piece));
    return Status::OK();
  }

  Result<Datum> Finish() {
    // One value for every row, in order: no copy.
    if (whole_ != nullptr) return Datum(whole_);
    const auto length = static_cast<int64_t>(sources_.size());
    if (pieces_.empty()) return Datum(arrow::MakeArrayOfNull(type_, length).ValueOrDie());
    SLUICE_ASSIGN_OR_RAISE(auto values, arrow::Concatenate(pieces_));
    arrow::Int64Builder indices;
    SLUICE_RETURN_NOT_OK(indices.Reserve(length));
    for (int64_t source : sources_) {
      if (source < 0) {
        indices.UnsafeAppendNull();
      } else {
        indices.UnsafeAppend(source);
      }
    }
    SLUICE_ASSIGN_OR_RAISE(auto positions, indices.Finish());
    return compute::Take(values, positions);
  }

 private:
  std::shared_ptr<arrow::DataType> type_;
  /// For each row, its value's index in the concatenated pieces; -1 for NULL.
  std::vector<int64_t> sources_;
  std::vector<std::shared_ptr<arrow::Array>> pieces_;
  int64_t offset_ = 0;
  std::shared_ptr<arrow::Array> whole_;
};

/// Splits `rows` by a boolean `flags` computed on them: `matched` gets the rows whose flag
/// passes `test(valid, value)`, the others go to `rest`.
template <typename Test>
Status Split(const Rows& rows, const Datum& flags, Test test, Rows* matched, Rows* rest) {
  SLUICE_ASSIGN_OR_RAISE(auto array, ToArray(flags, rows.size()));
  if (array->type_id() != arrow::Type::BOOL) {
    // A NULL-typed condition: every flag is NULL.
    SLUICE_ASSIGN_OR_RAISE(array, arrow::MakeArrayOfNull(arrow::boolean(), rows.size()));
  }
  const auto& booleans = static_cast<const arrow::BooleanArray&>(*array);
  for (int64_t j = 0; j < rows.size(); ++j) {
    const bool valid = booleans.IsValid(j);
    const bool pass = test(valid, valid && booleans.Value(j));
    (pass ? matched : rest)->positions.push_back(rows.positions[static_cast<size_t>(j)]);
  }
  matched->all = rows.all && rest->empty();
  rest->all = rows.all && matched->empty();
  return Status::OK();
}

Result<Datum> Evaluate(const Expression& expression, const ExecBatch& input);

/// Evaluates `expression` on the rows `rows` of `input`.
Result<Datum> EvaluateOn(const Expression& expression, const ExecBatch& input, const Rows& rows) {
  SLUICE_ASSIGN_OR_RAISE(ExecBatch selected, Select(input, rows, expression));
  return Evaluate(expression, selected);
}

std::shared_ptr<arrow::DataType> TypeOf(const Expression::Call& call) {
  return call.type.GetSharedPtr();
}

/// The WHEN conditions of a case_when call: its first argument packs them into a struct.
Result<std::vector<Expression>> CaseConditions(const Expression::Call& call) {
  const Expression& packed = call.arguments[0];
  if (const auto* make_struct = packed.call()) return make_struct->arguments;
  // All constant: folded into one struct literal.
  const auto* literal = packed.literal();
  if (literal == nullptr || !literal->is_scalar())
    return Status::Invalid("CASE conditions of an unexpected form: ", packed.ToString());
  const auto& scalar = static_cast<const arrow::StructScalar&>(*literal->scalar());
  std::vector<Expression> conditions;
  for (size_t i = 0; i < scalar.value.size(); ++i) {
    conditions.push_back(compute::literal(
        scalar.is_valid ? scalar.value[i] : arrow::MakeNullScalar(arrow::boolean())));
  }
  return conditions;
}

Result<Datum> Case(const Expression::Call& call, const ExecBatch& input) {
  SLUICE_ASSIGN_OR_RAISE(std::vector<Expression> conditions, CaseConditions(call));
  const size_t values = call.arguments.size() - 1;
  Scatter result(input.length, TypeOf(call));
  Rows remaining = Rows::All(input.length);
  for (size_t i = 0; i < conditions.size() && !remaining.empty(); ++i) {
    SLUICE_ASSIGN_OR_RAISE(Datum flags, EvaluateOn(conditions[i], input, remaining));
    Rows taken, rest;
    // A NULL condition does not take its row, as in SQL.
    SLUICE_RETURN_NOT_OK(Split(
        remaining, flags, [](bool valid, bool value) { return valid && value; }, &taken, &rest));
    if (!taken.empty() && i + 1 < call.arguments.size()) {
      SLUICE_ASSIGN_OR_RAISE(Datum value, EvaluateOn(call.arguments[i + 1], input, taken));
      SLUICE_RETURN_NOT_OK(result.Add(taken, value));
    }
    remaining = std::move(rest);
  }
  if (values > conditions.size() && !remaining.empty()) {
    SLUICE_ASSIGN_OR_RAISE(Datum otherwise, EvaluateOn(call.arguments.back(), input, remaining));
    SLUICE_RETURN_NOT_OK(result.Add(remaining, otherwise));
  }
  return result.Finish();
}

/// and_kleene / or_kleene: the right side only where the left does not decide (FALSE for AND,
/// TRUE for OR).
Result<Datum> Logical(const Expression::Call& call, const ExecBatch& input, bool is_and) {
  SLUICE_ASSIGN_OR_RAISE(Datum left, Evaluate(call.arguments[0], input));
  const Rows all = Rows::All(input.length);
  Rows decided, open;
  SLUICE_RETURN_NOT_OK(Split(
      all, left, [is_and](bool valid, bool value) { return valid && value != is_and; }, &decided,
      &open));
  if (open.empty()) return left;
  SLUICE_ASSIGN_OR_RAISE(Datum right, EvaluateOn(call.arguments[1], input, open));
  SLUICE_ASSIGN_OR_RAISE(auto left_values, ToArray(left, input.length));
  if (open.all) return compute::CallFunction(call.function_name, {left_values, right});
  SLUICE_ASSIGN_OR_RAISE(auto positions, PositionArray(open.positions));
  SLUICE_ASSIGN_OR_RAISE(Datum left_open, compute::Take(left_values, positions));
  SLUICE_ASSIGN_OR_RAISE(Datum combined,
                         compute::CallFunction(call.function_name, {left_open, right}));
  Scatter result(input.length, TypeOf(call));
  SLUICE_RETURN_NOT_OK(result.Add(all, left_values));
  SLUICE_RETURN_NOT_OK(result.Add(open, combined));
  return result.Finish();
}

/// coalesce: each argument only on the rows all the earlier ones left NULL.
Result<Datum> Coalesce(const Expression::Call& call, const ExecBatch& input) {
  Scatter result(input.length, TypeOf(call));
  Rows remaining = Rows::All(input.length);
  for (const Expression& argument : call.arguments) {
    if (remaining.empty()) break;
    SLUICE_ASSIGN_OR_RAISE(Datum value, EvaluateOn(argument, input, remaining));
    SLUICE_RETURN_NOT_OK(result.Add(remaining, value));
    SLUICE_ASSIGN_OR_RAISE(auto values, ToArray(value, remaining.size()));
    Rows filled, still_null;
    for (int64_t j = 0; j < remaining.size(); ++j) {
      (values->IsNull(j) ? still_null : filled)
          .positions.push_back(remaining.positions[static_cast<size_t>(j)]);
    }
    still_null.all = remaining.all && filled.empty();
    remaining = std::move(still_null);
  }
  return result.Finish();
}

/// if_else(condition, a, b): a on the rows where the condition holds, b where it is false;
/// NULL where it is NULL (Arrow's if_else).
Result<Datum> IfElse(const Expression::Call& call, const ExecBatch& input) {
  SLUICE_ASSIGN_OR_RAISE(Datum condition, Evaluate(call.arguments[0], input));
  const Rows all = Rows::All(input.length);
  Rows when_true, not_true, when_false, not_false;
  SLUICE_RETURN_NOT_OK(Split(
      all, condition, [](bool valid, bool value) { return valid && value; }, &when_true,
      &not_true));
  SLUICE_RETURN_NOT_OK(Split(
      all, condition, [](bool valid, bool value) { return valid && !value; }, &when_false,
      &not_false));
  Scatter result(input.length, TypeOf(call));
  for (const auto& [argument, rows] :
       {std::pair{&call.arguments[1], &when_true}, std::pair{&call.arguments[2], &when_false}}) {
    if (rows->empty()) continue;
    SLUICE_ASSIGN_OR_RAISE(Datum value, EvaluateOn(*argument, input, *rows));
    SLUICE_RETURN_NOT_OK(result.Add(*rows, value));
  }
  return result.Finish();
}

/// Evaluates a call whose eager evaluation failed, taking its conditionals apart.
Result<Datum> TakeApart(const Expression& expression, const ExecBatch& input) {
  const Expression::Call& call = *expression.call();
  switch (KindOf(call)) {
    case Conditional::kCase:
      return Case(call, input);
    case Conditional::kAnd:
      return Logical(call, input, /*is_and=*/true);
    case Conditional::kOr:
      return Logical(call, input, /*is_and=*/false);
    case Conditional::kCoalesce:
      return Coalesce(call, input);
    case Conditional::kIfElse:
      return IfElse(call, input);
    case Conditional::kNone:
      break;
  }
  std::vector<Datum> arguments;
  arguments.reserve(call.arguments.size());
  for (const auto& argument : call.arguments) {
    SLUICE_ASSIGN_OR_RAISE(Datum value, Evaluate(argument, input));
    arguments.push_back(std::move(value));
  }
  return compute::CallFunction(call.function_name, arguments, call.options.get());
}

Result<Datum> Evaluate(const Expression& expression, const ExecBatch& input) {
  auto eager = compute::ExecuteScalarExpression(expression, input);
  if (eager.ok() || eager.status().IsCancelled() || eager.status().IsOutOfMemory() ||
      !HasConditionals(expression)) {
    return eager;
  }
  return TakeApart(expression, input);
}

}  // namespace

bool HasConditionals(const Expression& expression) {
  const auto* call = expression.call();
  if (call == nullptr) return false;
  if (KindOf(*call) != Conditional::kNone) return true;
  for (const auto& argument : call->arguments) {
    if (HasConditionals(argument)) return true;
  }
  return false;
}

Result<Datum> EvaluateLazily(const Expression& expression, const ExecBatch& input) {
  return Evaluate(expression, input);
}

}  // namespace sluice::expr
