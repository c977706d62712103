#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/location.h"

namespace sluice::expr {

/// A configuration error about the expression `source`, located at byte `offset` of its text.
/// Columns count characters, not bytes, so the offset is converted before it is mapped to the
/// file.
Status ErrorAt(const config::LocatedText& source, size_t offset, std::string_view message,
               std::string_view hint = {});

/// The candidate closest to `wanted` by edit distance (ignoring case), if it is close enough to
/// be a plausible typo; otherwise empty. Feeds the "did you mean" hints.
std::string ClosestMatch(std::string_view wanted, const std::vector<std::string>& candidates);

/// "did you mean 'x'?" for the closest candidate, or empty when none is close.
std::string DidYouMean(std::string_view wanted, const std::vector<std::string>& candidates);

}  // namespace sluice::expr
