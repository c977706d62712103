#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::connectors {

/// A finished part file of a rolling file sink that a checkpoint holds back: synced under its
/// hidden temporary name, and made visible by renaming it to its final path.
struct PendingPart {
  std::string temporary;
  std::string final_path;
};

/// What a rolling file sink's PrepareCheckpoint() describes and CommitCheckpoint() or
/// AbortCheckpoint() act on, kept as JSON text in the checkpoint's manifest:
///
///     {"parts":[{"temporary":"out/.part-000001.csv.sluice-42.tmp",
///                "final":"out/part-000001.csv"}],"next_part":2}
///
/// Paths are as the sink made them from its `path` (relative to the working directory when
/// that is). `next_part` lets a restarted run continue the part ids.
struct PendingParts {
  std::vector<PendingPart> parts;
  /// The id the next part gets; 0 when unknown (an empty description, "{}").
  int64_t next_part = 0;

  std::string ToJson() const;
  /// Reads what ToJson() wrote; an error for anything else.
  static Result<PendingParts> FromJson(std::string_view text);
};

}  // namespace sluice::connectors
