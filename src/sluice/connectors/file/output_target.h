#pragma once

#include <arrow/io/type_fwd.h>

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/common/io_error.h"
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
  /// `remove_stray_files` removes the temporary files of `path` that killed runs left; a rolling
  /// sink, which removes its own (and must keep those a checkpoint holds), passes false, which
  /// also spares listing a directory of many parts at every part.
  static Result<std::unique_ptr<OutputTarget>> Open(const std::string& path,
                                                    bool remove_stray_files = true);

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
  /// The hidden temporary file the bytes go to; empty for a direct target, or once published,
  /// aborted or released.
  const std::string& temporary() const { return temporary_; }
  /// The file Publish() replaces (`path()`, or the end of its symlinks); empty when direct.
  const std::string& final_path() const { return final_; }

  /// Makes the written file the target: syncs it to disk, renames it into place and syncs the
  /// directory. Nothing to do for a direct target.
  Status Publish();
  /// Removes the temporary file; the previous target is left as it was.
  void Abort();

  /// Syncs the written temporary file to disk without making it visible, for a two-phase
  /// commit (a rolling sink's checkpoint). The writer must have closed the stream.
  Status Sync();
  /// Hands the temporary file over to the caller: it is no longer removed by Abort(), by the
  /// destructor or by RemoveTemporaryFiles(), because a checkpoint that lists it may still
  /// commit it (RenameIntoPlace()) after this process is gone.
  void Release();

 private:
  OutputTarget() = default;

  std::string path_;
  /// The file that Publish() replaces: `path_`, or the end of its symlinks.
  std::string final_;
  /// Empty for a direct target.
  std::string temporary_;
  std::shared_ptr<arrow::io::OutputStream> stream_;
};

/// Renames a synced temporary file over `final_path`; SyncDirectoryOf() then makes the rename
/// durable. Idempotent for a checkpoint's commit, which recovery repeats: a temporary file
/// already gone while `final_path` exists was renamed before; both missing is an error naming
/// them.
Status RenameIntoPlace(const std::string& temporary, const std::string& final_path);

/// Syncs the directory holding `file`, so that a rename in it survives a crash.
Status SyncDirectoryOf(const std::string& file);

/// The hidden temporary name, ".<name>.sluice-<pid>.tmp", under which this process writes a
/// file named `name` (a file name, not a path).
std::string TemporaryName(const std::string& name);

/// For the name of a temporary file (not a path): the name of the file it stands for and the
/// process that wrote it; nullopt for any other name.
std::optional<std::pair<std::string, pid_t>> ParseTemporaryName(std::string_view file);

/// Whether process `pid`, which wrote a temporary file, is gone, so that the file is a leftover
/// of a killed run. This process's own id counts as gone: callers ask only about files they do
/// not hold, which an earlier process with the same id left (process ids repeat in containers).
bool WriterGone(pid_t pid);

/// Removes every temporary file an OutputTarget of this process still holds. For the exit path
/// of an interrupted run, from any thread.
void RemoveTemporaryFiles();

}  // namespace sluice::connectors
