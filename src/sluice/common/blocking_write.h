#pragma once

#include <chrono>
#include <optional>

namespace sluice {

/// Marks a write to a descriptor that can block for as long as its reader wants (a pipe, a
/// terminal), so that an interrupted run can tell it is stuck there and stop anyway
/// (BlockedWriteAge()). Two atomic stores per write; one write at a time per process is tracked,
/// which is all the pipeline thread does.
class BlockingWriteScope {
 public:
  BlockingWriteScope();
  ~BlockingWriteScope();
  BlockingWriteScope(const BlockingWriteScope&) = delete;
  BlockingWriteScope& operator=(const BlockingWriteScope&) = delete;
};

/// How long the write in progress has been waiting, or nothing when none is. Any thread.
std::optional<std::chrono::steady_clock::duration> BlockedWriteAge();

}  // namespace sluice
