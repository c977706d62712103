#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/connectors/common/s3_multipart.h"

namespace sluice::connectors {

/// A finished part file of a rolling file sink that a checkpoint holds back: a local file synced
/// under its hidden temporary name, made visible by renaming it to its final path; or an object
/// (`final_path` s3://bucket/key) whose bytes are all uploaded as parts of a multipart upload,
/// made visible by completing it.
struct PendingPart {
  /// Empty for an object.
  std::string temporary;
  std::string final_path;
  /// For an object: the upload, its parts, and the object's size once completed.
  std::string upload_id;
  std::vector<UploadedPart> uploaded;
  int64_t size = 0;

  bool is_object() const { return !upload_id.empty(); }
  /// What tells this part from others: its temporary file, or its upload.
  std::string Identity() const;
};

/// What a rolling file sink's PrepareCheckpoint() describes and CommitCheckpoint() or
/// AbortCheckpoint() act on, kept as JSON text in the checkpoint's manifest:
///
///     {"parts":[{"temporary":"out/.part-000001.csv.sluice-42.tmp",
///                "final":"out/part-000001.csv"}],"next_part":2}
///
/// An object's part has no "temporary" but "upload_id", "size" and "uploaded", the parts
/// uploaded as [number, ETag] pairs:
///
///     {"final":"s3://lake/out/part-000001.parquet","upload_id":"2~xyz","size":5243000,
///      "uploaded":[[1,"\"9b2cf5...\""],[2,"\"0e1d7c...\""]]}
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
