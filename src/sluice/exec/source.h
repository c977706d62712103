#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include <arrow/record_batch.h>
#include <arrow/type.h>

#include "sluice/common/status.h"
#include "sluice/exec/dead_letter.h"

namespace sluice::exec {

/// Where a source delivers its micro-batches.
class SourceOutput {
 public:
  virtual ~SourceOutput() = default;

  /// Hands one micro-batch to the pipeline. Blocks while the pipeline's queue is full: this is
  /// how backpressure reaches a source (a file source stops reading, a broker source pauses).
  /// Returns Status::Cancelled when the run is stopping; the source should then return.
  virtual Status Push(std::shared_ptr<arrow::RecordBatch> batch) = 0;

  /// Records a rejected input record.
  virtual void Reject(DeadLetter letter) = 0;

  /// Whether a stop was requested (SIGINT/SIGTERM). Long-running sources check it.
  virtual bool stopping() const = 0;
};

/// How far a bounded source has got, for the progress line.
struct SourceProgress {
  int64_t bytes_read = 0;
  /// Total bytes to read, when known.
  std::optional<int64_t> bytes_total;
};

/// Produces micro-batches from an external system or a generator.
///
/// Lifecycle: built by its factory (which opens enough of the input to know the schema, so
/// configuration errors come before the run); `Run()` is then called once on a thread of its
/// own and returns when the input ends (bounded) or when `out.stopping()` becomes true.
/// `progress()` may be called from another thread.
class Source {
 public:
  virtual ~Source() = default;

  /// The schema of every batch the source pushes.
  virtual std::shared_ptr<arrow::Schema> schema() const = 0;

  /// Whether the input ends by itself (files, a counted generator).
  virtual bool bounded() const = 0;

  /// Reads until the input ends or a stop is requested.
  virtual Status Run(SourceOutput& out) = 0;

  virtual SourceProgress progress() const { return {}; }
};

}  // namespace sluice::exec
