#pragma once

#include <arrow/io/type_fwd.h>

#include <memory>
#include <string>

#include "sluice/common/status.h"

namespace sluice::connectors {

/// Where a file sink's bytes go, and how they become visible.
///
/// A regular file (or a path that does not exist yet) is staged: the bytes go to a hidden
/// temporary file beside it, ".<name>.sluice-<pid>.tmp", and Publish() renames that over the
/// target, so a reader sees either the previous file or the whole new one. A symlink is
/// followed: its final target is what gets replaced, and the link stays. What is not a regular
/// file — a character device (/dev/null), a FIFO, a socket, or standard output named as
/// /dev/stdout, /dev/fd/N or /proc/self/fd/N — is written directly, without a rename, because
/// renaming over it would replace the device by a file. A directory is an error.
///
/// Temporary files of earlier runs that were killed (whose process is gone) are removed when a
/// target in the same directory is opened. While a temporary file exists it is listed in a
/// process-wide registry, so that a forced exit can remove it (RemoveTemporaryFiles()).
///
/// Publish() or Abort() ends it; destroyed without either, it aborts. One thread at a time.
class OutputTarget {
 public:
  /// Decides how `path` is written; creates missing parent directories for a staged file.
  static Result<std::unique_ptr<OutputTarget>> Open(const std::string& path);

  ~OutputTarget();
  OutputTarget(const OutputTarget&) = delete;
  OutputTarget& operator=(const OutputTarget&) = delete;

  /// The stream to write to: the temporary file, or the target itself when written directly.
  /// Closing it is the writer's business; Publish() needs it closed.
  std::shared_ptr<arrow::io::OutputStream> stream() const { return stream_; }
  /// True when the bytes go straight to the target (no rename).
  bool direct() const { return temporary_.empty(); }
  /// The path the sink was given.
  const std::string& path() const { return path_; }

  /// Makes the written file the target: syncs it to disk, renames it into place and syncs the
  /// directory. Nothing to do for a direct target.
  Status Publish();
  /// Removes the temporary file; the previous target is left as it was.
  void Abort();

 private:
  OutputTarget() = default;

  std::string path_;
  /// The file that Publish() replaces: `path_`, or the end of its symlinks.
  std::string final_;
  /// Empty for a direct target.
  std::string temporary_;
  std::shared_ptr<arrow::io::OutputStream> stream_;
};

/// `status` (an error of writing `path`) with the path in its message and, when it carries an
/// OS error, that error's text and name: "cannot write 'out/a.csv': No space left on device
/// (ENOSPC)".
Status DescribeWriteError(const Status& status, std::string_view verb, const std::string& path);

/// Removes every temporary file an OutputTarget of this process still holds. For the exit path
/// of an interrupted run, from any thread.
void RemoveTemporaryFiles();

}  // namespace sluice::connectors
