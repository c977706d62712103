#pragma once

// The window processor's class, shared by window.cc (processing and firing) and window_state.cc
// (checkpoints). Not for other stages: they see the window through its options (window.h).

#include <arrow/api.h>
#include <arrow/compute/row/grouper.h>

#include <cstdint>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/exec/processor.h"
#include "sluice/exec/time.h"
#include "sluice/processors/aggregates/accumulator.h"
#include "sluice/processors/aggregates/aggregate_options.h"
#include "sluice/state/state_snapshot.h"

namespace sluice::processors::internal {

enum class WindowKind { kTumbling, kSliding, kSession, kCount };

/// The validated configuration of one window stage. Times are in microseconds.
struct WindowSettings {
  WindowKind kind = WindowKind::kTumbling;
  exec::Timestamp size = 0;
  exec::Timestamp slide = 0;
  exec::Timestamp gap = 0;
  int64_t count_size = 0;
  int64_t count_slide = 0;
  std::vector<int> key_indices;
  std::vector<aggregates::AggregateColumn> aggregates;
  bool processing_time = false;
  int time_index = -1;
  exec::Timestamp allowed_lateness = 0;
  /// 0 when there are no early firings.
  exec::Timestamp emit_every = 0;
  bool has_final_column = false;
};

/// Computes aggregates over windows of a keyed stream.
///
/// State layout: every (window instance or pane, key) pair owns a numbered *slot*; each
/// aggregate has one Accumulator holding the state of all slots, so a batch costs one virtual
/// Consume() per aggregate. Keys become dense ids through an Arrow Grouper. Tumbling and
/// sliding windows keep *panes* (slide-sized, or gcd(size, slide)) in a map ordered by time,
/// each with a dense key → slot table; a sliding window merges its panes into temporary slots
/// when it fires. Session windows keep, per key, a sorted list of sessions, each one slot,
/// and merge slots when a row bridges sessions. Count windows keep, per key, a queue of
/// count-panes. Firing builds one batch per call, sorted by window_start then keys.
///
/// Owned by the pipeline driver and used from its thread only.
class WindowProcessor final : public exec::Processor {
 public:
  WindowProcessor(WindowSettings settings, exec::ProcessorContext context,
                  std::shared_ptr<arrow::Schema> input, std::shared_ptr<arrow::Schema> output,
                  std::unique_ptr<arrow::compute::Grouper> grouper)
      : settings_(std::move(settings)),
        context_(std::move(context)),
        input_(std::move(input)),
        output_(std::move(output)),
        grouper_(std::move(grouper)) {
    for (const auto& column : settings_.aggregates) {
      accumulators_.push_back(
          aggregates::MakeAccumulator(column.aggregate, input_->field(column.field_index)->type()));
    }
    if (settings_.kind == WindowKind::kSliding) {
      pane_size_ = std::gcd(settings_.size, settings_.slide);
    } else if (settings_.kind == WindowKind::kTumbling) {
      pane_size_ = settings_.size;
      settings_.slide = settings_.size;
    } else if (settings_.kind == WindowKind::kCount) {
      count_pane_ = std::gcd(settings_.count_size, settings_.count_slide);
    }
  }

  std::shared_ptr<arrow::Schema> output_schema() const override { return output_; }
  bool stateless() const override { return false; }
  /// A fired window's row stands at the window's end, the earliest time it can be emitted.
  std::string output_event_time_field() const override {
    return settings_.kind == WindowKind::kCount ? std::string() : "window_end";
  }

  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter& out) override;
  Status OnWatermark(exec::Timestamp watermark, exec::Emitter& out) override;
  Status Finish(exec::Emitter& out) override {
    if (watermark_ != exec::kMaxTimestamp) return OnWatermark(exec::kMaxTimestamp, out);
    return Status::OK();
  }
  int64_t state_bytes() const override;

  /// Checkpoints: see window_state.cc for the layout of the snapshot.
  bool checkpointable() const override { return true; }
  Result<state::StateSnapshot> SnapshotState() const override;
  Status RestoreState(const state::StateSnapshot& snapshot) override;

 private:
  /// A pane of a tumbling or sliding window: [start, start + pane_size_).
  struct Pane {
    std::vector<uint32_t> slot_of_key;
    std::vector<uint32_t> slots;
  };
  /// Whether a time window has fired, and whether it changed since (a late update).
  struct WindowState {
    bool fired = false;
    bool dirty = false;
  };
  struct Session {
    exec::Timestamp start;
    exec::Timestamp last;
    uint32_t slot;
    bool fired;
    bool dirty;
  };
  /// The count-panes of one key: rows [index * count_pane_, (index + 1) * count_pane_).
  struct CountKey {
    int64_t rows_seen = 0;
    int64_t windows_fired = 0;
    std::vector<std::pair<int64_t, uint32_t>> panes;
  };
  /// A row of a firing.
  struct Firing {
    uint32_t slot;
    exec::Timestamp start;
    exec::Timestamp end;
    bool final;
  };

  // Slots.
  uint32_t AllocateSlot(uint32_t key);
  void MergeSlots(const std::vector<uint32_t>& from, const std::vector<uint32_t>& into);
  void ReleaseSlots(const std::vector<uint32_t>& slots);
  /// Drops every slot and key once no state is left, so that state_bytes() returns to 0.
  void ClearIfEmpty(bool forget_counts);
  /// A slot holding the merge of `slots` (in time order), or the one slot itself.
  uint32_t Combine(const std::vector<uint32_t>& slots);

  // Assignment of rows to slots; late rows get kNoSlot and become dead letters.
  void AssignTime(const arrow::RecordBatch& batch, const exec::Timestamp* times,
                  const uint32_t* keys, std::vector<uint32_t>* slots);
  void AssignSession(const arrow::RecordBatch& batch, const exec::Timestamp* times,
                     const uint32_t* keys, std::vector<uint32_t>* slots);
  void AssignCount(const uint32_t* keys, int64_t rows, std::vector<uint32_t>* slots);
  void RegisterPaneWindows(exec::Timestamp pane_start);
  /// A row whose window [start, end) has closed. The reason names no watermark: it is the same
  /// whatever the batch boundaries and the file layout were.
  void Late(const arrow::RecordBatch& batch, int64_t row, exec::Timestamp start,
            exec::Timestamp end);
  /// A row of a sliding window that `closed` of its `windows` windows no longer take.
  void LatePartly(const arrow::RecordBatch& batch, int64_t row, int64_t closed, int64_t windows);

  // Firing.
  Status FireTime(exec::Timestamp watermark, bool early, exec::Emitter& out);
  Status FireSessions(exec::Timestamp watermark, bool early, exec::Emitter& out);
  Status FireCounts(bool flush, exec::Emitter& out);
  void AddTimeWindow(exec::Timestamp start, bool final);
  Status EmitFirings(exec::Emitter& out);

  // Checkpoints (window_state.cc).
  /// The columns of the snapshot's `keys` and `slots` tables, the same at snapshot and restore.
  std::shared_ptr<arrow::Schema> KeysSchema() const;
  std::shared_ptr<arrow::Schema> SlotsSchema() const;
  /// The live slots, in the order RestoreSlots() rebuilds the panes, sessions and count-panes.
  Result<std::shared_ptr<arrow::Table>> SnapshotSlots(
      const std::vector<std::shared_ptr<arrow::Array>>& uniques) const;
  /// Restores the keys and their per-key state; returns the new id of each saved key id.
  Result<std::vector<uint32_t>> RestoreKeys(const state::StateSnapshot& snapshot);
  Status RestoreSlots(const state::StateSnapshot& snapshot, const std::vector<uint32_t>& new_ids);

  WindowSettings settings_;
  exec::ProcessorContext context_;
  std::shared_ptr<arrow::Schema> input_;
  std::shared_ptr<arrow::Schema> output_;
  std::unique_ptr<arrow::compute::Grouper> grouper_;
  std::vector<std::unique_ptr<aggregates::Accumulator>> accumulators_;
  exec::Timestamp pane_size_ = 0;
  int64_t count_pane_ = 0;

  exec::Timestamp watermark_ = exec::kMinTimestamp;
  exec::Timestamp last_early_ = exec::kMinTimestamp;
  uint32_t num_keys_ = 0;

  // The slot store: per-slot bookkeeping besides the accumulators.
  uint32_t capacity_ = 0;
  uint32_t live_slots_ = 0;
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> slot_key_;
  std::vector<int64_t> slot_rows_;
  std::vector<exec::Timestamp> slot_first_time_;
  std::vector<exec::Timestamp> slot_last_time_;

  std::map<exec::Timestamp, Pane> panes_;
  std::map<exec::Timestamp, WindowState> windows_;
  std::vector<std::vector<Session>> sessions_;
  /// Per key id: the end of the latest session emitted and dropped, before which a row would
  /// reopen it (kMinTimestamp: none); emitted_keys_ counts the keys that have one.
  std::vector<exec::Timestamp> emitted_until_;
  uint32_t emitted_keys_ = 0;
  std::vector<CountKey> count_keys_;

  // Scratch of the current firing.
  std::vector<Firing> firings_;
  std::vector<uint32_t> temporary_slots_;
  std::vector<uint32_t> slot_of_key_scratch_;
};

}  // namespace sluice::processors::internal
