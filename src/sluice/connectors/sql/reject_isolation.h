#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::connectors::sql {

/// A row the database refused, with its message.
struct RejectedRow {
  int64_t row = 0;
  std::string reason;
};

/// Writes rows [0, rows) with `attempt(offset, length)`, which writes that slice atomically
/// (all of it or, on error, none: a savepoint rolled back). When an attempt fails with an error
/// `is_row_error` says the slice's data caused (a constraint violation, a value too long), the
/// slice is split in halves and each is tried again, down to single rows, which are returned as
/// rejected with the database's message; every other row is written. Any other error is
/// returned as is. A batch with k bad rows takes O(k log n) attempts; a clean batch, one.
Result<std::vector<RejectedRow>> WriteIsolatingRejects(
    int64_t rows, const std::function<Status(int64_t offset, int64_t length)>& attempt,
    const std::function<bool(const Status&)>& is_row_error);

}  // namespace sluice::connectors::sql
