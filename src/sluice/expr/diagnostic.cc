#include "sluice/expr/diagnostic.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace sluice::expr {

namespace {

/// The number of UTF-8 characters in the first `offset` bytes of `text`.
size_t CharacterOffset(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  size_t characters = 0;
  for (size_t i = 0; i < offset; ++i) {
    // Continuation bytes (10xxxxxx) belong to the character before them.
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++characters;
  }
  return characters;
}

size_t CaseInsensitiveEditDistance(std::string_view left, std::string_view right) {
  std::vector<size_t> previous(right.size() + 1);
  std::vector<size_t> current(right.size() + 1);
  for (size_t j = 0; j <= right.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= left.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= right.size(); ++j) {
      const bool same = std::tolower(static_cast<unsigned char>(left[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(right[j - 1]));
      current[j] =
          std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (same ? 0 : 1)});
    }
    std::swap(previous, current);
  }
  return previous[right.size()];
}

}  // namespace

Status ErrorAt(const config::LocatedText& source, size_t offset, std::string_view message,
               std::string_view hint) {
  return config::ConfigError(source.At(CharacterOffset(source.text, offset)), message, hint);
}

std::string ClosestMatch(std::string_view wanted, const std::vector<std::string>& candidates) {
  // Names are short; a third of the length (at least 1, at most 3) separates typos from
  // unrelated names well enough.
  const size_t limit = std::clamp<size_t>(wanted.size() / 3, 1, 3);
  std::string best;
  size_t best_distance = limit + 1;
  for (const auto& candidate : candidates) {
    const size_t distance = CaseInsensitiveEditDistance(wanted, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string DidYouMean(std::string_view wanted, const std::vector<std::string>& candidates) {
  std::string closest = ClosestMatch(wanted, candidates);
  if (closest.empty()) return {};
  return fmt::format("did you mean '{}'?", closest);
}

}  // namespace sluice::expr
