#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

namespace sluice::exec {

/// The positions a source reached as it pushed, kept until the pipeline asks for them with
/// Source::PositionAfter().
///
/// A source runs ahead of the pipeline (by the batches its queue holds, and between two
/// checkpoints by every batch since the last one), so its current position is not the one a
/// checkpoint needs. It records an entry as it goes instead, keyed by the number of batches
/// pushed when the entry starts to hold, and the pipeline takes the entries up to the batch a
/// checkpoint covers. Since positions are asked for ever later batches, taken entries are
/// dropped. A source records only when the pipeline checkpoints
/// (ConnectorContext::checkpoints): nobody would take the entries otherwise.
///
/// An entry is either a whole position (a generator's row number: the last entry taken is the
/// answer) or a change to one (a file read further: the taken entries are applied in order).
/// Thread-safe: Add() on the source's thread, TakeThrough() on the pipeline's.
template <typename Entry>
class SourcePositions {
 public:
  /// Records `entry`, holding from `batches` pushed batches on: key a position reached by push
  /// number n with n, and a change made after n pushes (a file that ended) with n + 1, so that
  /// it does not belong to the position after batch n.
  void Add(int64_t batches, Entry entry) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.emplace_back(batches, std::move(entry));
  }

  /// Removes and returns, oldest first, the entries that hold at `batches` (key <= `batches`).
  std::vector<std::pair<int64_t, Entry>> TakeThrough(int64_t batches) {
    std::vector<std::pair<int64_t, Entry>> taken;
    std::lock_guard<std::mutex> lock(mutex_);
    while (!entries_.empty() && entries_.front().first <= batches) {
      taken.push_back(std::move(entries_.front()));
      entries_.pop_front();
    }
    return taken;
  }

 private:
  std::mutex mutex_;
  std::deque<std::pair<int64_t, Entry>> entries_;
};

}  // namespace sluice::exec
