#include "sluice/expr/sql_kernels.h"

#include <arrow/array/builder_binary.h>
#include <arrow/array/data.h>
#include <arrow/compute/function.h>
#include <arrow/compute/kernel.h>
#include <arrow/scalar.h>
#include <arrow/util/bit_util.h>
#include <arrow/util/checked_cast.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <system_error>

namespace sluice::expr {

namespace {

namespace compute = arrow::compute;

/// Reads row `row` of an argument that is either an array or a scalar broadcast to the batch.
template <typename ArrowType>
class ArgumentReader {
 public:
  using CType = typename ArrowType::c_type;

  explicit ArgumentReader(const compute::ExecValue& value) : value_(value) {
    if (value.is_scalar()) {
      const auto& scalar =
          arrow::internal::checked_cast<const arrow::NumericScalar<ArrowType>&>(*value.scalar);
      scalar_valid_ = scalar.is_valid;
      scalar_value_ = scalar.value;
    } else {
      values_ = value.array.GetValues<CType>(1);
    }
  }

  bool IsValid(int64_t row) const {
    return value_.is_scalar() ? scalar_valid_ : value_.array.IsValid(row);
  }
  CType Value(int64_t row) const { return value_.is_scalar() ? scalar_value_ : values_[row]; }

 private:
  const compute::ExecValue& value_;
  bool scalar_valid_ = false;
  CType scalar_value_{};
  const CType* values_ = nullptr;
};

// ---- modulo -----------------------------------------------------------------------------------

/// Integer remainder. A zero divisor gives NULL (SQL); the one quotient that overflows,
/// INT64_MIN / -1, is an error as in DuckDB rather than C's undefined behaviour.
struct IntegerRemainder {
  static bool Apply(int64_t dividend, int64_t divisor, int64_t* result, arrow::Status* status) {
    if (divisor == 0) return false;
    if (divisor == -1) {
      if (dividend == std::numeric_limits<int64_t>::min()) {
        *status = arrow::Status::Invalid("overflow in modulo of ", dividend, " % ", divisor);
      }
      *result = 0;
      return true;
    }
    *result = dividend % divisor;
    return true;
  }
};

/// Floating-point remainder: fmod, whose result has the dividend's sign; a zero divisor gives
/// NaN, as in DuckDB.
struct FloatingRemainder {
  static bool Apply(double dividend, double divisor, double* result, arrow::Status*) {
    *result = std::fmod(dividend, divisor);
    return true;
  }
};

template <typename ArrowType, typename Operation>
arrow::Status ModuloExec(compute::KernelContext* context, const compute::ExecSpan& batch,
                         compute::ExecResult* out) {
  using CType = typename ArrowType::c_type;
  const int64_t length = batch.length;
  ArgumentReader<ArrowType> left(batch[0]);
  ArgumentReader<ArrowType> right(batch[1]);
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> validity, context->AllocateBitmap(length));
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> values,
                        context->Allocate(length * sizeof(CType)));
  uint8_t* validity_bits = validity->mutable_data();
  auto* value_data = reinterpret_cast<CType*>(values->mutable_data());
  int64_t null_count = 0;
  arrow::Status status;
  for (int64_t row = 0; row < length; ++row) {
    bool valid = left.IsValid(row) && right.IsValid(row);
    CType result{};
    if (valid) valid = Operation::Apply(left.Value(row), right.Value(row), &result, &status);
    if (!status.ok()) return status;
    value_data[row] = result;
    arrow::bit_util::SetBitTo(validity_bits, row, valid);
    if (!valid) ++null_count;
  }
  out->value = arrow::ArrayData::Make(arrow::TypeTraits<ArrowType>::type_singleton(), length,
                                      {std::move(validity), std::move(values)}, null_count);
  return arrow::Status::OK();
}

const compute::FunctionDoc kModuloDoc{
    "Remainder of integer or floating-point division",
    "The result has the sign of the dividend. An integer divisor of zero gives null;\n"
    "a floating-point one gives NaN.",
    {"dividend", "divisor"}};

Status RegisterModulo(compute::FunctionRegistry* registry) {
  auto function = std::make_shared<compute::ScalarFunction>(kModuloFunction,
                                                            compute::Arity::Binary(), kModuloDoc);
  auto add = [&](std::shared_ptr<arrow::DataType> type, compute::ArrayKernelExec exec) {
    compute::ScalarKernel kernel({type, type}, type, exec);
    kernel.null_handling = compute::NullHandling::COMPUTED_NO_PREALLOCATE;
    kernel.mem_allocation = compute::MemAllocation::NO_PREALLOCATE;
    return function->AddKernel(std::move(kernel));
  };
  SLUICE_RETURN_NOT_OK(add(arrow::int64(), ModuloExec<arrow::Int64Type, IntegerRemainder>));
  SLUICE_RETURN_NOT_OK(add(arrow::float64(), ModuloExec<arrow::DoubleType, FloatingRemainder>));
  return registry->AddFunction(std::move(function));
}

// ---- double to string -------------------------------------------------------------------------

/// Appends `value` to `text` in the layout of Python's repr(), which DuckDB follows: the
/// shortest round-trip digits; plain notation for decimal exponents -4 to 15 (always with a
/// fractional part), scientific notation otherwise with at least two exponent digits.
void AppendDouble(double value, std::string* text) {
  if (std::isnan(value)) {
    *text += "nan";
    return;
  }
  if (std::isinf(value)) {
    *text += value < 0 ? "-inf" : "inf";
    return;
  }
  // The shortest scientific form, e.g. "-1.2345e+17", gives the digits and the exponent.
  char buffer[64];
  const auto [end, error] =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  if (error != std::errc()) {
    *text += "nan";  // unreachable: 64 characters hold any double
    return;
  }
  const std::string_view scientific(buffer, static_cast<size_t>(end - buffer));
  const size_t exponent_mark = scientific.find('e');
  std::string_view mantissa = scientific.substr(0, exponent_mark);
  int exponent = 0;
  std::from_chars(
      scientific.data() + exponent_mark + (scientific[exponent_mark + 1] == '+' ? 2 : 1),
      scientific.data() + scientific.size(), exponent);
  if (!mantissa.empty() && mantissa.front() == '-') {
    *text += '-';
    mantissa.remove_prefix(1);
  }
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  if (exponent < -4 || exponent >= 16) {
    *text += digits.front();
    if (digits.size() > 1) {
      *text += '.';
      text->append(digits, 1, std::string::npos);
    }
    *text += exponent < 0 ? "e-" : "e+";
    const int magnitude = exponent < 0 ? -exponent : exponent;
    if (magnitude < 10) *text += '0';
    *text += std::to_string(magnitude);
    return;
  }
  // Plain notation: the decimal point goes after digit number exponent + 1.
  const int point = exponent + 1;
  const int count = static_cast<int>(digits.size());
  if (point <= 0) {
    *text += "0.";
    text->append(static_cast<size_t>(-point), '0');
    *text += digits;
  } else if (point >= count) {
    *text += digits;
    text->append(static_cast<size_t>(point - count), '0');
    *text += ".0";
  } else {
    text->append(digits, 0, static_cast<size_t>(point));
    *text += '.';
    text->append(digits, static_cast<size_t>(point), std::string::npos);
  }
}

arrow::Status DoubleToStringExec(compute::KernelContext* context, const compute::ExecSpan& batch,
                                 compute::ExecResult* out) {
  ArgumentReader<arrow::DoubleType> input(batch[0]);
  arrow::StringBuilder builder(context->memory_pool());
  ARROW_RETURN_NOT_OK(builder.Reserve(batch.length));
  std::string text;
  for (int64_t row = 0; row < batch.length; ++row) {
    if (!input.IsValid(row)) {
      ARROW_RETURN_NOT_OK(builder.AppendNull());
      continue;
    }
    text.clear();
    AppendDouble(input.Value(row), &text);
    ARROW_RETURN_NOT_OK(builder.Append(text));
  }
  std::shared_ptr<arrow::ArrayData> result;
  ARROW_RETURN_NOT_OK(builder.FinishInternal(&result));
  out->value = std::move(result);
  return arrow::Status::OK();
}

const compute::FunctionDoc kDoubleToStringDoc{
    "Format doubles as DuckDB does",
    "Shortest round-trip digits, in Python's repr() layout.",
    {"value"}};

Status RegisterDoubleToString(compute::FunctionRegistry* registry) {
  auto function = std::make_shared<compute::ScalarFunction>(
      kDoubleToStringFunction, compute::Arity::Unary(), kDoubleToStringDoc);
  compute::ScalarKernel kernel({arrow::float64()}, arrow::utf8(), DoubleToStringExec);
  kernel.null_handling = compute::NullHandling::COMPUTED_NO_PREALLOCATE;
  kernel.mem_allocation = compute::MemAllocation::NO_PREALLOCATE;
  SLUICE_RETURN_NOT_OK(function->AddKernel(std::move(kernel)));
  return registry->AddFunction(std::move(function));
}

}  // namespace

Status RegisterSqlKernels(compute::FunctionRegistry* registry) {
  SLUICE_RETURN_NOT_OK(RegisterModulo(registry));
  return RegisterDoubleToString(registry);
}

}  // namespace sluice::expr
