#include "sluice/exec/until.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "sluice/common/duration.h"

namespace sluice::exec {

UntilOptions UntilOptions::FromOptions(const config::Options& options) {
  UntilOptions until;
  if (!options.Has("until")) return until;
  const config::Options& section = options.GetSection("until");
  if (section.Has("count")) until.count = section.GetInteger("count");
  if (section.Has("idle")) until.idle = section.GetDuration("idle");
  if (section.Has("duration")) until.duration = section.GetDuration("duration");
  return until;
}

config::OptionSpec UntilOptionSpec(std::vector<config::OptionSpec> extra_fields,
                                   std::string short_field) {
  using config::OptionSpec;
  using config::OptionType;
  OptionSpec until{
      "until", OptionType::kSection,
      "End the source by itself, so that a run over a live source ends like a run over a file "
      "(windows close, sinks publish): after `count` messages, after `idle` without a message, "
      "or `duration` after it started, whichever comes first. Without it the source reads "
      "until stopped."};
  OptionSpec count{"count", OptionType::kInteger,
                   "End after this many messages (dead-lettered ones included)."};
  count.min = 1;
  OptionSpec idle{"idle", OptionType::kDuration,
                  "End when no message came for this long (counted from the start too)."};
  idle.min = 1;
  OptionSpec duration{"duration", OptionType::kDuration, "End this long after the start."};
  duration.min = 1;
  until.fields = {count, idle, duration};
  for (auto& field : extra_fields) until.fields.push_back(std::move(field));
  until.short_field = std::move(short_field);
  return until;
}

UntilClock::UntilClock(UntilOptions options)
    : options_(std::move(options)), start_(Clock::now()), last_message_(start_) {}

int64_t UntilClock::remaining() const {
  if (!options_.count) return std::numeric_limits<int64_t>::max();
  return std::max<int64_t>(0, *options_.count - taken_);
}

void UntilClock::Took(int64_t messages) {
  if (messages <= 0) return;
  taken_ += messages;
  last_message_ = Clock::now();
}

void UntilClock::Unreachable() { reachable_ = false; }

void UntilClock::Reachable() {
  if (reachable_) return;
  reachable_ = true;
  last_message_ = Clock::now();
}

bool UntilClock::Reached() const { return !reason().empty(); }

std::chrono::milliseconds UntilClock::Wait(std::chrono::milliseconds wanted) const {
  Clock::time_point now = Clock::now();
  Clock::time_point deadline = now + wanted;
  if (options_.idle && reachable_) deadline = std::min(deadline, last_message_ + *options_.idle);
  if (options_.duration) deadline = std::min(deadline, start_ + *options_.duration);
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
  return std::max(wait, std::chrono::milliseconds(0));
}

std::string UntilClock::reason() const {
  if (options_.count && taken_ >= *options_.count) {
    return fmt::format("after {} messages (until count)", taken_);
  }
  Clock::time_point now = Clock::now();
  if (options_.duration && now - start_ >= *options_.duration) {
    return fmt::format("after {} (until duration)", FormatDuration(*options_.duration));
  }
  if (options_.idle && reachable_ && now - last_message_ >= *options_.idle) {
    return fmt::format("idle for {} (until idle)", FormatDuration(*options_.idle));
  }
  return {};
}

}  // namespace sluice::exec
