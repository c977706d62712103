#pragma once

#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <arrow/util/io_util.h>

#include <cerrno>
#include <memory>

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
};

/// True when `status` says the reader of a pipe went away (EPIPE).
inline bool ReaderGone(const Status& status) {
  return status.IsIOError() && arrow::internal::ErrnoFromStatus(status) == EPIPE;
}

}  // namespace sluice::exec
