#pragma once

#include <arrow/record_batch.h>
#include <arrow/type.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/exec/dead_letter.h"
#include "sluice/exec/time.h"
#include "sluice/state/state_snapshot.h"

namespace sluice::exec {

/// Receives the batches a processor emits.
class Emitter {
 public:
  virtual ~Emitter() = default;
  virtual Status Emit(std::shared_ptr<arrow::RecordBatch> batch) = 0;
};

/// An Emitter that collects batches into a vector.
class CollectingEmitter : public Emitter {
 public:
  Status Emit(std::shared_ptr<arrow::RecordBatch> batch) override {
    if (batch->num_rows() > 0) batches_.push_back(std::move(batch));
    return Status::OK();
  }
  std::vector<std::shared_ptr<arrow::RecordBatch>>& batches() { return batches_; }

 private:
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches_;
};

/// One input stream of a processor: a source's stream or another stage's output.
struct InputStream {
  /// The stream's name in the pipeline file (`quotes`, `nexmark.bid`, a step's `name`).
  std::string name;
  std::shared_ptr<arrow::Schema> schema;
  /// The stream's event-time field (a timestamp[us, UTC] column), empty without event time.
  std::string event_time_field;
};

/// What a processor may use besides its batches. Processors keep a copy.
struct ProcessorContext {
  std::string pipeline_name;
  DeadLetterQueue* dead_letters = nullptr;
  /// The event-time field of the pipeline's input (a timestamp[us, UTC] column), as the
  /// sources declared it with `event_time`; empty when the sources use ingest time. Stages
  /// that keep the field keep it under this name. In a pipeline with several streams: the
  /// field of this processor's (first) input stream.
  std::string event_time_field;
  /// The processor's inputs, in order: one for most processors (its schema is also the factory's
  /// `input_schema`), two for a join (left, then right; see PluginSpec::input_options).
  std::vector<InputStream> inputs;
  /// Whether the pipeline's input ends (every source is bounded), so that Finish() comes at its
  /// end; when it does not, only a graceful stop calls Finish(). A processor whose state would
  /// grow for as long as the input lasts refuses to be built on an unbounded input.
  bool bounded = true;
  /// During Process(): for each row of the batch, the watermark formed by the rows before it in
  /// its own source partition when the row is behind it, else kMinTimestamp; empty when no row of
  /// the batch is behind. Read it through LatenessWatermarks. Owned by the pipeline.
  const std::vector<Timestamp>* row_watermarks = nullptr;
};

/// The watermarks that decide whether the rows of the batch being processed are late: the
/// processor's own (`watermark`, from its last OnWatermark()), or — for a row behind the rows
/// before it in its partition — that partition's watermark when later. Deciding against them
/// makes results independent of batch boundaries, file layout and how partitions interleave.
/// Made once per Process() call: most batches have no row behind, and then [row] is `watermark`.
class LatenessWatermarks {
 public:
  LatenessWatermarks(const ProcessorContext& context, Timestamp watermark)
      : watermark_(watermark),
        rows_(context.row_watermarks == nullptr || context.row_watermarks->empty()
                  ? nullptr
                  : context.row_watermarks->data()) {}
  Timestamp operator[](int64_t row) const {
    return rows_ == nullptr ? watermark_ : std::max(watermark_, rows_[row]);
  }

 private:
  Timestamp watermark_;
  const Timestamp* rows_;
};

/// One stage of a pipeline: takes micro-batches and emits zero or more batches.
///
/// A processor is built for a fixed input schema (known before the run starts, so that
/// configuration errors surface before any data flows) and declares its output schema.
/// Processors are driven by one thread at a time; they need no locking.
class Processor {
 public:
  virtual ~Processor() = default;

  /// The schema of every batch this processor emits.
  virtual std::shared_ptr<arrow::Schema> output_schema() const = 0;

  /// Processes one micro-batch of the input schema.
  ///
  /// A row-wise processor may fail a batch with a data error (a failed cast, an overflow): the
  /// driver then re-runs it on smaller slices to isolate the offending rows, which become dead
  /// letters (see `row_wise()`). Any other processor must handle bad rows itself: an error it
  /// returns fails the run.
  virtual Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, Emitter& out) = 0;

  /// Processes one micro-batch of input `input` (an index into ProcessorContext::inputs), for
  /// processors with several inputs; the others have only input 0, which is Process().
  virtual Status ProcessInput(size_t input, const std::shared_ptr<arrow::RecordBatch>& batch,
                              Emitter& out) {
    (void)input;
    return Process(batch, out);
  }

  /// The event-time field of the rows this processor emits, when it is not the input's: a
  /// window's rows stand at their `window_end`. Empty means the input's field, if the output
  /// still has it; without one, later stages of the stream run on processing time.
  virtual std::string output_event_time_field() const { return {}; }

  /// The event-time watermark advanced to `watermark`: no row with an earlier event time is
  /// expected any more (one that still comes is late). Windows whose end the watermark has
  /// passed fire here. Called after the batch that moved the watermark has been processed.
  virtual Status OnWatermark(Timestamp watermark, Emitter& out) {
    (void)watermark;
    (void)out;
    return Status::OK();
  }

  /// The end of the input, after a final OnWatermark(kMaxTimestamp): a processor with state
  /// emits what it still holds.
  virtual Status Finish(Emitter& out) {
    (void)out;
    return Status::OK();
  }

  /// Approximate bytes of state held now, for the run summary and `max_state`.
  virtual int64_t state_bytes() const { return 0; }

  /// Whether SnapshotState() and RestoreState() are implemented, so that a pipeline with
  /// `checkpoint:` can hold this stage. A stateless stage has nothing to save.
  virtual bool checkpointable() const { return stateless(); }

  /// The stage's whole state now, for a checkpoint: taken on the pipeline thread between two
  /// calls of Process()/OnWatermark(), so it must be quick (copy flat arrays, share batches that
  /// are never changed) and must not share anything the stage changes later (see
  /// state::StateSnapshot). A stateless stage returns an empty snapshot.
  virtual Result<state::StateSnapshot> SnapshotState() const { return state::StateSnapshot{}; }

  /// Replaces the state of a freshly built stage (nothing processed yet) with `snapshot`, made
  /// by SnapshotState() of a stage built from the same configuration and input schemas (the
  /// pipeline checks both before it calls this). Processing then continues as if the stage had
  /// never stopped: same output, same dead letters, for the rest of the input.
  virtual Status RestoreState(const state::StateSnapshot& snapshot) {
    (void)snapshot;
    return Status::OK();
  }

  /// Whether Process() keeps no state between batches.
  virtual bool stateless() const { return true; }

  /// Whether each output row of Process() depends on one input row alone, so that running it on
  /// any slicing of a batch gives the same rows (filter, derive, cast, select, a row-wise sql
  /// statement). Only then may a failed batch be retried in slices to isolate its bad rows:
  /// re-running a step that reads rows together (ranks, groups, limits) on a slice gives a
  /// different result, not the same one without the bad rows. False unless a processor declares
  /// it, so that a new processor is never sliced by mistake.
  virtual bool row_wise() const { return false; }

  /// Whether Process() emits exactly one row per input row, in order (derive, cast, select):
  /// then a row's position in its source stays known downstream, for dead-letter origins.
  virtual bool preserves_rows() const { return false; }

  /// For a stage that only drops rows and keeps the others in order (filter): the mask of the
  /// rows its last Process() call kept (true: kept; null or false: dropped), or null when it
  /// kept them all. Lets the dead letters of later stages name where their rows came from.
  virtual std::shared_ptr<arrow::Array> kept_rows() const { return nullptr; }
  virtual bool filters_rows() const { return false; }
};

}  // namespace sluice::exec
