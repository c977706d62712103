#pragma once

#include <arrow/result.h>
#include <arrow/status.h>

namespace sluice {

/// Sluice reports failure with Arrow's Status and Result, so that errors from Arrow calls
/// flow through without translation.
///
/// Conventions:
///  - Status::Invalid: a user's configuration is wrong; the message starts with
///    "file:line:col: error: " (see config/location.h).
///  - Status::TypeError / Status::Invalid raised while evaluating a batch: a data error; the
///    driver isolates the offending rows and sends them to the dead-letter output.
///  - Status::IOError: an external system failed (file, broker); may be retried.
using Status = arrow::Status;
template <typename T>
using Result = arrow::Result<T>;

}  // namespace sluice

#define SLUICE_RETURN_NOT_OK(expr) ARROW_RETURN_NOT_OK(expr)
#define SLUICE_ASSIGN_OR_RAISE(lhs, rexpr) ARROW_ASSIGN_OR_RAISE(lhs, rexpr)
