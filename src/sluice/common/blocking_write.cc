#include "sluice/common/blocking_write.h"

#include <atomic>
#include <cstdint>

namespace sluice {
namespace {

/// When the write in progress started (steady clock ticks), or 0.
std::atomic<int64_t> g_write_started{0};

}  // namespace

BlockingWriteScope::BlockingWriteScope() {
  g_write_started.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                        std::memory_order_relaxed);
}

BlockingWriteScope::~BlockingWriteScope() { g_write_started.store(0, std::memory_order_relaxed); }

std::optional<std::chrono::steady_clock::duration> BlockedWriteAge() {
  const int64_t started = g_write_started.load(std::memory_order_relaxed);
  if (started == 0) return std::nullopt;
  return std::chrono::steady_clock::now().time_since_epoch() -
         std::chrono::steady_clock::duration(started);
}

}  // namespace sluice
