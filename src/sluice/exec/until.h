#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"

namespace sluice::exec {

/// When a live source ends by itself (`until:`), so that tests, backfills and batch-like runs
/// over a broker end: after `count` messages, after `idle` without a message, or `duration`
/// after it started, whichever comes first. A source with any of them is bounded: the run
/// ends when it does, windows close and sinks publish as at the end of a file.
struct UntilOptions {
  std::optional<int64_t> count;
  std::optional<std::chrono::nanoseconds> idle;
  std::optional<std::chrono::nanoseconds> duration;

  bool any() const { return count || idle || duration; }

  /// The section `until` of `options`, when there is one (fields count, idle, duration).
  static UntilOptions FromOptions(const config::Options& options);
};

/// The `until` option of a live source: a section with count, idle and duration, plus
/// `extra_fields` (kafka: `offsets: end`); `short_field` is the field a plain scalar stands for
/// (kafka: `until: end`), empty when the section must be a map.
config::OptionSpec UntilOptionSpec(std::vector<config::OptionSpec> extra_fields = {},
                                   std::string short_field = {});

/// Keeps time for UntilOptions on a source's thread.
class UntilClock {
 public:
  using Clock = std::chrono::steady_clock;

  /// Starts the clock now.
  explicit UntilClock(UntilOptions options);

  const UntilOptions& options() const { return options_; }

  /// How many more messages the source may take: the rest of `count`, or INT64_MAX.
  int64_t remaining() const;

  /// The source took `messages` messages (decoded or dead-lettered): counts them and restarts
  /// the idle time.
  void Took(int64_t messages);

  /// The source cannot look for messages (its server is down and it is reconnecting): idle
  /// time stops counting, so that an unreachable server never reads as "no more messages".
  void Unreachable();

  /// The source can look for messages again: idle time starts again from now.
  void Reachable();

  /// Whether the source should end now.
  bool Reached() const;

  /// `wanted`, shortened so that a source waiting for its next message wakes up in time to end
  /// when idle or duration runs out.
  std::chrono::milliseconds Wait(std::chrono::milliseconds wanted) const;

  /// Why the source ended, for its log line ("after 1000 messages", "idle for 2s", ...); empty
  /// while Reached() is false.
  std::string reason() const;

 private:
  UntilOptions options_;
  Clock::time_point start_;
  Clock::time_point last_message_;
  int64_t taken_ = 0;
  bool reachable_ = true;
};

}  // namespace sluice::exec
