#include "sluice/expr/functions.h"

#include <arrow/compute/api_scalar.h>
#include <arrow/compute/cast.h>
#include <arrow/scalar.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace sluice::expr {

namespace compute = arrow::compute;

namespace {

std::string Lowercase(std::string_view text) {
  std::string lowered(text);
  for (char& c : lowered) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return lowered;
}

const Node& ArgumentNode(const Node& call, size_t index) { return *call.children[index]; }

std::string FunctionName(const Node& call) { return Lowercase(call.name); }

/// Argument `index` as a number; an untyped NULL becomes a NULL of `null_type`.
Result<Bound> NumericArgument(Binder& binder, const Node& call, std::vector<Bound>& arguments,
                              size_t index,
                              const std::shared_ptr<arrow::DataType>& null_type = arrow::int64()) {
  Bound& value = arguments[index];
  if (value.IsUntypedNull()) return Binder::NullOf(null_type);
  if (!IsNumericType(*value.type)) {
    return binder.ErrorAt(ArgumentNode(call, index),
                          fmt::format("{}() needs a number here, got {}", FunctionName(call),
                                      value.type->ToString()));
  }
  return value;
}

Result<Bound> DoubleArgument(Binder& binder, const Node& call, std::vector<Bound>& arguments,
                             size_t index) {
  SLUICE_ASSIGN_OR_RAISE(Bound value,
                         NumericArgument(binder, call, arguments, index, arrow::float64()));
  return binder.Convert(ArgumentNode(call, index), std::move(value), arrow::float64());
}

Result<Bound> StringArgument(Binder& binder, const Node& call, std::vector<Bound>& arguments,
                             size_t index) {
  Bound& value = arguments[index];
  if (value.IsUntypedNull()) return Binder::NullOf(arrow::utf8());
  if (!IsStringType(*value.type)) {
    return binder.ErrorAt(
        ArgumentNode(call, index),
        fmt::format("{}() needs a string here, got {}", FunctionName(call), value.type->ToString()),
        "convert it with CAST(x AS string)");
  }
  return value;
}

/// A date or timestamp argument; a string literal is read as a timestamp. With
/// `need_timestamp`, a date becomes a timestamp at midnight (for hour(), minute(), ...).
Result<Bound> TemporalArgument(Binder& binder, const Node& call, std::vector<Bound>& arguments,
                               size_t index, bool need_timestamp) {
  Bound& value = arguments[index];
  const auto timestamp = arrow::timestamp(arrow::TimeUnit::MICRO);
  if (value.IsUntypedNull()) return Binder::NullOf(timestamp);
  if (value.IsConstant() && IsStringType(*value.type)) {
    return binder.CastExplicitly(ArgumentNode(call, index), std::move(value), timestamp);
  }
  if (!IsTemporalType(*value.type)) {
    return binder.ErrorAt(ArgumentNode(call, index),
                          fmt::format("{}() needs a date or timestamp, got {}", FunctionName(call),
                                      value.type->ToString()));
  }
  if (need_timestamp && value.type->id() != arrow::Type::TIMESTAMP) {
    return binder.Convert(ArgumentNode(call, index), std::move(value), timestamp);
  }
  return value;
}

/// The value of an argument that Arrow needs as an option (a pattern, a digit count). NULL
/// gives nullopt: the call's result is then NULL.
Result<std::optional<int64_t>> ConstantInteger(Binder& binder, const Node& call,
                                               const std::vector<Bound>& arguments, size_t index) {
  const Bound& value = arguments[index];
  const Node& node = ArgumentNode(call, index);
  if (!value.IsConstant()) {
    return binder.ErrorAt(
        node, fmt::format("this argument of {}() must be a constant", FunctionName(call)));
  }
  if (value.IsUntypedNull() || !value.Constant()->is_valid) return std::nullopt;
  if (!IsIntegerType(*value.type)) {
    return binder.ErrorAt(node, fmt::format("this argument of {}() must be an integer, got {}",
                                            FunctionName(call), value.type->ToString()));
  }
  SLUICE_ASSIGN_OR_RAISE(Bound converted, binder.Convert(node, value, arrow::int64()));
  return static_cast<const arrow::Int64Scalar&>(*converted.Constant()).value;
}

Result<std::optional<std::string>> ConstantString(Binder& binder, const Node& call,
                                                  const std::vector<Bound>& arguments,
                                                  size_t index) {
  const Bound& value = arguments[index];
  const Node& node = ArgumentNode(call, index);
  if (!value.IsConstant()) {
    return binder.ErrorAt(
        node, fmt::format("this argument of {}() must be a constant string", FunctionName(call)));
  }
  if (value.IsUntypedNull() || !value.Constant()->is_valid) return std::nullopt;
  if (!IsStringType(*value.type)) {
    return binder.ErrorAt(node, fmt::format("this argument of {}() must be a string, got {}",
                                            FunctionName(call), value.type->ToString()));
  }
  return std::string(static_cast<const arrow::BaseBinaryScalar&>(*value.Constant()).view());
}

Bound Int64Constant(int64_t value) {
  return Binder::Constant(std::make_shared<arrow::Int64Scalar>(value));
}
Bound BooleanConstant(bool value) {
  return Binder::Constant(std::make_shared<arrow::BooleanScalar>(value));
}

// ---- numbers ---------------------------------------------------------------------------------

Result<Bound> BindAbs(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  SLUICE_ASSIGN_OR_RAISE(Bound value, NumericArgument(binder, call, arguments, 0));
  const bool integer = IsIntegerType(*value.type);
  return binder.Call(call, integer ? "abs_checked" : "abs", {std::move(value)});
}

/// round(x, digits) of a double as DuckDB computes it: scale by 10^digits, round to a whole
/// number, scale back. The last step divides an exact whole number by an exact power of ten,
/// so the result is the double nearest to the decimal (241.48, not Arrow's 241.48000000000002,
/// which it keeps when the scaled value is already whole). A result that overflows is the input
/// for digits > 0 and 0 for digits < 0, as in DuckDB.
Result<Bound> RoundDoubleToDigits(Binder& binder, const Node& call, Bound value, int64_t digits) {
  auto constant = [](double number) {
    return Binder::Constant(std::make_shared<arrow::DoubleScalar>(number));
  };
  const double scale = std::pow(10.0, static_cast<double>(digits > 0 ? digits : -digits));
  const bool more_digits = digits > 0;
  SLUICE_ASSIGN_OR_RAISE(Bound scaled, binder.Call(call, more_digits ? "multiply" : "divide",
                                                   {value, constant(scale)}));
  SLUICE_ASSIGN_OR_RAISE(Bound whole,
                         binder.Call(call, "round", {std::move(scaled)},
                                     std::make_shared<compute::RoundOptions>(
                                         0, compute::RoundMode::HALF_TOWARDS_INFINITY)));
  SLUICE_ASSIGN_OR_RAISE(Bound rounded, binder.Call(call, more_digits ? "divide" : "multiply",
                                                    {std::move(whole), constant(scale)}));
  SLUICE_ASSIGN_OR_RAISE(Bound finite, binder.Call(call, "is_finite", {rounded}));
  Bound fallback = more_digits ? std::move(value) : constant(0);
  return binder.Call(call, "if_else", {std::move(finite), std::move(rounded), std::move(fallback)});
}

Result<Bound> BindRound(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  SLUICE_ASSIGN_OR_RAISE(Bound value, NumericArgument(binder, call, arguments, 0));
  int64_t digits = 0;
  if (arguments.size() > 1) {
    SLUICE_ASSIGN_OR_RAISE(auto constant, ConstantInteger(binder, call, arguments, 1));
    if (!constant) return Binder::NullOf(value.type);
    digits = std::clamp<int64_t>(*constant, -400, 400);
  }
  // An integer already has no digits after the point; only negative digit counts change it.
  if (IsIntegerType(*value.type) && digits >= 0) return value;
  if (value.type->id() == arrow::Type::DOUBLE && digits != 0) {
    return RoundDoubleToDigits(binder, call, std::move(value), digits);
  }
  // DuckDB rounds halves away from zero: round(2.5) = 3, round(-2.5) = -3.
  return binder.Call(
      call, "round", {std::move(value)},
      std::make_shared<compute::RoundOptions>(digits, compute::RoundMode::HALF_TOWARDS_INFINITY));
}

/// Functions of one double (DuckDB's floor(), sqrt(), ... take and return DOUBLE). The checked
/// variants fail on arguments outside the domain, as DuckDB does for ln(0) or sqrt(-1).
template <const char* kArrowFunction>
Result<Bound> BindDoubleFunction(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  SLUICE_ASSIGN_OR_RAISE(Bound value, DoubleArgument(binder, call, arguments, 0));
  return binder.Call(call, kArrowFunction, {std::move(value)});
}
constexpr char kFloor[] = "floor";
constexpr char kCeil[] = "ceil";
constexpr char kSqrt[] = "sqrt_checked";
constexpr char kExp[] = "exp";
constexpr char kLn[] = "ln_checked";
constexpr char kLog10[] = "log10_checked";
constexpr char kLog2[] = "log2_checked";

Result<Bound> BindPower(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  SLUICE_ASSIGN_OR_RAISE(Bound base, DoubleArgument(binder, call, arguments, 0));
  SLUICE_ASSIGN_OR_RAISE(Bound exponent, DoubleArgument(binder, call, arguments, 1));
  return binder.Call(call, "power", {std::move(base), std::move(exponent)});
}

Result<Bound> BindSign(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  SLUICE_ASSIGN_OR_RAISE(Bound value, NumericArgument(binder, call, arguments, 0));
  const bool integer = IsIntegerType(*value.type);
  SLUICE_ASSIGN_OR_RAISE(Bound sign, binder.Call(call, "sign", {value}));
  if (!integer) {
    // DuckDB gives 0 for NaN, where Arrow propagates NaN.
    SLUICE_ASSIGN_OR_RAISE(Bound is_nan, binder.Call(call, "is_nan", {std::move(value)}));
    SLUICE_ASSIGN_OR_RAISE(Bound zero, binder.Convert(call, Int64Constant(0), sign.type));
    SLUICE_ASSIGN_OR_RAISE(
        sign, binder.Call(call, "if_else", {std::move(is_nan), std::move(zero), std::move(sign)}));
  }
  return binder.Convert(call, std::move(sign), arrow::int8());
}

// ---- choosing among values ---------------------------------------------------------------------

/// greatest() and least() skip NULLs, as in DuckDB (unlike a comparison).
template <bool kGreatest>
Result<Bound> BindExtreme(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  SLUICE_ASSIGN_OR_RAISE(auto type,
                         binder.Unify(call, &arguments, kGreatest ? "greatest()" : "least()"));
  if (type->id() == arrow::Type::NA) return Binder::NullOf(type);
  if (!IsNumericType(*type) && !IsStringType(*type) && !IsTemporalType(*type)) {
    return binder.ErrorAt(call, fmt::format("{}() cannot order values of type {}",
                                            FunctionName(call), type->ToString()));
  }
  if (arguments.size() == 1) return std::move(arguments.front());
  std::vector<Bound> nan_checks;
  if (kGreatest && arrow::is_floating(type->id())) {
    // DuckDB orders NaN above every number, so one NaN makes the greatest NaN; Arrow's
    // max_element_wise passes over NaN.
    for (const auto& argument : arguments) {
      SLUICE_ASSIGN_OR_RAISE(Bound is_nan, binder.Call(call, "is_nan", {argument}));
      SLUICE_ASSIGN_OR_RAISE(
          is_nan, binder.Call(call, "coalesce", {std::move(is_nan), BooleanConstant(false)}));
      nan_checks.push_back(std::move(is_nan));
    }
  }
  SLUICE_ASSIGN_OR_RAISE(
      Bound extreme,
      binder.Call(call, kGreatest ? "max_element_wise" : "min_element_wise", std::move(arguments),
                  std::make_shared<compute::ElementWiseAggregateOptions>(/*skip_nulls=*/true)));
  if (nan_checks.empty()) return extreme;
  SLUICE_ASSIGN_OR_RAISE(Bound any_nan, binder.Reduce(call, "or", std::move(nan_checks)));
  SLUICE_ASSIGN_OR_RAISE(
      Bound nan,
      binder.Convert(call, Binder::Constant(std::make_shared<arrow::DoubleScalar>(NAN)), type));
  return binder.Call(call, "if_else", {std::move(any_nan), std::move(nan), std::move(extreme)});
}

Result<Bound> BindCoalesce(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  SLUICE_ASSIGN_OR_RAISE(auto type, binder.Unify(call, &arguments, "coalesce()"));
  if (type->id() == arrow::Type::NA || arguments.size() == 1) return std::move(arguments.front());
  return binder.Call(call, "coalesce", std::move(arguments));
}

Result<Bound> BindNullIf(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  Bound value = arguments[0];
  if (value.IsUntypedNull()) return value;
  SLUICE_ASSIGN_OR_RAISE(Bound equal,
                         binder.Compare(call, "equal", arguments[0], std::move(arguments[1])));
  // A NULL comparison (either side NULL) keeps the value: only a definite match gives NULL.
  SLUICE_ASSIGN_OR_RAISE(Bound matched,
                         binder.Call(call, "coalesce", {std::move(equal), BooleanConstant(false)}));
  Bound null = Binder::NullOf(value.type);
  return binder.Call(call, "if_else", {std::move(matched), std::move(null), std::move(value)});
}

// ---- strings ----------------------------------------------------------------------------------

template <const char* kArrowFunction>
Result<Bound> BindStringFunction(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  SLUICE_ASSIGN_OR_RAISE(Bound value, StringArgument(binder, call, arguments, 0));
  return binder.Call(call, kArrowFunction, {std::move(value)});
}
constexpr char kLower[] = "utf8_lower";
constexpr char kUpper[] = "utf8_upper";

Result<Bound> BindLength(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  SLUICE_ASSIGN_OR_RAISE(Bound value, StringArgument(binder, call, arguments, 0));
  // Characters, not bytes; BIGINT like DuckDB.
  SLUICE_ASSIGN_OR_RAISE(Bound length, binder.Call(call, "utf8_length", {std::move(value)}));
  return binder.Convert(call, std::move(length), arrow::int64());
}

/// trim(s[, characters]): DuckDB trims spaces only (not tabs or newlines) unless told which
/// characters to trim.
template <const char* kArrowFunction>
Result<Bound> BindTrim(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  SLUICE_ASSIGN_OR_RAISE(Bound value, StringArgument(binder, call, arguments, 0));
  std::string characters = " ";
  if (arguments.size() > 1) {
    SLUICE_ASSIGN_OR_RAISE(auto constant, ConstantString(binder, call, arguments, 1));
    if (!constant) return Binder::NullOf(value.type);
    characters = std::move(*constant);
  }
  if (characters.empty()) return value;
  return binder.Call(call, kArrowFunction, {std::move(value)},
                     std::make_shared<compute::TrimOptions>(characters));
}
constexpr char kTrim[] = "utf8_trim";
constexpr char kLeftTrim[] = "utf8_ltrim";
constexpr char kRightTrim[] = "utf8_rtrim";

/// substr(s, start[, length]) with SQL's 1-based positions. DuckDB's rules, restated as an
/// Arrow slice [begin, end) of code points, where negative bounds count from the end:
///  - start > 0 is position start; start < 0 counts from the end (-1 is the last character);
///    start = 0 is the (missing) position before the first character;
///  - a negative length takes the characters before the start position instead of after it;
///  - positions outside the string are dropped, never wrapped around.
Result<Bound> BindSubstring(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  SLUICE_ASSIGN_OR_RAISE(Bound value, StringArgument(binder, call, arguments, 0));
  SLUICE_ASSIGN_OR_RAISE(auto start, ConstantInteger(binder, call, arguments, 1));
  std::optional<int64_t> length;
  if (arguments.size() > 2) {
    SLUICE_ASSIGN_OR_RAISE(length, ConstantInteger(binder, call, arguments, 2));
    if (!length) return Binder::NullOf(value.type);
  }
  if (!start) return Binder::NullOf(value.type);
  // Keep the arithmetic below far from overflow; no string is that long anyway.
  constexpr int64_t kLimit = int64_t{1} << 40;
  const int64_t first = std::clamp<int64_t>(*start, -kLimit, kLimit);
  constexpr int64_t kToEnd = std::numeric_limits<int64_t>::max();
  int64_t begin = 0;
  int64_t end = kToEnd;
  bool empty = false;
  // 0-based position of the start; for negative starts it is relative to the end.
  const int64_t position = first > 0 ? first - 1 : first;
  if (!length) {
    begin = first == 0 ? 0 : position;
  } else {
    const int64_t count = std::clamp<int64_t>(*length, -kLimit, kLimit);
    if (first == 0) {
      // Position 0 lies before the string: [-1, -1 + count) forwards, nothing backwards.
      begin = 0;
      end = count - 1;
      empty = count <= 1;
    } else if (first > 0) {
      if (count >= 0) {
        begin = position;
        end = position + count;
      } else {
        begin = std::max<int64_t>(0, position + count);
        end = position;
      }
    } else {
      // Both bounds are relative to the end; an end at or past the last character is "to end".
      if (count >= 0) {
        begin = position;
        end = position + count >= 0 ? kToEnd : position + count;
      } else {
        begin = position + count;
        end = position;
      }
      // A slice that lies wholly before the string must stay empty, not clamp to its start.
      empty = end != kToEnd && end <= begin;
    }
    empty = empty || count == 0;
  }
  if (empty) {
    begin = 0;
    end = 0;
  }
  return binder.Call(call, "utf8_slice_codeunits", {std::move(value)},
                     std::make_shared<compute::SliceOptions>(begin, end, 1));
}

Result<Bound> BindConcat(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  // DuckDB's concat() reads NULL as '' and converts other types to text.
  for (size_t i = 0; i < arguments.size(); ++i) {
    Bound& value = arguments[i];
    if (value.IsUntypedNull()) {
      value = Binder::NullOf(arrow::utf8());
    } else {
      SLUICE_ASSIGN_OR_RAISE(
          value, binder.CastExplicitly(ArgumentNode(call, i), std::move(value), arrow::utf8()));
    }
  }
  arguments.push_back(
      Binder::Constant(std::make_shared<arrow::StringScalar>("")));  // the separator
  return binder.Call(call, "binary_join_element_wise", std::move(arguments),
                     std::make_shared<compute::JoinOptions>(compute::JoinOptions::REPLACE, ""));
}

Result<Bound> BindReplace(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  SLUICE_ASSIGN_OR_RAISE(Bound value, StringArgument(binder, call, arguments, 0));
  SLUICE_ASSIGN_OR_RAISE(auto pattern, ConstantString(binder, call, arguments, 1));
  SLUICE_ASSIGN_OR_RAISE(auto replacement, ConstantString(binder, call, arguments, 2));
  if (!pattern || !replacement) return Binder::NullOf(value.type);
  // Nothing to find: DuckDB returns the string unchanged (and Arrow would not terminate).
  if (pattern->empty()) return value;
  return binder.Call(call, "replace_substring", {std::move(value)},
                     std::make_shared<compute::ReplaceSubstringOptions>(*pattern, *replacement));
}

template <const char* kArrowFunction>
Result<Bound> BindMatch(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  SLUICE_ASSIGN_OR_RAISE(Bound value, StringArgument(binder, call, arguments, 0));
  SLUICE_ASSIGN_OR_RAISE(auto pattern, ConstantString(binder, call, arguments, 1));
  if (!pattern) return Binder::NullOf(arrow::boolean());
  return binder.Call(call, kArrowFunction, {std::move(value)},
                     std::make_shared<compute::MatchSubstringOptions>(*pattern));
}
constexpr char kStartsWith[] = "starts_with";
constexpr char kEndsWith[] = "ends_with";
constexpr char kContains[] = "match_substring";

/// strpos(s, needle): the 1-based character position of the first match, 0 if none. Arrow's
/// find_substring counts bytes, so the position is the character length of the text before
/// the match.
Result<Bound> BindStrpos(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  SLUICE_ASSIGN_OR_RAISE(Bound value, StringArgument(binder, call, arguments, 0));
  SLUICE_ASSIGN_OR_RAISE(auto needle, ConstantString(binder, call, arguments, 1));
  if (!needle) return Binder::NullOf(arrow::int64());
  if (needle->empty()) {
    // Every string contains the empty string at position 1.
    SLUICE_ASSIGN_OR_RAISE(Bound valid, binder.Call(call, "is_valid", {value}));
    return binder.Call(call, "if_else",
                       {std::move(valid), Int64Constant(1), Binder::NullOf(arrow::int64())});
  }
  SLUICE_ASSIGN_OR_RAISE(Bound found,
                         binder.Call(call, "find_substring", {value},
                                     std::make_shared<compute::MatchSubstringOptions>(*needle)));
  SLUICE_ASSIGN_OR_RAISE(found, binder.Convert(call, std::move(found), arrow::int64()));
  SLUICE_ASSIGN_OR_RAISE(Bound missing,
                         binder.Call(call, "less", {std::move(found), Int64Constant(0)}));
  SLUICE_ASSIGN_OR_RAISE(Bound pieces,
                         binder.Call(call, "split_pattern", {std::move(value)},
                                     std::make_shared<compute::SplitPatternOptions>(*needle, 1)));
  SLUICE_ASSIGN_OR_RAISE(Bound before,
                         binder.Call(call, "list_element", {std::move(pieces), Int64Constant(0)}));
  SLUICE_ASSIGN_OR_RAISE(Bound characters, binder.Call(call, "utf8_length", {std::move(before)}));
  SLUICE_ASSIGN_OR_RAISE(characters, binder.Convert(call, std::move(characters), arrow::int64()));
  SLUICE_ASSIGN_OR_RAISE(
      Bound position, binder.Call(call, "add_checked", {std::move(characters), Int64Constant(1)}));
  return binder.Call(call, "if_else", {std::move(missing), Int64Constant(0), std::move(position)});
}

// ---- dates and times --------------------------------------------------------------------------

template <const char* kArrowFunction, bool kNeedsTimestamp>
Result<Bound> BindDatePart(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  SLUICE_ASSIGN_OR_RAISE(Bound value,
                         TemporalArgument(binder, call, arguments, 0, kNeedsTimestamp));
  SLUICE_ASSIGN_OR_RAISE(Bound part, binder.Call(call, kArrowFunction, {std::move(value)}));
  return binder.Convert(call, std::move(part), arrow::int64());
}
constexpr char kYear[] = "year";
constexpr char kMonth[] = "month";
constexpr char kDay[] = "day";
constexpr char kHour[] = "hour";
constexpr char kMinute[] = "minute";
constexpr char kSecond[] = "second";

struct TruncationUnit {
  const char* name;
  compute::CalendarUnit unit;
  int multiple;
};

constexpr TruncationUnit kTruncationUnits[] = {
    {"microsecond", compute::CalendarUnit::MICROSECOND, 1},
    {"millisecond", compute::CalendarUnit::MILLISECOND, 1},
    {"second", compute::CalendarUnit::SECOND, 1},
    {"minute", compute::CalendarUnit::MINUTE, 1},
    {"hour", compute::CalendarUnit::HOUR, 1},
    {"day", compute::CalendarUnit::DAY, 1},
    {"week", compute::CalendarUnit::WEEK, 1},
    {"month", compute::CalendarUnit::MONTH, 1},
    {"quarter", compute::CalendarUnit::QUARTER, 1},
    {"year", compute::CalendarUnit::YEAR, 1},
    {"decade", compute::CalendarUnit::YEAR, 10},
};

/// date_trunc('unit', t). As in DuckDB, truncating to a day or longer gives a DATE, and a date
/// truncated to a shorter unit gives a TIMESTAMP.
Result<Bound> BindDateTrunc(Binder& binder, const Node& call, std::vector<Bound> arguments) {
  SLUICE_ASSIGN_OR_RAISE(auto unit_name, ConstantString(binder, call, arguments, 0));
  SLUICE_ASSIGN_OR_RAISE(Bound value, TemporalArgument(binder, call, arguments, 1, false));
  if (!unit_name) return Binder::NullOf(value.type);
  std::string wanted = Lowercase(*unit_name);
  if (wanted.size() > 1 && wanted.back() == 's') wanted.pop_back();  // 'months' as well as 'month'
  const auto* unit =
      std::find_if(std::begin(kTruncationUnits), std::end(kTruncationUnits),
                   [&](const TruncationUnit& candidate) { return wanted == candidate.name; });
  if (unit == std::end(kTruncationUnits)) {
    std::vector<std::string> names;
    for (const auto& candidate : kTruncationUnits) names.emplace_back(candidate.name);
    return binder.ErrorAt(ArgumentNode(call, 0),
                          fmt::format("unknown date_trunc unit '{}'", *unit_name),
                          "units are: " + fmt::format("{}", fmt::join(names, ", ")));
  }
  const bool to_date = unit->unit >= compute::CalendarUnit::DAY;
  if (!to_date && value.type->id() != arrow::Type::TIMESTAMP) {
    SLUICE_ASSIGN_OR_RAISE(
        value, binder.Convert(call, std::move(value), arrow::timestamp(arrow::TimeUnit::MICRO)));
  }
  compute::RoundTemporalOptions options(unit->multiple, unit->unit, /*week_starts_monday=*/true);
  SLUICE_ASSIGN_OR_RAISE(Bound truncated,
                         binder.Call(call, "floor_temporal", {std::move(value)},
                                     std::make_shared<compute::RoundTemporalOptions>(options)));
  if (to_date) return binder.Convert(call, std::move(truncated), arrow::date32());
  return truncated;
}

/// epoch_ms(timestamp) is milliseconds since 1970 (truncated towards zero, as in DuckDB);
/// epoch_ms(integer) is the reverse.
Result<Bound> BindEpochMilliseconds(Binder& binder, const Node& call,
                                    std::vector<Bound> arguments) {
  Bound value = arguments[0];
  const auto milliseconds = arrow::timestamp(arrow::TimeUnit::MILLI);
  if (!value.IsUntypedNull() && IsIntegerType(*value.type)) {
    SLUICE_ASSIGN_OR_RAISE(value, binder.Convert(call, std::move(value), arrow::int64()));
    SLUICE_ASSIGN_OR_RAISE(value, binder.Convert(call, std::move(value), milliseconds));
    return binder.Convert(call, std::move(value), arrow::timestamp(arrow::TimeUnit::MICRO));
  }
  SLUICE_ASSIGN_OR_RAISE(value, TemporalArgument(binder, call, arguments, 0, true));
  const auto& zone = static_cast<const arrow::TimestampType&>(*value.type).timezone();
  auto options = std::make_shared<compute::CastOptions>(
      compute::CastOptions::Safe(arrow::timestamp(arrow::TimeUnit::MILLI, zone)));
  options->allow_time_truncate = true;
  SLUICE_ASSIGN_OR_RAISE(value, binder.Call(call, "cast", {std::move(value)}, std::move(options)));
  return binder.Convert(call, std::move(value), arrow::int64());
}

// ---- the table --------------------------------------------------------------------------------

const FunctionDefinition kFunctions[] = {
    {"abs", 1, 1, "abs(x)", BindAbs},
    {"round", 1, 2, "round(x[, digits])", BindRound},
    {"floor", 1, 1, "floor(x)", BindDoubleFunction<kFloor>},
    {"ceil", 1, 1, "ceil(x)", BindDoubleFunction<kCeil>},
    {"ceiling", 1, 1, "ceiling(x)", BindDoubleFunction<kCeil>},
    {"sqrt", 1, 1, "sqrt(x)", BindDoubleFunction<kSqrt>},
    {"exp", 1, 1, "exp(x)", BindDoubleFunction<kExp>},
    {"ln", 1, 1, "ln(x)", BindDoubleFunction<kLn>},
    {"log10", 1, 1, "log10(x)", BindDoubleFunction<kLog10>},
    {"log2", 1, 1, "log2(x)", BindDoubleFunction<kLog2>},
    {"power", 2, 2, "power(base, exponent)", BindPower},
    {"pow", 2, 2, "pow(base, exponent)", BindPower},
    {"sign", 1, 1, "sign(x)", BindSign},
    {"greatest", 1, -1, "greatest(a, b, ...)", BindExtreme<true>},
    {"least", 1, -1, "least(a, b, ...)", BindExtreme<false>},
    {"coalesce", 1, -1, "coalesce(a, b, ...)", BindCoalesce},
    {"nullif", 2, 2, "nullif(a, b)", BindNullIf},
    {"lower", 1, 1, "lower(s)", BindStringFunction<kLower>},
    {"upper", 1, 1, "upper(s)", BindStringFunction<kUpper>},
    {"length", 1, 1, "length(s)", BindLength},
    {"char_length", 1, 1, "char_length(s)", BindLength},
    {"trim", 1, 2, "trim(s[, characters])", BindTrim<kTrim>},
    {"ltrim", 1, 2, "ltrim(s[, characters])", BindTrim<kLeftTrim>},
    {"rtrim", 1, 2, "rtrim(s[, characters])", BindTrim<kRightTrim>},
    {"substr", 2, 3, "substr(s, start[, length])", BindSubstring},
    {"substring", 2, 3, "substring(s, start[, length])", BindSubstring},
    {"concat", 1, -1, "concat(a, b, ...)", BindConcat},
    {"replace", 3, 3, "replace(s, from, to)", BindReplace},
    {"starts_with", 2, 2, "starts_with(s, prefix)", BindMatch<kStartsWith>},
    {"ends_with", 2, 2, "ends_with(s, suffix)", BindMatch<kEndsWith>},
    {"contains", 2, 2, "contains(s, part)", BindMatch<kContains>},
    {"strpos", 2, 2, "strpos(s, part)", BindStrpos},
    {"instr", 2, 2, "instr(s, part)", BindStrpos},
    {"year", 1, 1, "year(t)", BindDatePart<kYear, false>},
    {"month", 1, 1, "month(t)", BindDatePart<kMonth, false>},
    {"day", 1, 1, "day(t)", BindDatePart<kDay, false>},
    {"hour", 1, 1, "hour(t)", BindDatePart<kHour, true>},
    {"minute", 1, 1, "minute(t)", BindDatePart<kMinute, true>},
    {"second", 1, 1, "second(t)", BindDatePart<kSecond, true>},
    {"date_trunc", 2, 2, "date_trunc('unit', t)", BindDateTrunc},
    {"epoch_ms", 1, 1, "epoch_ms(t)", BindEpochMilliseconds},
};

}  // namespace

const FunctionDefinition* FindFunction(std::string_view name) {
  const std::string lowered = Lowercase(name);
  for (const auto& definition : kFunctions) {
    if (lowered == definition.name) return &definition;
  }
  return nullptr;
}

std::vector<std::string> FunctionNames() {
  std::vector<std::string> names;
  for (const auto& definition : kFunctions) names.emplace_back(definition.name);
  return names;
}

std::string ArgumentCountText(const FunctionDefinition& definition) {
  const auto plural = [](int count) { return count == 1 ? "argument" : "arguments"; };
  if (definition.max_arguments < 0) {
    return fmt::format("at least {} {}", definition.min_arguments,
                       plural(definition.min_arguments));
  }
  if (definition.min_arguments == definition.max_arguments) {
    return fmt::format("{} {}", definition.min_arguments, plural(definition.min_arguments));
  }
  return fmt::format("{} to {} arguments", definition.min_arguments, definition.max_arguments);
}

}  // namespace sluice::expr
