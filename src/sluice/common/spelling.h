#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

/// The candidate closest to `word` by edit distance, when it is close enough to be a likely
/// misspelling (at most a third of the word's length, and at least one edit allowed).
std::optional<std::string> ClosestSpelling(std::string_view word,
                                           const std::vector<std::string>& candidates);

/// "did you mean 'x'?" for the closest candidate, or "expected one of: a, b, c" when none is close.
std::string SpellingHint(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace sluice
