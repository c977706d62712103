#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/exec/time.h"

namespace sluice::connectors {

/// What identifies the content of a file between two runs: its size and modification time. A
/// file whose stamp differs from the one a checkpoint recorded has been changed (or replaced).
struct FileStamp {
  /// -1 when the file could not be examined (it is gone, or unreadable).
  int64_t size = -1;
  /// The modification time in nanoseconds of the file system's clock.
  int64_t modified_ns = -1;

  bool known() const { return size >= 0; }
  bool operator==(const FileStamp& other) const {
    return size == other.size && modified_ns == other.modified_ns;
  }
  bool operator!=(const FileStamp& other) const { return !(*this == other); }
};

/// The stamp of `path` now; unknown when it cannot be examined.
FileStamp StampOf(const std::string& path);

/// How far the file source had read one file of its glob when a checkpoint was taken.
struct FilePosition {
  /// The path as the glob gave it, with bytes that are not UTF-8 escaped (EscapeInvalidUtf8),
  /// so that it survives JSON.
  std::string path;
  /// The file's watermark partition, which stays the file's number after a restore.
  int32_t partition = 0;
  /// Rows delivered (pushed) from the file; the next row's number in dead-letter origins.
  int64_t rows = 0;
  /// The latest event time delivered (side-by-side reading picks the file furthest behind).
  exec::Timestamp latest = exec::kMinTimestamp;
  /// Whether the file was read to its end (or given up as unreadable).
  bool done = false;
  /// The file when it was opened; unknown for a file not opened yet.
  FileStamp stamp;
};

/// The file source's position as JSON text: {"files": [{"path": ..., ...}, ...]}.
std::string EncodeFilePositions(const std::vector<FilePosition>& files);

/// The positions in `text` written by EncodeFilePositions(); Invalid when it is not one.
Result<std::vector<FilePosition>> DecodeFilePositions(const std::string& text);

}  // namespace sluice::connectors
