#include "sluice/common/byte_size.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <utility>

namespace sluice {

Result<int64_t> ParseByteSize(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, double>, 9> kUnits = {{
      {"B", 1.0},
      {"KB", 1024.0},
      {"MB", 1024.0 * 1024},
      {"GB", 1024.0 * 1024 * 1024},
      {"TB", 1024.0 * 1024 * 1024 * 1024},
      {"KiB", 1024.0},
      {"MiB", 1024.0 * 1024},
      {"GiB", 1024.0 * 1024 * 1024},
      {"TiB", 1024.0 * 1024 * 1024 * 1024},
  }};
  size_t digits = 0;
  while (digits < text.size() &&
         ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) {
    ++digits;
  }
  std::string_view unit = text.substr(digits);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  double number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + digits, number);
  if (digits == 0 || error != std::errc() || end != text.data() + digits) {
    return Status::Invalid("'", text, "' is not a size; write e.g. 64MB or 4GB");
  }
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    double bytes = std::round(number * factor);
    if (bytes > 9.0e18) return Status::Invalid("'", text, "' is too large");
    return static_cast<int64_t>(bytes);
  }
  return Status::Invalid("'", text, "' has no size unit; write e.g. 64MB or 4GB (B, KB, MB, GB, TB)");
}

std::string FormatByteSize(int64_t bytes) {
  static constexpr std::array<std::string_view, 5> kUnits = {"B", "KB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < kUnits.size()) {
    value /= 1024;
    ++unit;
  }
  if (unit == 0) return fmt::format("{} B", bytes);
  return fmt::format("{:.{}f} {}", value, value < 10 ? 1 : 0, kUnits[unit]);
}

}  // namespace sluice
