// The pipeline's side of checkpoints: taking them between two queue items on the pipeline
// thread, writing them in the background, committing the sinks' output once a checkpoint is
// durable, and restoring the latest complete one before a run starts.
//
// The protocol, for checkpoint N:
//   1. On the pipeline thread, between two batches: every source's position after the batches
//      processed so far, the event-time clocks, a snapshot of every stateful stage, and every
//      sink's PrepareCheckpoint(N) (output so far made durable, not visible).
//   2. In the background: the state files, then the manifest (write, fsync, rename, fsync).
//      Processing goes on meanwhile; checkpoint N + 1 is not taken before N completed.
//   3. On the pipeline thread once written: the deciding sink's commit (a Kafka transaction), if
//      any, then a durable COMMITTED mark; the other sinks' CommitCheckpoint(N) (renames of part
//      files); old checkpoints pruned; sources acknowledged up to N.
// A crash before the manifest (or, with a deciding sink, before its commit) leaves N incomplete:
// recovery discards it and its pending output. A crash after leaves N complete: recovery
// finishes its commits (each sink's CommitCheckpoint is idempotent) and resumes from it.

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "sluice/common/byte_size.h"
#include "sluice/common/logging.h"
#include "sluice/exec/pipeline.h"
#include "sluice/state/checkpoint_store.h"

namespace sluice::exec {
namespace {

using Clock = std::chrono::steady_clock;

std::string_view RoleName(CheckpointRole role) {
  switch (role) {
    case CheckpointRole::kUnsupported:
      return "unsupported";
    case CheckpointRole::kAtLeastOnce:
      return "at-least-once";
    case CheckpointRole::kTwoPhase:
      return "two-phase";
    case CheckpointRole::kDeciding:
      return "deciding";
  }
  return "unknown";
}

double Seconds(Clock::duration duration) {
  return std::chrono::duration<double>(duration).count();
}

std::string FreshHint(const std::string& location) {
  return fmt::format(
      "to start over from the beginning, run with --fresh (the checkpoints in '{}' are moved "
      "into an archive- folder there, not deleted)",
      location);
}

}  // namespace

/// Checkpointing of one run. Owned by the pipeline; the store is used by the writer thread
/// while a checkpoint is in flight and by the pipeline thread otherwise.
struct Pipeline::Checkpoints {
  config::CheckpointConfig settings;
  std::unique_ptr<state::CheckpointStore> store;
  /// The sink whose commit decides (CheckpointRole::kDeciding), by name; empty when none.
  std::string deciding_sink;
  int64_t last_id = 0;
  Clock::time_point next_due;

  // The checkpoint being written.
  std::unique_ptr<state::CheckpointData> in_flight;
  std::vector<int64_t> in_flight_batches;
  std::thread writer;
  std::atomic<bool> written{false};
  Status write_status;
  Clock::time_point write_started;

  // Totals of earlier runs (from the restored manifest), for the next manifests.
  int64_t base_rows_in = 0;
  int64_t base_rows_out = 0;
  int64_t base_dead_letters = 0;

  // For the summary.
  int64_t completed = 0;
  int64_t last_completed = -1;
  double max_pause = 0;
  double total_pause = 0;
  int64_t pauses = 0;
  double max_write = 0;
  int64_t state_bytes = 0;

  ~Checkpoints() {
    if (writer.joinable()) writer.join();
  }
};

// Here, where Checkpoints is complete.
Pipeline::Pipeline() = default;
Pipeline::~Pipeline() = default;

std::string Pipeline::checkpoint_location() const {
  return checkpoints_ == nullptr ? std::string() : checkpoints_->store->location();
}

std::vector<std::pair<std::string, Sink*>> Pipeline::AllSinks() const {
  std::vector<std::pair<std::string, Sink*>> all;
  for (const auto& named : sinks_) all.emplace_back(named.name, named.sink.get());
  if (dead_letter_sink_ != nullptr) all.emplace_back("dead_letters", dead_letter_sink_.get());
  return all;
}

Status Pipeline::CheckCheckpointable(const config::PipelineConfig& config) {
  if (!config.checkpoint) return Status::OK();
  const config::CheckpointConfig& settings = *config.checkpoint;
  for (size_t i = 0; i < sources_.size(); ++i) {
    if (sources_[i]->checkpointable()) continue;
    return config::ConfigError(
        config.sources[i].where,
        fmt::format("source '{}' ({}) cannot resume from a checkpoint", source_names_[i],
                    config.sources[i].plugin),
        "remove 'checkpoint' from the pipeline, or read this input through a source that can");
  }
  for (size_t i = 0; i < config.processors.size(); ++i) {
    const Stage& stage = stages_[i];
    if (stage.processor->checkpointable()) continue;
    return config::ConfigError(
        config.processors[i].where,
        fmt::format("step '{}' ({}) cannot save its state in a checkpoint yet", stage.id,
                    stage.plugin),
        "remove 'checkpoint' from the pipeline to run it without recovery");
  }
  std::vector<const config::ComponentConfig*> sink_configs;
  for (const auto& sink : config.sinks) sink_configs.push_back(&sink);
  if (config.dead_letters) sink_configs.push_back(&*config.dead_letters);
  auto sinks = AllSinks();
  std::string deciding;
  for (size_t i = 0; i < sinks.size(); ++i) {
    const auto& [name, sink] = sinks[i];
    const config::ComponentConfig& component = *sink_configs[i];
    switch (sink->checkpoint_role()) {
      case CheckpointRole::kUnsupported:
        return config::ConfigError(
            component.where,
            fmt::format("sink '{}' ({}) cannot take part in checkpoints: a resumed run could not "
                        "continue its output, and rows would be lost",
                        name, component.plugin),
            component.plugin == "file"
                ? "write rolling part files, committed with each checkpoint: add e.g. "
                  "'roll: {interval: 1m}' and put {part} in its path (out/part-{part}.parquet)"
                : "remove 'checkpoint' from the pipeline, or use another sink");
      case CheckpointRole::kDeciding:
        if (!deciding.empty()) {
          return config::ConfigError(
              component.where,
              fmt::format("sinks '{}' and '{}' both commit with their own transaction; a "
                          "checkpoint can be decided by one of them only",
                          deciding, name),
              "make one of them at-least-once (for kafka: exactly_once: false)");
        }
        deciding = name;
        break;
      case CheckpointRole::kAtLeastOnce:
      case CheckpointRole::kTwoPhase:
        break;
    }
  }
  checkpoints_ = std::make_unique<Checkpoints>();
  checkpoints_->settings = settings;
  checkpoints_->deciding_sink = deciding;
  auto storage = state::OpenStorage(settings.dir);
  if (!storage.ok()) {
    return config::ConfigError(settings.where, storage.status().message(),
                               "checkpoint.dir must be a folder or a URI such as s3://bucket/state");
  }
  checkpoints_->store =
      std::make_unique<state::CheckpointStore>(std::move(*storage), settings.retain);
  return Status::OK();
}

Status Pipeline::Recover(RunSummary* summary) {
  Checkpoints& checkpoints = *checkpoints_;
  state::CheckpointStore& store = *checkpoints.store;
  auto logger = ComponentLogger(name_);
  const std::string location = store.location();
  auto sinks = AllSinks();
  auto find_sink = [&](const std::string& name) -> Sink* {
    for (const auto& [sink_name, sink] : sinks) {
      if (sink_name == name) return sink;
    }
    return nullptr;
  };
  auto in_location = [&](int64_t id, const Status& status) {
    return status.WithMessage("checkpoint ", id, " in '", location, "': ", status.message());
  };

  if (Status locked = store.Lock(); !locked.ok()) {
    return locked.WithMessage("checkpoint folder '", location, "': ", locked.message());
  }
  if (fresh_start_) {
    SLUICE_ASSIGN_OR_RAISE(summary->archived_to,
                           store.Archive(FormatTimestamp(WallClockNow())));
    if (!summary->archived_to.empty())
      logger->info("--fresh: earlier checkpoints moved to {}/{}", location, summary->archived_to);
  }
  SLUICE_ASSIGN_OR_RAISE(std::vector<int64_t> ids, store.List());
  std::optional<state::Manifest> chosen;
  for (int64_t id : ids) {
    auto read = store.ReadManifest(id);
    if (!read.ok()) {
      // Damaged after it completed (the protocol never leaves a torn manifest in place): its
      // output may be committed, so an earlier checkpoint would write rows twice.
      return Status::IOError(fmt::format(
          "checkpoint {} in '{}' is damaged: {}. Restore the file from a copy, or {}", id,
          location, read.status().message(), FreshHint(location)));
    }
    if (!*read) {
      // Never completed (a crash while it was written): its pending output, if any, is stray.
      logger->info("checkpoint {} is incomplete (its manifest is missing); using an earlier one",
                   id);
      SLUICE_RETURN_NOT_OK(store.Discard(id));
      continue;
    }
    auto& manifest = *read;
    if (manifest->pipeline != name_) {
      return Status::Invalid(fmt::format(
          "the checkpoints in '{}' belong to pipeline '{}', not '{}'; give each pipeline a "
          "checkpoint folder of its own, or {}",
          location, manifest->pipeline, name_, FreshHint(location)));
    }
    if (!manifest->deciding_sink.empty()) {
      SLUICE_ASSIGN_OR_RAISE(bool committed, store.IsCommitted(id));
      if (!committed) {
        Sink* decider = find_sink(manifest->deciding_sink);
        if (decider == nullptr) {
          return Status::Invalid(fmt::format(
              "checkpoint {} was decided by sink '{}', which the pipeline no longer has; {}", id,
              manifest->deciding_sink, FreshHint(location)));
        }
        auto last = decider->LastCommittedCheckpoint();
        if (!last.ok()) {
          return last.status().WithMessage("sink '", manifest->deciding_sink,
                                           "': cannot tell whether checkpoint ", id,
                                           " was committed: ", last.status().message());
        }
        committed = *last >= id;
        if (committed) SLUICE_RETURN_NOT_OK(store.MarkCommitted(id));
      }
      if (!committed) {
        logger->info("checkpoint {} was prepared but its commit never happened; discarding it",
                     id);
        for (const auto& record : manifest->sinks) {
          if (Sink* sink = find_sink(record.name)) {
            Status aborted = sink->AbortCheckpoint(id, record.pending);
            if (!aborted.ok()) return in_location(id, aborted);
          }
        }
        SLUICE_RETURN_NOT_OK(store.Discard(id));
        continue;
      }
    }
    chosen = std::move(*manifest);
    break;
  }
  if (!chosen) {
    for (const auto& [name, sink] : sinks) {
      Status removed = sink->RemoveStrays({});
      if (!removed.ok()) return removed.WithMessage("sink '", name, "': ", removed.message());
    }
    checkpoints.next_due = Clock::now() + checkpoints.settings.interval;
    return Status::OK();
  }
  const state::Manifest& manifest = *chosen;
  const int64_t id = manifest.id;

  // The state must mean the same in this pipeline: the same stateful stages, configured alike,
  // reading the same schemas. A stateless step added or removed does not matter.
  std::vector<const state::StageRecord*> records(stages_.size(), nullptr);
  for (const auto& record : manifest.stages) {
    auto stage = std::find_if(stages_.begin(), stages_.end(),
                              [&](const Stage& s) { return s.state_id == record.id; });
    if (stage == stages_.end() || stage->processor->stateless()) {
      return Status::Invalid(fmt::format(
          "checkpoint {} holds the state of step '{}' ({}), which the pipeline no longer has; "
          "its state cannot be restored. Put the step back, or {}",
          id, record.id, record.processor, FreshHint(location)));
    }
    if (stage->plugin != record.processor || stage->config != record.config) {
      return Status::Invalid(fmt::format(
          "step '{}' ({}) has changed since checkpoint {} (was: {}; now: {}); its state cannot "
          "be restored. Undo the change, or {}",
          record.id, stage->plugin, id, record.config, stage->config, FreshHint(location)));
    }
    records[stage - stages_.begin()] = &record;
  }
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (stages_[i].processor->stateless() || records[i] != nullptr) continue;
    return Status::Invalid(fmt::format(
        "step '{}' ({}) keeps state but checkpoint {} has none for it (a stateful step was added "
        "or renamed); it would start empty in the middle of the input. Remove it, or {}",
        stages_[i].state_id, stages_[i].plugin, id, FreshHint(location)));
  }
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (records[i] == nullptr) continue;
    const std::string& schema = stages_[i].input_schema;
    if (schema != records[i]->input_schema) {
      return Status::Invalid(fmt::format(
          "the input of step '{}' ({}) has changed since checkpoint {} (was:\n{}now:\n{}); its "
          "state cannot be restored. Undo the change, or {}",
          records[i]->id, stages_[i].plugin, id, records[i]->input_schema, schema,
          FreshHint(location)));
    }
  }
  for (const auto& record : manifest.sources) {
    if (std::find(source_names_.begin(), source_names_.end(), record.name) ==
        source_names_.end()) {
      return Status::Invalid(fmt::format(
          "checkpoint {} holds the position of source '{}', which the pipeline no longer has. "
          "Put it back, or {}",
          id, record.name, FreshHint(location)));
    }
  }
  for (size_t i = 0; i < source_names_.size(); ++i) {
    auto record = std::find_if(manifest.sources.begin(), manifest.sources.end(),
                               [&](const auto& r) { return r.name == source_names_[i]; });
    if (record == manifest.sources.end()) {
      return Status::Invalid(fmt::format(
          "source '{}' has no position in checkpoint {} (it was added); {}", source_names_[i], id,
          FreshHint(location)));
    }
  }

  // Restore: stages, sources, clocks, then the sinks' commits of this checkpoint.
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (records[i] == nullptr) continue;
    auto snapshot = store.ReadStage(manifest, *records[i]);
    if (!snapshot.ok()) {
      return Status::IOError(fmt::format(
          "checkpoint {} in '{}' is damaged: {}. Its output was committed, so an earlier "
          "checkpoint would write rows twice; restore the file, or {}",
          id, location, snapshot.status().message(), FreshHint(location)));
    }
    Status restored = stages_[i].processor->RestoreState(*snapshot);
    if (!restored.ok()) {
      return restored.WithMessage("step '", stages_[i].id, "': cannot restore its state from ",
                                  "checkpoint ", id, ": ", restored.message());
    }
  }
  for (size_t i = 0; i < sources_.size(); ++i) {
    auto record = std::find_if(manifest.sources.begin(), manifest.sources.end(),
                               [&](const auto& r) { return r.name == source_names_[i]; });
    Status restored = sources_[i]->RestorePosition(record->position);
    if (!restored.ok()) {
      return restored.WithMessage("source '", source_names_[i], "': cannot resume from ",
                                  "checkpoint ", id, ": ", restored.message());
    }
    SourceClock& clock = clocks_[i];
    const auto now = Clock::now();
    for (const auto& [partition, latest] : record->partitions) {
      clock.partitions[partition] = PartitionClock{latest, now};
    }
    for (const auto& [name, latest] : record->named_partitions) {
      clock.restored_by_name[name] = latest;
    }
  }
  watermark_ = manifest.watermark;
  progress_watermark_.store(watermark_);
  std::vector<std::string> kept;
  for (const auto& record : manifest.sinks) {
    Sink* sink = find_sink(record.name);
    if (sink == nullptr) {
      if (record.pending == "{}") continue;
      return Status::Invalid(fmt::format(
          "checkpoint {} holds output of sink '{}' still to commit, and the pipeline no longer "
          "has that sink. Put it back, or {}",
          id, record.name, FreshHint(location)));
    }
    Status committed = sink->CommitCheckpoint(id, record.pending);
    if (!committed.ok()) {
      return committed.WithMessage("sink '", record.name, "': cannot finish the commit of ",
                                   "checkpoint ", id, ": ", committed.message());
    }
    kept.push_back(record.pending);
  }
  for (const auto& [name, sink] : sinks) {
    Status removed = sink->RemoveStrays(kept);
    if (!removed.ok()) return removed.WithMessage("sink '", name, "': ", removed.message());
  }
  SLUICE_RETURN_NOT_OK(store.Completed(id));

  checkpoints.last_id = id;
  checkpoints.base_rows_in = manifest.rows_in;
  checkpoints.base_rows_out = manifest.rows_out;
  checkpoints.base_dead_letters = manifest.dead_letters;
  checkpoints.next_due = Clock::now() + checkpoints.settings.interval;
  summary->restored_checkpoint = id;
  summary->restored_created = manifest.created;
  summary->restored_state_bytes = manifest.state_bytes();
  summary->restored_finished = manifest.finished;
  logger->debug("resumed from checkpoint {} (taken {}, {} rows in before it, {} of state)", id,
               manifest.created, manifest.rows_in, FormatByteSize(manifest.state_bytes()));
  return Status::OK();
}

Status Pipeline::MaybeCheckpoint(const std::vector<int64_t>& batches_done) {
  Checkpoints& checkpoints = *checkpoints_;
  if (checkpoints.in_flight != nullptr) {
    if (!checkpoints.written.load()) return Status::OK();
    SLUICE_RETURN_NOT_OK(CompleteCheckpoint());
  }
  if (Clock::now() < checkpoints.next_due) return Status::OK();
  return TakeCheckpoint(batches_done, /*finished=*/false);
}

Status Pipeline::TakeCheckpoint(const std::vector<int64_t>& batches_done, bool finished) {
  Checkpoints& checkpoints = *checkpoints_;
  const auto started = Clock::now();
  auto data = std::make_unique<state::CheckpointData>();
  state::Manifest& manifest = data->manifest;
  manifest.pipeline = name_;
  manifest.id = checkpoints.last_id + 1;
  manifest.created = FormatTimestamp(WallClockNow());
  manifest.watermark = watermark_;
  manifest.rows_in = checkpoints.base_rows_in + rows_in_.load();
  manifest.rows_out = checkpoints.base_rows_out + rows_out_.load();
  manifest.dead_letters = checkpoints.base_dead_letters + dead_letters_.total();
  manifest.finished = finished;
  manifest.deciding_sink = checkpoints.deciding_sink;
  for (size_t i = 0; i < sources_.size(); ++i) {
    state::SourceRecord record;
    record.name = source_names_[i];
    record.batches = batches_done[i];
    auto position = sources_[i]->PositionAfter(batches_done[i]);
    if (!position.ok()) {
      return position.status().WithMessage("source '", source_names_[i],
                                           "': no position for a checkpoint: ",
                                           position.status().message());
    }
    record.position = std::move(*position);
    for (const auto& [partition, clock] : clocks_[i].partitions) {
      auto name = clocks_[i].partition_names.find(partition);
      if (name != clocks_[i].partition_names.end()) {
        record.named_partitions.emplace_back(name->second, clock.max_event);
      } else {
        record.partitions.emplace_back(partition, clock.max_event);
      }
    }
    record.ended = clocks_[i].ended;
    manifest.sources.push_back(std::move(record));
  }
  for (size_t i = 0; i < stages_.size(); ++i) {
    const Stage& stage = stages_[i];
    if (stage.processor->stateless()) continue;
    auto snapshot = stage.processor->SnapshotState();
    if (!snapshot.ok()) {
      return snapshot.status().WithMessage("step '", stage.id, "': cannot snapshot its state: ",
                                           snapshot.status().message());
    }
    state::StageRecord record;
    record.id = stage.state_id;
    record.processor = stage.plugin;
    record.config = stage.config;
    record.input_schema = stage.input_schema;
    record.state_bytes = stage.processor->state_bytes();
    record.values = snapshot->values;
    manifest.stages.push_back(std::move(record));
    data->stages.push_back(std::move(*snapshot));
  }
  for (const auto& [name, sink] : AllSinks()) {
    // Preparing may raise dead letters (a sink that sends what it held back and finds records
    // refused): they belong to this checkpoint, so they go to the dead-letter sink before it
    // prepares (it comes last).
    if (sink == dead_letter_sink_.get()) SLUICE_RETURN_NOT_OK(WriteDeadLetters());
    auto pending = sink->PrepareCheckpoint(manifest.id);
    if (!pending.ok()) {
      return pending.status().WithMessage("sink '", name, "': cannot prepare checkpoint ",
                                          manifest.id, ": ", pending.status().message());
    }
    manifest.sinks.push_back(
        state::SinkRecord{name, std::string(RoleName(sink->checkpoint_role())), *pending});
  }
  checkpoints.last_id = manifest.id;
  checkpoints.state_bytes = manifest.state_bytes();
  checkpoints.in_flight_batches = batches_done;
  checkpoints.in_flight = std::move(data);
  checkpoints.written.store(false);
  checkpoints.write_started = Clock::now();
  const double pause = Seconds(checkpoints.write_started - started);
  checkpoints.max_pause = std::max(checkpoints.max_pause, pause);
  metrics_work_.checkpoint_duration.Observe(pause);
  checkpoints.total_pause += pause;
  ++checkpoints.pauses;
  checkpoints.writer = std::thread([&checkpoints] {
    checkpoints.write_status = checkpoints.store->Write(checkpoints.in_flight.get());
    checkpoints.written.store(true);
  });
  return Status::OK();
}

Status Pipeline::CompleteCheckpoint() {
  Checkpoints& checkpoints = *checkpoints_;
  if (checkpoints.in_flight == nullptr) return Status::OK();
  if (checkpoints.writer.joinable()) checkpoints.writer.join();
  checkpoints.max_write =
      std::max(checkpoints.max_write, Seconds(Clock::now() - checkpoints.write_started));
  std::unique_ptr<state::CheckpointData> data = std::move(checkpoints.in_flight);
  const state::Manifest& manifest = data->manifest;
  const int64_t id = manifest.id;
  if (!checkpoints.write_status.ok()) {
    return checkpoints.write_status.WithMessage(
        "checkpoint ", id, " could not be written to '", checkpoints.store->location(),
        "': ", checkpoints.write_status.message(), "; the checkpoint before it stays the latest");
  }
  auto sinks = AllSinks();
  auto commit = [&](const state::SinkRecord& record) -> Status {
    for (const auto& [name, sink] : sinks) {
      if (name != record.name) continue;
      Status status = sink->CommitCheckpoint(id, record.pending);
      if (!status.ok()) {
        return status.WithMessage("sink '", name, "': cannot commit checkpoint ", id, ": ",
                                  status.message());
      }
    }
    return Status::OK();
  };
  // The deciding sink first: its commit is what makes the checkpoint complete.
  for (const auto& record : manifest.sinks) {
    if (record.name != manifest.deciding_sink) continue;
    SLUICE_RETURN_NOT_OK(commit(record));
    SLUICE_RETURN_NOT_OK(checkpoints.store->MarkCommitted(id));
  }
  for (const auto& record : manifest.sinks) {
    if (record.name != manifest.deciding_sink) SLUICE_RETURN_NOT_OK(commit(record));
  }
  SLUICE_RETURN_NOT_OK(checkpoints.store->Completed(id));
  for (size_t i = 0; i < sources_.size(); ++i) {
    sources_[i]->OnBatchesDone(checkpoints.in_flight_batches[i], false);
  }
  ++checkpoints.completed;
  checkpoints.last_completed = id;
  metrics_work_.checkpoints = checkpoints.completed;
  metrics_work_.last_checkpoint_seconds = UnixSeconds();
  checkpoints.next_due = Clock::now() + checkpoints.settings.interval;
  return Status::OK();
}

Status Pipeline::FinalCheckpoint(const std::vector<int64_t>& batches_done, bool finished) {
  SLUICE_RETURN_NOT_OK(CompleteCheckpoint());
  SLUICE_RETURN_NOT_OK(TakeCheckpoint(batches_done, finished));
  return CompleteCheckpoint();
}

void Pipeline::SettleCheckpoint() {
  Checkpoints& checkpoints = *checkpoints_;
  if (checkpoints.in_flight == nullptr) return;
  // CompleteCheckpoint() waits for the write (joining the writer twice would abort).
  // A checkpoint that was written is consistent whatever failed after it was taken: commit it,
  // so that the sinks' Abort() discards only what came after.
  Status completed = CompleteCheckpoint();
  if (!completed.ok()) {
    ComponentLogger(name_)->warn("the last checkpoint was not completed: {}",
                                 completed.message());
  }
}

void Pipeline::SummarizeCheckpoints(RunSummary* summary) const {
  const Checkpoints& checkpoints = *checkpoints_;
  summary->checkpoints = checkpoints.completed;
  summary->last_checkpoint = checkpoints.last_completed;
  summary->max_checkpoint_pause_seconds = checkpoints.max_pause;
  summary->mean_checkpoint_pause_seconds =
      checkpoints.pauses == 0 ? 0 : checkpoints.total_pause / static_cast<double>(checkpoints.pauses);
  summary->max_checkpoint_write_seconds = checkpoints.max_write;
  summary->checkpoint_state_bytes = checkpoints.state_bytes;
}

}  // namespace sluice::exec
