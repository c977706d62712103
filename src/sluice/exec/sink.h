#pragma once

#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <arrow/util/io_util.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::exec {

class Source;

/// Input the pipeline is finished with: everything made from it has been written to every sink.
struct InputDone {
  /// The source it came from; a sink that commits the input's position with its output (Kafka
  /// transactions) asks it for that position.
  Source* source = nullptr;
  /// The first `batches` batches the source pushed, counted as for Source::OnBatchesDone().
  int64_t batches = 0;
  /// The run is ending: the source has nothing more (records it rejected after its last batch
  /// are done too).
  bool end_of_run = false;
};

/// Receives the pipeline's output.
///
/// Lifecycle: `Open()` once with the output schema, `Write()` per batch, then either `Close()`
/// and `Publish()` at the end of a successful run, or `Abort()` at the end of a failed or
/// interrupted one. Called from the pipeline thread only.
///
/// Write() answers OK; an IOError when the external system failed in a way worth retrying;
/// any other error is fatal for the run. An IOError whose errno is EPIPE (ReaderGone()) means
/// the reader of a pipe went away: the pipeline stops writing to that sink and the others go on.
///
/// Commit() is the transaction boundary: after each input batch is done (every row it produced
/// went through Write(), before the source is acknowledged) and once more before Close() at the
/// end of a successful run. A transactional sink makes what it wrote since the last Commit()
/// visible there, atomically with the input's position when it can (exactly-once); an error
/// fails the run. Most sinks need not override it.
///
/// Close() completes the output without making it visible where it can be held back (a file
/// sink writes its footer into its temporary file). Publish() is called only once every sink
/// has closed successfully, and makes it visible (the file sink renames its file into place).
/// So a run publishes either every sink's output or none. Abort() discards what was not
/// committed and leaves the previous output as it was; it may follow a failed Close().
/// How a sink takes part in checkpoints (see Sink::PrepareCheckpoint()).
enum class CheckpointRole {
  /// It cannot resume its output after a restart: a pipeline with `checkpoint:` refuses it (a
  /// single output file, which a restarted run could not continue, would lose rows).
  kUnsupported,
  /// Output is not held back: rows written after the last checkpoint are written again after a
  /// restart (at-least-once; the console).
  kAtLeastOnce,
  /// Output is held back until the checkpoint that covers it completes, and recovery can finish
  /// or discard a pending commit from its description alone (rolling part files committed by
  /// rename): exactly-once.
  kTwoPhase,
  /// Like kTwoPhase, but committing is the decision itself and cannot be redone from a
  /// description (a Kafka transaction): the checkpoint counts as complete exactly when this
  /// sink's commit succeeded, which recovery asks with LastCommittedCheckpoint(). At most one
  /// such sink per pipeline.
  kDeciding,
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status Open(const std::shared_ptr<arrow::Schema>& schema) = 0;
  virtual Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) = 0;
  virtual Status Flush() { return Status::OK(); }
  virtual Status Commit(const InputDone& done) {
    (void)done;
    return Status::OK();
  }
  virtual Status Close() = 0;
  virtual Status Publish() { return Status::OK(); }
  virtual void Abort() {}

  // Checkpoints (a pipeline with `checkpoint:`). Instead of Commit(InputDone) after each batch,
  // the pipeline calls PrepareCheckpoint(id) when it takes checkpoint `id`, then, once the
  // checkpoint is durably written, CommitCheckpoint(id, pending) with what PrepareCheckpoint()
  // returned. Prepares and commits alternate, in increasing id order. At the end of a successful
  // run a last checkpoint is taken and committed before Close().

  virtual CheckpointRole checkpoint_role() const { return CheckpointRole::kUnsupported; }

  /// Everything written so far belongs to checkpoint `id`: make it durable without making it
  /// visible, and describe it (JSON text, kept in the checkpoint's manifest). What is written
  /// after this call belongs to the next checkpoint.
  virtual Result<std::string> PrepareCheckpoint(int64_t id) {
    (void)id;
    return std::string("{}");
  }

  /// Checkpoint `id` is complete: make its output visible. Idempotent: recovery calls it again,
  /// on a sink that was opened but has written nothing, for the last complete checkpoint (whose
  /// commit may or may not have happened before a crash); the sink then also continues from
  /// `pending` (its next part number).
  virtual Status CommitCheckpoint(int64_t id, const std::string& pending) {
    (void)id;
    (void)pending;
    return Status::OK();
  }

  /// Recovery: checkpoint `id` was prepared but never completed; discard its pending output.
  /// Called on an opened sink before anything is written.
  virtual Status AbortCheckpoint(int64_t id, const std::string& pending) {
    (void)id;
    (void)pending;
    return Status::OK();
  }

  /// For a kDeciding sink, at recovery after Open(): the id of the last checkpoint whose commit
  /// succeeded, or -1 when none did.
  virtual Result<int64_t> LastCommittedCheckpoint() { return -1; }

  /// Recovery, after Open() and before anything is written: removes what a killed run left
  /// that no checkpoint lists (temporary part files). `keep` are the pending descriptions of
  /// the checkpoints that are kept.
  virtual Status RemoveStrays(const std::vector<std::string>& keep) {
    (void)keep;
    return Status::OK();
  }
};

/// True when `status` says the reader of a pipe went away (EPIPE).
inline bool ReaderGone(const Status& status) {
  return status.IsIOError() && arrow::internal::ErrnoFromStatus(status) == EPIPE;
}

}  // namespace sluice::exec
