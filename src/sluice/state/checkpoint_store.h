#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/state/manifest.h"
#include "sluice/state/state_snapshot.h"
#include "sluice/state/storage.h"

namespace sluice::state {

/// A checkpoint on its way to storage: the manifest (without its stages' files, which Write()
/// fills in) and each stage's snapshot, in the order of manifest.stages.
struct CheckpointData {
  Manifest manifest;
  std::vector<StateSnapshot> stages;
};

/// The checkpoints of one pipeline in one folder (local or object storage):
///
///     <dir>/chk-000000000012/manifest.json      written last: the checkpoint is complete (or,
///                                               with a deciding sink, prepared) once it is there
///     <dir>/chk-000000000012/stage-0-1.arrow    state: stage 0's table 1 (Arrow IPC)
///     <dir>/chk-000000000012/COMMITTED          with a deciding sink: its commit succeeded
///     <dir>/archive-<time>/chk-...              checkpoints put aside by `--fresh`
///
/// A crash at any point leaves every earlier checkpoint valid: a checkpoint's files go into its
/// own folder, and its manifest is written durably (temporary, fsync, rename, fsync of the
/// folder) after them. Not thread-safe: one thread at a time (the writer thread while a run
/// goes, the pipeline thread before and after).
class CheckpointStore {
 public:
  CheckpointStore(std::unique_ptr<Storage> storage, int retain);

  /// Where the checkpoints are, for messages.
  std::string location() const { return storage_->root(); }

  /// Claims the folder for this run (Storage::Lock()); before anything else is done with it.
  Status Lock() { return storage_->Lock(); }

  /// Writes `data`'s state files, then its manifest. Fills data.manifest.stages[i].files.
  Status Write(CheckpointData* data);

  /// Records that the deciding sink committed checkpoint `id` (durably).
  Status MarkCommitted(int64_t id);
  Result<bool> IsCommitted(int64_t id);

  /// The ids of the checkpoint folders, newest first (complete or not).
  Result<std::vector<int64_t>> List();
  /// The manifest of checkpoint `id`; nullopt when it is missing (the checkpoint never
  /// completed: a crash while it was written), an IOError when it is there but damaged, which
  /// the commit protocol never leaves (the manifest is renamed into place whole).
  Result<std::optional<Manifest>> ReadManifest(int64_t id);
  /// A stage's state from its files, each checked against its size and CRC-32 first.
  Result<StateSnapshot> ReadStage(const Manifest& manifest, const StageRecord& stage);

  /// Removes checkpoint `id` (one that never completed).
  Status Discard(int64_t id);
  /// Checkpoint `id` completed: keeps it and the `retain` - 1 complete ones before it, and
  /// removes the older ones.
  Status Completed(int64_t id);
  /// Moves every checkpoint into `archive-<stamp>/` (for `--fresh`); returns that folder, or
  /// empty when there was nothing to move.
  Result<std::string> Archive(const std::string& stamp);

 private:
  static std::string Folder(int64_t id);

  std::unique_ptr<Storage> storage_;
  int retain_;
  /// Complete checkpoints known to this store, oldest first.
  std::vector<int64_t> completed_;
};

}  // namespace sluice::state
