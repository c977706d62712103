#include "sluice/expr/modulo_kernel.h"

#include <cmath>
#include <limits>
#include <memory>

#include <arrow/array/data.h>
#include <arrow/compute/function.h>
#include <arrow/compute/kernel.h>
#include <arrow/scalar.h>
#include <arrow/util/bit_util.h>
#include <arrow/util/checked_cast.h>

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
      const auto& scalar = arrow::internal::checked_cast<const arrow::NumericScalar<ArrowType>&>(*value.scalar);
      scalar_valid_ = scalar.is_valid;
      scalar_value_ = scalar.value;
    } else {
      values_ = value.array.GetValues<CType>(1);
    }
  }

  bool IsValid(int64_t row) const { return value_.is_scalar() ? scalar_valid_ : value_.array.IsValid(row); }
  CType Value(int64_t row) const { return value_.is_scalar() ? scalar_value_ : values_[row]; }

 private:
  const compute::ExecValue& value_;
  bool scalar_valid_ = false;
  CType scalar_value_{};
  const CType* values_ = nullptr;
};

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
arrow::Status Exec(compute::KernelContext* context, const compute::ExecSpan& batch, compute::ExecResult* out) {
  using CType = typename ArrowType::c_type;
  const int64_t length = batch.length;
  ArgumentReader<ArrowType> left(batch[0]);
  ArgumentReader<ArrowType> right(batch[1]);
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> validity, context->AllocateBitmap(length));
  ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> values, context->Allocate(length * sizeof(CType)));
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
  out->value = arrow::ArrayData::Make(out->type()->GetSharedPtr(), length, {std::move(validity), std::move(values)},
                                      null_count);
  return arrow::Status::OK();
}

const compute::FunctionDoc kModuloDoc{
    "Remainder of integer or floating-point division",
    "The result has the sign of the dividend. An integer divisor of zero gives null;\n"
    "a floating-point one gives NaN.",
    {"dividend", "divisor"}};

}  // namespace

Status RegisterModulo(compute::FunctionRegistry* registry) {
  auto function = std::make_shared<compute::ScalarFunction>(kModuloFunction, compute::Arity::Binary(), kModuloDoc);
  auto add = [&](std::shared_ptr<arrow::DataType> type, compute::ArrayKernelExec exec) {
    compute::ScalarKernel kernel({type, type}, type, exec);
    kernel.null_handling = compute::NullHandling::COMPUTED_NO_PREALLOCATE;
    kernel.mem_allocation = compute::MemAllocation::NO_PREALLOCATE;
    return function->AddKernel(std::move(kernel));
  };
  SLUICE_RETURN_NOT_OK(add(arrow::int64(), Exec<arrow::Int64Type, IntegerRemainder>));
  SLUICE_RETURN_NOT_OK(add(arrow::float64(), Exec<arrow::DoubleType, FloatingRemainder>));
  return registry->AddFunction(std::move(function));
}

}  // namespace sluice::expr
