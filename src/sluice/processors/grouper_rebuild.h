#pragma once

// Stages that forget keys (dedup, aggregate with a ttl) map keys to dense ids with an Arrow
// Grouper, which cannot forget single keys; once most of its keys are gone they rebuild it
// from the live ones.

#include <arrow/compute/row/grouper.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::processors {

/// A grouper holding some of another's keys, and the new id of each.
struct RebuiltGrouper {
  std::unique_ptr<arrow::compute::Grouper> grouper;
  /// The new id of each kept key, in the order of the old ids.
  std::vector<uint32_t> new_ids;
};

/// A new grouper over keys of `types` holding the keys of `grouper` whose old id `keep` marks
/// (one byte per id, `kept` of them non-zero).
Result<RebuiltGrouper> RebuildGrouper(arrow::compute::Grouper& grouper,
                                      const std::vector<arrow::TypeHolder>& types,
                                      const std::vector<uint8_t>& keep, int64_t kept);

}  // namespace sluice::processors
