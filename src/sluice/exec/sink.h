#pragma once

#include <memory>

#include <arrow/record_batch.h>
#include <arrow/type.h>

#include "sluice/common/status.h"

namespace sluice::exec {

/// Receives the pipeline's output.
///
/// Lifecycle: `Open()` once with the output schema, `Write()` per batch, `Close()` at the end
/// of a run (it flushes and commits: a file sink renames its temporary file into place, so a
/// reader never sees a half-written file). Called from the pipeline thread only.
///
/// Write() answers OK; an IOError when the external system failed in a way worth retrying;
/// any other error is fatal for the run.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status Open(const std::shared_ptr<arrow::Schema>& schema) = 0;
  virtual Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) = 0;
  virtual Status Flush() { return Status::OK(); }
  virtual Status Close() = 0;
};

}  // namespace sluice::exec
