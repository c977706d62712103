#include "sluice/connectors/sql/reject_isolation.h"

#include <utility>

namespace sluice::connectors::sql {

Result<std::vector<RejectedRow>> WriteIsolatingRejects(
    int64_t rows, const std::function<Status(int64_t offset, int64_t length)>& attempt,
    const std::function<bool(const Status&)>& is_row_error) {
  std::vector<RejectedRow> rejected;
  // Slices still to write, as a stack so that rows are written in order.
  std::vector<std::pair<int64_t, int64_t>> todo;
  if (rows > 0) todo.emplace_back(0, rows);
  while (!todo.empty()) {
    auto [offset, length] = todo.back();
    todo.pop_back();
    Status status = attempt(offset, length);
    if (status.ok()) continue;
    if (!is_row_error(status)) return status;
    if (length == 1) {
      rejected.push_back(RejectedRow{offset, status.message()});
      continue;
    }
    const int64_t half = length / 2;
    todo.emplace_back(offset + half, length - half);
    todo.emplace_back(offset, half);
  }
  return rejected;
}

}  // namespace sluice::connectors::sql
