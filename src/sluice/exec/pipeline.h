#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/pipeline_config.h"
#include "sluice/exec/dead_letter.h"
#include "sluice/exec/pipeline_metrics.h"
#include "sluice/exec/processor.h"
#include "sluice/exec/registry.h"
#include "sluice/exec/row_origins.h"
#include "sluice/exec/sink.h"
#include "sluice/exec/source.h"
#include "sluice/exec/time.h"

namespace sluice::exec {

/// What a finished run did, for the summary line and for tests.
struct RunSummary {
  int64_t rows_in = 0;
  int64_t rows_out = 0;
  /// The rows each sink wrote, by sink name, in the order of the file's `sinks` (a row that two
  /// sinks write counts once in rows_out and once for each sink here).
  std::vector<std::pair<std::string, int64_t>> sink_rows;
  int64_t dead_letters = 0;
  int64_t batches = 0;
  /// Dead letters rejected as late (included in dead_letters).
  int64_t late = 0;
  /// Damaged input skipped whole, as its dead letters counted it: rows (when the format knows
  /// them) and bytes. Conservation: rows in + rows skipped = rows out + filtered + dead letters.
  int64_t skipped_rows = 0;
  int64_t skipped_bytes = 0;
  /// The most state the processors held at once, in bytes (windows, joins, dedup keys).
  int64_t peak_state_bytes = 0;
  /// State still held when the run ended (0 after a bounded run flushed everything).
  int64_t final_state_bytes = 0;
  double seconds = 0;
  /// True when the run ended because a stop was requested rather than because input ended.
  bool stopped = false;
  /// A bounded run stopped before its input ended (RequestStop()): nothing was published and
  /// every previous output is as it was.
  bool interrupted = false;
  /// An unbounded run stopped: the state of windows and other groups that had not closed,
  /// dropped rather than emitted as if final, by stage (bytes as Processor::state_bytes()).
  std::vector<std::pair<std::string, int64_t>> discarded_state;
  /// Sinks whose reader went away (EPIPE, as `| head` does): they stopped writing, the other
  /// sinks finished.
  std::vector<std::string> readers_gone;

  // Checkpoints (a pipeline with `checkpoint:`).
  /// The checkpoint the run resumed from, or -1 when it started from the beginning.
  int64_t restored_checkpoint = -1;
  /// When the restored checkpoint was taken, and the state it held.
  std::string restored_created;
  int64_t restored_state_bytes = 0;
  /// The restored checkpoint was taken after its run had read all of its input.
  bool restored_finished = false;
  /// Where the old checkpoints were put aside by `--fresh`, when there were any.
  std::string archived_to;
  /// Checkpoints this run completed, and the last one (-1 when none).
  int64_t checkpoints = 0;
  int64_t last_checkpoint = -1;
  /// The longest and the average pause of the pipeline thread to take a checkpoint (the
  /// snapshot; writing happens in the background), and the longest background write.
  double max_checkpoint_pause_seconds = 0;
  double mean_checkpoint_pause_seconds = 0;
  double max_checkpoint_write_seconds = 0;
  /// State held at the last checkpoint, bytes.
  int64_t checkpoint_state_bytes = 0;
};

/// A snapshot of a running pipeline, safe to take from another thread (the progress line).
struct RunProgress {
  int64_t rows_in = 0;
  int64_t rows_out = 0;
  int64_t dead_letters = 0;
  int64_t bytes_read = 0;
  /// Total bytes of all bounded sources, when every one of them knows it.
  std::optional<int64_t> bytes_total;
  /// The event-time watermark, once the pipeline has one (never on ingest time).
  std::optional<Timestamp> watermark;
};

/// A built pipeline: sources, the processor chain, the emit stage and sinks.
///
/// Make() builds every part and checks every configuration error before any data flows. Run()
/// starts one thread per source; the calling thread drives the processors and sinks. Sources
/// feed a bounded queue, so a slow sink pauses the sources instead of growing memory. A
/// bounded run ends when every source has ended, and publishes its sinks' output only if every
/// sink succeeded (all or nothing). RequestStop() (from a signal handler thread or another
/// thread) interrupts a run: a bounded one publishes nothing and leaves every previous output;
/// an unbounded one stops its sources, processes what is queued and commits it, and drops the
/// windows that have not closed rather than emitting them as final.
class Pipeline {
 public:
  ~Pipeline();

  static Result<std::unique_ptr<Pipeline>> Make(const config::PipelineConfig& config,
                                                const Registry& registry);

  Result<RunSummary> Run();

  /// Before Run(): ignore the checkpoints of earlier runs and start from the beginning; they
  /// are moved aside (into `archive-<time>/` in the checkpoint folder), not deleted.
  void StartFresh() { fresh_start_ = true; }

  /// Where this pipeline keeps checkpoints, or empty when it takes none.
  std::string checkpoint_location() const;

  /// Interrupts the run (see above). Async-signal-safe (sets atomic flags).
  void RequestStop() {
    interrupted_.store(true);
    stop_requested_.store(true);
  }

  RunProgress progress() const;

  /// The pipeline's metrics, updated by Run() per batch and per idle tick; readers on other
  /// threads take snapshots (PipelineMetrics is thread-safe). Shared so that a metrics server
  /// can outlive the pipeline.
  std::shared_ptr<PipelineMetrics> metrics() const { return metrics_; }

  /// Whether every source is bounded.
  bool bounded() const;

  /// The schema of the sources' rows: their union when every source has one stream, else the
  /// first source stream's.
  std::shared_ptr<arrow::Schema> input_schema() const { return input_schema_; }
  /// The event-time field of the sources, or empty when the pipeline runs on ingest
  /// (processing) time.
  const std::string& event_time_field() const { return processor_context_.event_time_field; }
  /// The schema of the pipeline's output: the last step's (after `emit`), which sinks without
  /// an `input` write.
  std::shared_ptr<arrow::Schema> output_schema() const { return output_schema_; }

 private:
  Pipeline();
  class SourceChannel;
  class Builder;
  /// Where the batches of a stream go.
  struct Consumer {
    enum class Kind { kStage, kSink, kUnion };
    Kind kind = Kind::kStage;
    /// The stage or sink.
    size_t index = 0;
    /// The stage's input the stream feeds (a join's left is 0, its right 1).
    size_t port = 0;
  };
  /// A stream of the pipeline's graph: a source's stream, the union of the sources' streams (what
  /// a first step without `input` reads), or a stage's output. A stream can feed any number of
  /// stages and sinks; stages only read streams defined before them, so the graph has no cycles
  /// and `stages_` is in an order where every stage comes after its inputs.
  struct Stream {
    std::string name;
    std::shared_ptr<arrow::Schema> schema;
    /// The event-time field, empty without event time.
    std::string event_time_field;
    int event_time_index = -1;
    std::vector<Consumer> consumers;
    bool feeds_sinks = false;
  };
  struct Stage {
    std::string id;
    std::unique_ptr<Processor> processor;
    /// The stream it emits to.
    size_t output = 0;
    /// What a checkpoint knows the stage by: its `name`, else its processor (`window`, or
    /// `window#2` for the second window), which a stateless step added before it leaves as it is.
    std::string state_id;
    std::string plugin;
    /// Its configuration, keys sorted (config::ComponentConfig::canonical).
    std::string config;
    /// Its inputs' names and schemas, one per line.
    std::string input_schema;
  };
  /// Event-time bookkeeping of one partition of a source (a source without partitions has one).
  struct PartitionClock {
    Timestamp max_event = kMinTimestamp;
    std::chrono::steady_clock::time_point last_data;
  };
  /// Event-time bookkeeping of one source: its watermark is the minimum over its partitions.
  struct SourceClock {
    bool has_event_time = false;
    int64_t delay_us = 0;
    std::chrono::nanoseconds idle_timeout{0};
    std::map<int32_t, PartitionClock> partitions;
    /// Names of partitions, for dead-letter origins (SourceOutput::NamePartition).
    std::map<int32_t, std::string> partition_names;
    /// From a restored checkpoint: the latest event time of each named partition, applied when
    /// the source names (or is assigned) the partition in this run.
    std::map<std::string, Timestamp> restored_by_name;
    bool ended = false;
  };
  struct NamedSink {
    std::string name;
    std::unique_ptr<Sink> sink;
    /// Set when the sink's reader went away (exec::ReaderGone()): it gets no more writes.
    bool reader_gone = false;
  };

  Status ConfigureEventTime(const config::PipelineConfig& config);
  /// Takes in one batch of a source: checks its event times and delivers it in order.
  /// `partitions` gives each row's partition; without it every row is from `partition`. `origin`
  /// names the file the rows came from (row `first_row` first), when the source says; `offsets`,
  /// when given, each row's offset in its partition.
  Status ProcessBatch(size_t source, size_t source_stream,
                      std::shared_ptr<arrow::RecordBatch> batch,
                      std::shared_ptr<arrow::Int32Array> partitions, int32_t partition,
                      std::string origin, int64_t first_row,
                      std::shared_ptr<arrow::Int64Array> offsets);
  /// Delivers a source batch so that whether a row is late depends only on the rows before it
  /// in its partition, never on where the batch was cut or on other partitions: a row behind
  /// the watermark formed by the rows before it in its partition carries that watermark to the
  /// stages (ProcessorContext::row_watermarks). Raises each partition's latest event time.
  Status DeliverInOrder(size_t source, size_t stream,
                        const std::shared_ptr<arrow::RecordBatch>& batch,
                        const arrow::Int32Array* partitions, int32_t partition, RowOrigins origins);
  /// Hands `batches` of `stream` to everything that reads it, depth first: stages (isolating bad
  /// rows of stateless ones), then their outputs' readers, and sinks. `origins` says where the
  /// rows of a single batch came from; it names the origin of dead letters.
  Status Deliver(size_t stream, std::vector<std::shared_ptr<arrow::RecordBatch>> batches,
                 const std::string& source, RowOrigins origins);
  Status RunStageIsolating(Stage& stage, size_t port, const std::string& source,
                           const std::shared_ptr<arrow::RecordBatch>& batch,
                           const RowOrigins& origins, Emitter& out);
  Status WriteSink(size_t sink, const std::shared_ptr<arrow::RecordBatch>& batch);
  /// Lets every sink commit what it wrote for `done` (Sink::Commit).
  Status CommitSinks(const InputDone& done);
  /// Sends rows without a usable event time to the dead letters and returns the rest (with
  /// their origins and partitions).
  Result<std::shared_ptr<arrow::RecordBatch>> CheckEventTimes(
      size_t stream, RowOrigins* origins, std::shared_ptr<arrow::RecordBatch> batch,
      std::shared_ptr<arrow::Int32Array>* partitions);
  /// The pipeline's watermark now (the minimum over active sources), or nothing when every live
  /// source is idle and it must hold.
  std::optional<Timestamp> ComputeWatermark() const;
  /// Raises partition `id`'s latest event time to what a restored checkpoint holds for its name.
  static void ApplyRestoredClock(SourceClock& clock, int32_t id);
  /// Recomputes the pipeline's watermark (the minimum over active sources) and, when it moved
  /// forward, lets every stage fire.
  Status AdvanceWatermark();
  Status PropagateWatermark(Timestamp watermark);
  void SampleState();
  // Metrics (pipeline_observe.cc).
  /// Sizes the counters and names the series, before the sources start.
  void StartMetrics();
  /// Counts drained dead letters by stage and reason class.
  void CountDeadLetters(const std::vector<DeadLetter>& letters);
  /// Fills the metrics snapshot from the counters and publishes it.
  void PublishMetrics(double queue_fill_ratio, bool running);
  Status WriteDeadLetters();
  /// Fails the run when the stages hold more state than `max_state`, naming the largest.
  Status CheckStateLimit() const;

  // Checkpoints (pipeline_checkpoint.cc).
  struct Checkpoints;
  /// Refuses, before the run, a stage, source or sink that cannot take part in checkpoints.
  Status CheckCheckpointable(const config::PipelineConfig& config);
  /// Before the sources start: restores the latest complete checkpoint (or archives them all
  /// with StartFresh()), finishing or discarding the sinks' pending commits.
  Status Recover(RunSummary* summary);
  /// Between two queue items: completes the checkpoint being written when it is, and takes
  /// the next one when it is due.
  Status MaybeCheckpoint(const std::vector<int64_t>& batches_done);
  /// Snapshots everything now and starts writing it in the background.
  Status TakeCheckpoint(const std::vector<int64_t>& batches_done, bool finished);
  /// Waits for the checkpoint being written, then commits the sinks' output of it.
  Status CompleteCheckpoint();
  /// At the end of a run: completes the checkpoint in flight, then takes and completes a last
  /// one, so that everything processed is committed and a new run continues from here.
  Status FinalCheckpoint(const std::vector<int64_t>& batches_done, bool finished);
  /// After a failure: waits for the checkpoint being written, and completes it if it was.
  void SettleCheckpoint();
  void SummarizeCheckpoints(RunSummary* summary) const;
  /// Every sink with its name, the dead-letter sink last.
  std::vector<std::pair<std::string, Sink*>> AllSinks() const;
  /// Closes every sink and the dead-letter sink, then publishes them all; on any failure, or
  /// when `failure` is already set, aborts them all instead. Returns the first error.
  Status CloseAndPublishSinks(Status failure);
  void AbortSinks();

  std::string name_;
  std::vector<std::string> source_names_;
  std::vector<std::unique_ptr<Source>> sources_;
  /// The streams of each source, as indexes into streams_ (one, or one per Source::streams()).
  std::vector<std::vector<size_t>> source_streams_;
  std::vector<Stream> streams_;
  /// The union of the sources' streams, when a step or sink reads it.
  std::optional<size_t> union_stream_;
  /// Rows received so far on each stream (source streams only).
  std::vector<int64_t> stream_rows_;
  std::vector<SourceClock> clocks_;
  Timestamp watermark_ = kMinTimestamp;
  int64_t peak_state_bytes_ = 0;
  std::vector<Stage> stages_;
  std::vector<NamedSink> sinks_;
  /// The stream each sink writes.
  std::vector<size_t> sink_inputs_;
  /// Rows each sink has written (pipeline thread only).
  std::vector<int64_t> sink_rows_;
  std::unique_ptr<Sink> dead_letter_sink_;
  DeadLetterQueue dead_letters_;
  /// During a stage's Process(): the watermark of each row's own partition for rows behind it,
  /// kMinTimestamp for the others; empty when no row is behind (ProcessorContext::row_watermarks).
  std::vector<Timestamp> row_watermarks_;
  std::shared_ptr<arrow::Schema> input_schema_;
  std::shared_ptr<arrow::Schema> output_schema_;
  ProcessorContext processor_context_;

  std::atomic<bool> stop_requested_{false};
  /// RequestStop() was called: a stop from outside, not the end of input or a failure.
  std::atomic<bool> interrupted_{false};
  std::atomic<int64_t> rows_in_{0};
  std::atomic<int64_t> rows_out_{0};
  /// The last watermark handed to the stages, for progress().
  std::atomic<Timestamp> progress_watermark_{kMinTimestamp};
  int64_t batches_ = 0;
  int64_t dead_letters_logged_ = 0;

  /// The most bytes of state the stages may hold together (`max_state`).
  int64_t max_state_ = 0;
  config::Location max_state_where_;
  bool fresh_start_ = false;
  /// Set when the pipeline has `checkpoint:`.
  std::unique_ptr<Checkpoints> checkpoints_;

  // Metrics (pipeline thread only, published to metrics_).
  std::shared_ptr<PipelineMetrics> metrics_ = std::make_shared<PipelineMetrics>();
  MetricsSnapshot metrics_work_;
  /// Rows read by each source, handed to each stage, and delivered on each stream.
  std::vector<int64_t> source_rows_;
  std::vector<int64_t> stage_rows_in_;
  std::vector<int64_t> stream_rows_delivered_;
  /// Dead letters by (stage, reason class).
  std::map<std::pair<std::string, std::string>, int64_t> dead_letter_counts_;
};

}  // namespace sluice::exec
