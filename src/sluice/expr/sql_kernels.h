#pragma once

#include <arrow/compute/registry.h>

#include "sluice/common/status.h"

namespace sluice::expr {

/// Compute functions the language needs where Arrow has no kernel with SQL's (DuckDB's)
/// behaviour. They are registered by name so that bound expressions stay plain Arrow
/// expressions that any Arrow consumer can execute.

/// The `%` operator: the remainder, with the sign of the dividend (like C's % and fmod). An
/// integer divisor of zero gives NULL rather than an error; a floating-point one gives NaN.
/// Kernels: (int64, int64) -> int64 and (double, double) -> double.
inline constexpr const char* kModuloFunction = "sluice_modulo";

/// double -> string the way DuckDB prints a DOUBLE (the shortest text that reads back to the
/// same value, in Python's repr layout): 1.0 rather than Arrow's "1", 1e-05 rather than
/// "0.00001", 1e+16 from 10^16 upwards.
inline constexpr const char* kDoubleToStringFunction = "sluice_double_to_string";

/// Adds the functions above to `registry`. Fails if one of the names is already taken.
Status RegisterSqlKernels(arrow::compute::FunctionRegistry* registry);

}  // namespace sluice::expr
