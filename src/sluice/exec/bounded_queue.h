#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace sluice::exec {

/// A blocking multi-producer queue with a fixed capacity: the backpressure between sources and
/// the pipeline thread. Push() blocks while the queue is full, so memory stays bounded however
/// slow the consumer is. Close() wakes every waiter; after it Push() refuses and Pop() drains
/// what is left, then returns nothing. Thread-safe.
template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

  /// Adds an item, waiting for room. Returns false (dropping nothing the caller still owns)
  /// when the queue was closed.
  bool Push(T item) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  /// Waits up to `timeout` for room; true when there is room now or the queue is closed (then
  /// Push() refuses at once). Another producer may take the room first, so a Push() after it
  /// can still wait, but only until the consumer takes the next item.
  template <typename Rep, typename Period>
  bool WaitForRoom(std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock lock(mutex_);
    return not_full_.wait_for(lock, timeout, [&] { return closed_ || items_.size() < capacity_; });
  }

  /// Takes the oldest item, waiting for one; nothing once the queue is closed and empty.
  std::optional<T> Pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_all();  // WaitForRoom() waiters take no room
    return item;
  }

  /// Like Pop(), but gives up after `timeout`: nothing, with `*timed_out` set.
  template <typename Rep, typename Period>
  std::optional<T> PopFor(std::chrono::duration<Rep, Period> timeout, bool* timed_out) {
    std::unique_lock lock(mutex_);
    *timed_out = !not_empty_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_all();  // WaitForRoom() waiters take no room
    return item;
  }

  void Close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace sluice::exec
