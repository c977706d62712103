#pragma once

#include <arrow/buffer.h>
#include <arrow/filesystem/filesystem.h>

#include <memory>
#include <string>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::state {

/// The file operations that checkpoints are made of, relative to one root folder (a local
/// directory or a bucket prefix). Every step of the commit protocol goes through here, one
/// primitive at a time, so that tests can fail or "crash" at any of them (the LevelDB `Env`
/// idea; see FaultInjectingStorage in the tests).
///
/// Implementations are used from the checkpoint writer thread and, before a run, from the
/// pipeline thread; never from two threads at once.
class Storage {
 public:
  virtual ~Storage() = default;

  /// The root, for messages (a path or URI, never with credentials).
  virtual std::string root() const = 0;
  /// Creates `path` (a folder) and its parents; OK when it exists.
  virtual Status CreateDir(const std::string& path) = 0;
  /// Creates or truncates `path` and writes `bytes` to it. Not durable until SyncFile().
  virtual Status WriteFile(const std::string& path, const std::shared_ptr<arrow::Buffer>& bytes) = 0;
  /// Makes the contents of `path` durable (fsync). A no-op where writes are durable when they
  /// return (object storage).
  virtual Status SyncFile(const std::string& path) = 0;
  /// Renames `from` to `to`, replacing `to`. Atomic on a local filesystem.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  /// Makes the entries of folder `path` (creations, renames, removals) durable.
  virtual Status SyncDir(const std::string& path) = 0;
  /// The whole file. A missing file is an IOError that says so.
  virtual Result<std::shared_ptr<arrow::Buffer>> ReadFile(const std::string& path) = 0;
  /// The names (not paths) of the entries of folder `path`; empty when it does not exist.
  virtual Result<std::vector<std::string>> List(const std::string& path) = 0;
  virtual Result<bool> Exists(const std::string& path) = 0;
  /// Removes folder `path` with everything in it; OK when it does not exist.
  virtual Status DeleteDir(const std::string& path) = 0;
  /// Whether Rename() is atomic and cheap (a local filesystem), so that a file can be written
  /// under a temporary name and renamed into place; object storage writes whole objects
  /// atomically instead.
  virtual bool atomic_rename() const = 0;
  /// Claims the root for this process until the storage is destroyed, so that two runs of one
  /// pipeline never write checkpoints into one folder at once (an flock on `LOCK` in a local
  /// folder; object storage has no locks, and this is a no-op there). An error names the holding
  /// process.
  virtual Status Lock() { return Status::OK(); }
};

/// The storage for `location`: a local path or a URI Arrow's filesystem layer knows (`file://`,
/// `s3://bucket/prefix`), reached through arrow::fs::FileSystem. A relative local path is taken
/// from the working directory.
Result<std::unique_ptr<Storage>> OpenStorage(const std::string& location);

/// Writes `bytes` to `path` so that after OK it survives a crash with exactly these bytes and a
/// crash before leaves `path` as it was (write a temporary, fsync it, rename it into place,
/// fsync the folder). On object storage a single whole-object write does the same.
Status WriteDurably(Storage& storage, const std::string& path,
                    const std::shared_ptr<arrow::Buffer>& bytes);

}  // namespace sluice::state
