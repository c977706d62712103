#pragma once

#include <arrow/compute/registry.h>

#include "sluice/common/status.h"

namespace sluice::expr {

/// The compute function behind the `%` operator. Arrow has no remainder kernel, and SQL wants
/// one whose result takes the sign of the dividend (like C's % and fmod) and which gives NULL,
/// not an error, for an integer divisor of zero. Kernels: (int64, int64) -> int64 and
/// (double, double) -> double; the binder casts operands to one of those pairs.
inline constexpr const char* kModuloFunction = "sluice_modulo";

/// Adds kModuloFunction to `registry`. Fails if a function of that name is already there.
Status RegisterModulo(arrow::compute::FunctionRegistry* registry);

}  // namespace sluice::expr
