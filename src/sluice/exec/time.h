#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include "sluice/common/duration.h"

namespace sluice::exec {

/// Event time and watermarks, in microseconds since 1970-01-01 UTC: the unit of the
/// timestamp[us, UTC] columns Sluice reads event times into.
using Timestamp = int64_t;

/// Before every event: the watermark of a source that has not delivered anything yet.
constexpr Timestamp kMinTimestamp = std::numeric_limits<Timestamp>::min();
/// After every event: the watermark of an ended source, and the final watermark of a bounded
/// run, which fires every window.
constexpr Timestamp kMaxTimestamp = std::numeric_limits<Timestamp>::max();

/// The earliest and latest event times accepted; a row outside them is a dead letter with the
/// reason "absurd event time" (it would otherwise hold back or race ahead every watermark).
constexpr Timestamp kEarliestEventTime = -2208988800LL * 1000000;  // 1900-01-01T00:00:00Z
constexpr Timestamp kLatestEventTime = 7258118400LL * 1000000;     // 2200-01-01T00:00:00Z

/// A configured duration in microseconds, the unit of timestamps.
inline Timestamp Micros(Duration duration) {
  return std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
}

/// Now, by the system clock: the time of a row on processing (ingest) time.
inline Timestamp WallClockNow() {
  return Micros(std::chrono::system_clock::now().time_since_epoch());
}

/// Rounds down to a multiple of `unit` (towards minus infinity, so that windows before 1970
/// align like the others).
inline Timestamp FloorTo(Timestamp time, Timestamp unit) {
  Timestamp quotient = time / unit;
  if ((time % unit) != 0 && time < 0) --quotient;
  return quotient * unit;
}

/// "2024-01-01T00:00:05Z" (with fractional seconds only when needed), "-inf" or "+inf".
std::string FormatTimestamp(Timestamp timestamp);

}  // namespace sluice::exec
