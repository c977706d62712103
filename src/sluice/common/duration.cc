#include "sluice/common/duration.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdint>

namespace sluice {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t nanoseconds;
};

// Longest suffixes first, so that "ms" is not read as "m" + "s".
constexpr Unit kUnits[] = {
    {"ns", 1},
    {"us", 1000},
    {"ms", 1000 * 1000},
    {"s", 1000LL * 1000 * 1000},
    {"m", 60LL * 1000 * 1000 * 1000},
    {"h", 3600LL * 1000 * 1000 * 1000},
    {"d", 86400LL * 1000 * 1000 * 1000},
};

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  size_t digits_end = 0;
  while (digits_end < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits_end])) || text[digits_end] == '.')) {
    ++digits_end;
  }
  std::string_view number = text.substr(0, digits_end);
  std::string_view suffix = text.substr(digits_end);
  while (!suffix.empty() && suffix.front() == ' ') suffix.remove_prefix(1);
  if (number.empty()) {
    return Status::Invalid("'", text, "' is not a duration (expected e.g. 500ms, 5s, 2m, 1h)");
  }
  double value = 0;
  auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (error != std::errc() || end != number.data() + number.size()) {
    return Status::Invalid("'", text, "' is not a duration (expected e.g. 500ms, 5s, 2m, 1h)");
  }
  if (suffix.empty()) {
    return Status::Invalid("'", text, "' needs a unit (ns, us, ms, s, m, h or d), e.g. ", number,
                           "s");
  }
  for (const Unit& unit : kUnits) {
    if (suffix == unit.suffix) {
      double nanoseconds = value * static_cast<double>(unit.nanoseconds);
      if (!std::isfinite(nanoseconds) || nanoseconds > 9.2e18) {
        return Status::Invalid("'", text, "' is too long a duration");
      }
      return Duration(static_cast<int64_t>(std::llround(nanoseconds)));
    }
  }
  return Status::Invalid("'", text, "' has an unknown unit '", suffix,
                         "' (use ns, us, ms, s, m, h or d)");
}

std::string FormatDuration(Duration duration) {
  int64_t value = duration.count();
  if (value == 0) return "0s";
  for (auto it = std::rbegin(kUnits); it != std::rend(kUnits); ++it) {
    if (value % it->nanoseconds == 0)
      return fmt::format("{}{}", value / it->nanoseconds, it->suffix);
  }
  return fmt::format("{}ns", value);
}

}  // namespace sluice
