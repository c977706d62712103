#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "sluice/common/status.h"

namespace sluice {

using Duration = std::chrono::nanoseconds;

/// Parses "250us", "500ms", "5s", "2m", "1h", "1d" (also "1.5s"). A bare number is an error:
/// a unit is always required, so that "5" cannot mean different things in different places.
Result<Duration> ParseDuration(std::string_view text);

/// The shortest exact rendering of `duration` with one unit, e.g. "1500ms", "5s".
std::string FormatDuration(Duration duration);

}  // namespace sluice
