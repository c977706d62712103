#pragma once

// The join processor's parts, shared by the files that implement them: join_processor.cc (what
// both kinds share, and the kept batches), join_window.cc (window joins), join_probe.cc
// (interval and ttl joins), join_state.cc (checkpoints) and join.cc (configuration). Not for use
// outside them: only RegisterJoin() in join.h is public.

#include <arrow/api.h>
#include <arrow/compute/row/grouper.h>
#include <arrow/util/byte_size.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/exec/processor.h"
#include "sluice/exec/time.h"
#include "sluice/state/state_snapshot.h"

namespace sluice::processors::join {

using arrow::compute::Grouper;
using exec::FloorTo;
using exec::Timestamp;
using exec::WallClockNow;

/// The key id of a row with a NULL key field: it matches no row (as in SQL).
constexpr uint32_t kNoKey = std::numeric_limits<uint32_t>::max();
/// The end of a chain of entries.
constexpr uint32_t kNoEntry = std::numeric_limits<uint32_t>::max();
/// In place of a row reference: the side has no row here, its columns are NULL.
constexpr uint64_t kNoRow = std::numeric_limits<uint64_t>::max();
/// Output batches are cut at this many rows.
constexpr int64_t kOutputBatchRows = 65536;
/// Below this many keys the grouper is never rebuilt: rebuilding costs more than it frees.
constexpr uint32_t kCompactMinimum = 4096;
/// Rough bytes the grouper spends per key (hash slot, key storage).
constexpr int64_t kBytesPerKey = 32;

constexpr int kLeft = 0;
constexpr int kRight = 1;

/// What bounds the rows a join keeps.
enum class Bound { kWindow, kInterval, kTtl };

/// The validated configuration of one join. Times are in microseconds; index 0 is the left
/// input, 1 the right one.
struct JoinSettings {
  Bound bound = Bound::kTtl;
  /// Whether unmatched rows of each side are emitted (left, right, full outer).
  std::array<bool, 2> outer{false, false};
  /// Window join: tumbling windows have slide == size.
  Timestamp size = 0;
  Timestamp slide = 0;
  /// Interval join: right.time in [left.time + lower, left.time + upper].
  Timestamp lower = 0;
  Timestamp upper = 0;
  /// Regular join: how long a row is kept after its own time.
  Timestamp ttl = 0;
  bool delete_on_match = false;
  /// Rows are stamped with the wall clock at arrival (neither input has event time).
  bool processing_time = false;
  std::array<std::vector<int>, 2> key_columns;
  std::vector<arrow::TypeHolder> key_types;
  std::array<int, 2> time_columns{-1, -1};
  std::array<std::string, 2> stream_names;
  std::array<std::shared_ptr<arrow::Schema>, 2> input_schemas;
  std::shared_ptr<arrow::Schema> output;
  std::string output_time_field;
};

/// a + b, held within the timestamps short of kMaxTimestamp (which means "the end").
inline Timestamp AddSaturating(Timestamp a, Timestamp b) {
  Timestamp sum;
  if (__builtin_add_overflow(a, b, &sum))
    return b > 0 ? exec::kMaxTimestamp - 1 : exec::kMinTimestamp;
  return std::min(sum, exec::kMaxTimestamp - 1);
}

/// A row of a kept batch: its slot in a BatchStore, and its index in the batch.
inline uint64_t RowRef(uint32_t slot, int64_t row) {
  return (static_cast<uint64_t>(slot) << 32) | static_cast<uint32_t>(row);
}
inline uint32_t SlotOf(uint64_t ref) { return static_cast<uint32_t>(ref >> 32); }
inline uint32_t RowOf(uint64_t ref) { return static_cast<uint32_t>(ref); }

/// A uint32 index array for Take; where `valid` is given, its zero entries become NULL indices,
/// which Take turns into NULL rows.
Result<std::shared_ptr<arrow::Array>> MakeIndices(std::vector<uint32_t> values,
                                                  const std::vector<uint8_t>& valid);


/// The input batches that one side of a join still holds rows of, each in a numbered slot, so
/// that a kept row costs a 64-bit reference (slot, row) instead of a copy. A batch is let go as
/// soon as none of its rows is held. Output rows are gathered from the kept batches with Take.
/// Owned by its processor; single-threaded.
class BatchStore {
 public:
  explicit BatchStore(std::shared_ptr<arrow::Schema> schema) : schema_(std::move(schema)) {}

  /// Keeps `batch` in a slot, with no row held yet (see Hold(), DropIfUnheld()).
  Result<uint32_t> Add(std::shared_ptr<arrow::RecordBatch> batch) {
    SLUICE_ASSIGN_OR_RAISE(int64_t bytes, arrow::util::ReferencedBufferSize(*batch));
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    slots_[slot] = Slot{std::move(batch), 0, bytes};
    bytes_ += bytes;
    return slot;
  }

  void Hold(uint32_t slot, int64_t rows) { slots_[slot].held += rows; }

  /// Lets go of `rows` held rows of the batch in `slot`, and of the batch once none is left.
  void Release(uint32_t slot, int64_t rows) {
    Slot& kept = slots_[slot];
    kept.held -= rows;
    if (kept.held == 0) Drop(slot);
  }

  /// Lets go of every row in `refs` (runs of one slot are released together).
  void Release(const std::vector<uint64_t>& refs) {
    size_t i = 0;
    while (i < refs.size()) {
      const uint32_t slot = SlotOf(refs[i]);
      size_t end = i + 1;
      while (end < refs.size() && SlotOf(refs[end]) == slot) ++end;
      Release(slot, static_cast<int64_t>(end - i));
      i = end;
    }
  }

  /// Drops every batch, held rows or not.
  void Clear() {
    std::vector<Slot>().swap(slots_);
    std::vector<uint32_t>().swap(free_);
    std::vector<int64_t>().swap(counts_);
    bytes_ = 0;
  }

  /// Drops the batch in `slot` when it holds no row (one that was added but not kept).
  void DropIfUnheld(uint32_t slot) {
    if (slot < slots_.size() && slots_[slot].batch != nullptr && slots_[slot].held == 0) Drop(slot);
  }

  int64_t bytes() const {
    return bytes_ + static_cast<int64_t>(slots_.capacity() * sizeof(Slot) +
                                         free_.capacity() * sizeof(uint32_t) +
                                         counts_.capacity() * sizeof(int64_t));
  }

  /// The columns of the rows `refs[0..count)`, in that order; kNoRow gives a row of NULLs.
  Result<std::vector<std::shared_ptr<arrow::Array>>> Gather(const uint64_t* refs, int64_t count);

  /// The kept batches as one table (a chunk per batch, in slot order), for a snapshot, and in
  /// `offsets` the position of each slot's first row in it (-1 for an empty slot). The batches
  /// are shared, not copied: a kept batch never changes.
  Result<std::shared_ptr<arrow::Table>> Snapshot(std::vector<int64_t>* offsets) const;
  /// Keeps each chunk of `table` (made by Snapshot()) in a slot of its own, with no row held
  /// yet: `slots` gets the slot of each chunk and `starts` the position of its first row.
  Status Restore(const arrow::Table& table, std::vector<uint32_t>* slots,
                 std::vector<int64_t>* starts);

 private:
  struct Slot {
    std::shared_ptr<arrow::RecordBatch> batch;
    int64_t held = 0;
    int64_t bytes = 0;
  };

  void Drop(uint32_t slot) {
    bytes_ -= slots_[slot].bytes;
    slots_[slot] = Slot{};
    free_.push_back(slot);
    // Nothing is kept: give the bookkeeping back too, so that the state returns to nothing.
    if (free_.size() == slots_.size()) Clear();
  }

  std::shared_ptr<arrow::Schema> schema_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  int64_t bytes_ = 0;
  /// Scratch of Gather(), per slot; all zero between calls.
  std::vector<int64_t> counts_;
};

/// What both kinds of join share: key ids, event times, the kept batches and the output.
///
/// Keys of both inputs are mapped to dense uint32 ids by one Arrow Grouper (the key types of
/// the two sides are equal, so equal keys get equal ids); a row with a NULL key field gets
/// kNoKey, which matches nothing. Each side keeps its batches in a BatchStore and refers to
/// kept rows by (slot, row). The grouper cannot forget single keys, so it is rebuilt from the
/// keys still held once most of the keys it holds are not, and replaced when none is.
/// Subclasses decide which rows are kept, matched and freed, and count the keys they hold.
/// Driven by one thread.
class JoinProcessor : public exec::Processor {
 public:
  JoinProcessor(JoinSettings settings, exec::ProcessorContext context,
                std::unique_ptr<Grouper> grouper)
      : settings_(std::move(settings)),
        context_(std::move(context)),
        grouper_(std::move(grouper)),
        stores_{BatchStore(settings_.input_schemas[kLeft]),
                BatchStore(settings_.input_schemas[kRight])} {}

  std::shared_ptr<arrow::Schema> output_schema() const override { return settings_.output; }
  std::string output_event_time_field() const override { return settings_.output_time_field; }
  bool stateless() const override { return false; }

  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter& out) override {
    return ProcessInput(kLeft, batch, out);
  }

  Status ProcessInput(size_t input, const std::shared_ptr<arrow::RecordBatch>& batch,
                      exec::Emitter& out) final;

  Status OnWatermark(Timestamp watermark, exec::Emitter& out) final {
    if (settings_.processing_time && watermark != exec::kMaxTimestamp) watermark = WallClockNow();
    if (watermark <= watermark_) return Status::OK();
    watermark_ = watermark;
    SLUICE_RETURN_NOT_OK(Advance(out));
    return CompactKeys();
  }

  Status Finish(exec::Emitter& out) final {
    if (watermark_ != exec::kMaxTimestamp) return OnWatermark(exec::kMaxTimestamp, out);
    return Status::OK();
  }

  int64_t state_bytes() const final {
    return stores_[kLeft].bytes() + stores_[kRight].bytes() +
           static_cast<int64_t>(num_keys_) * kBytesPerKey + held_bytes();
  }

  /// A snapshot holds the watermark and, per side, the kept batches as they are
  /// (`left.batches`) and one row per kept row (`left.rows`): its key columns, the subclass's
  /// columns (SavedFields()) and its position in the batches. Key ids are not saved: the
  /// grouper is rebuilt from the key columns at restore (see join_state.cc).
  bool checkpointable() const final { return true; }
  Result<state::StateSnapshot> SnapshotState() const final;
  Status RestoreState(const state::StateSnapshot& snapshot) final;

 protected:
  /// Takes in the rows of `batch` (input `side`, kept in `slot` of its store) with their times
  /// and key ids. Rows it keeps must be held in the store.
  virtual Status Accept(int side, const arrow::RecordBatch& batch, uint32_t slot,
                        const Timestamp* times, const uint32_t* keys, exec::Emitter& out) = 0;
  /// The watermark moved on to watermark_: emit and free what it completes.
  virtual Status Advance(exec::Emitter& out) = 0;
  /// The grouper was rebuilt: key id k is now new_ids[k] (kNoKey for keys no longer held), of
  /// `num_keys` in all (0 when every key was forgotten).
  virtual void RemapKeys(const std::vector<uint32_t>& new_ids, uint32_t num_keys) = 0;
  /// Whether a kept row refers to key id `key` (called when the grouper is rebuilt).
  virtual bool KeyHeld(uint32_t key) const = 0;
  /// Bytes of the subclass's own bookkeeping.
  virtual int64_t held_bytes() const = 0;

  /// The rows one side keeps, as a subclass hands them to a snapshot: per row its key id
  /// (kNoKey for a NULL key), its reference, and the subclass's own columns.
  struct SavedRows {
    std::vector<uint32_t> keys;
    std::vector<uint64_t> rows;
    std::vector<std::shared_ptr<arrow::Array>> columns;
  };
  /// The fields of SavedRows::columns, the same for both sides.
  virtual std::vector<std::shared_ptr<arrow::Field>> SavedFields() const = 0;
  /// The rows `side` keeps, in an order that RestoreRows() turns back into the same state.
  /// Copies what the subclass changes later (flags, times); a snapshot shares nothing mutable.
  virtual Result<SavedRows> SaveRows(int side) const = 0;
  /// Keeps the rows of `side` saved by SaveRows(), with their new key ids and references (the
  /// rows are already held in the store), on a freshly built processor whose watermark is set.
  virtual Status RestoreRows(int side, const std::vector<uint32_t>& keys,
                             const std::vector<uint64_t>& rows,
                             const std::vector<std::shared_ptr<arrow::Array>>& columns) = 0;

  /// Sends row `row` of `batch` (input `side`) to the dead letters.
  void Reject(int side, const arrow::RecordBatch& batch, int64_t row, std::string reason) {
    if (context_.dead_letters == nullptr) return;
    context_.dead_letters->Add(exec::DeadLetter{std::move(reason), "join",
                                                settings_.stream_names[side], "",
                                                exec::RowToJson(batch, row), row});
  }

  /// Emits rows: left row left[i] beside right row right[i] (kNoRow: that side's columns are
  /// NULL), preceded by window_start, window_end when `window_starts` is given.
  Status EmitRows(const std::vector<uint64_t>& left, const std::vector<uint64_t>& right,
                  const std::vector<Timestamp>* window_starts, exec::Emitter& out);

  JoinSettings settings_;
  exec::ProcessorContext context_;
  std::unique_ptr<Grouper> grouper_;
  std::array<BatchStore, 2> stores_;
  Timestamp watermark_ = exec::kMinTimestamp;
  uint32_t num_keys_ = 0;
  /// How many key ids kept rows refer to; kept by the subclass.
  uint32_t live_keys_ = 0;

 private:
  Status CompactKeys();
};

// ---------------------------------------------------------------------------------------
// Window join.

/// Joins the rows of both inputs that fall in the same tumbling or sliding window, when the
/// watermark passes the window's end.
///
/// Rows are kept in *panes* (the slide, or gcd(size, slide), long), so that a row of a sliding
/// window is kept once, not once per window; each pane lists per side the key id and reference
/// of its rows. A window fires by chaining its right rows per key id (a scratch table indexed by
/// id) and walking each left row's chain. A pane is freed with the last window holding it.
class WindowJoin final : public JoinProcessor {
 public:
  WindowJoin(JoinSettings settings, exec::ProcessorContext context,
             std::unique_ptr<Grouper> grouper)
      : JoinProcessor(std::move(settings), std::move(context), std::move(grouper)),
        pane_size_(std::gcd(settings_.size, settings_.slide)) {}

 protected:
  Status Accept(int side, const arrow::RecordBatch& batch, uint32_t slot, const Timestamp* times,
                const uint32_t* keys, exec::Emitter& out) override;
  Status Advance(exec::Emitter& out) override;
  void RemapKeys(const std::vector<uint32_t>& new_ids, uint32_t num_keys) override;
  bool KeyHeld(uint32_t key) const override { return key < key_refs_.size() && key_refs_[key] > 0; }
  int64_t held_bytes() const override;
  /// A row's pane start; the windows still to fire follow from the panes and the watermark.
  std::vector<std::shared_ptr<arrow::Field>> SavedFields() const override;
  Result<SavedRows> SaveRows(int side) const override;
  Status RestoreRows(int side, const std::vector<uint32_t>& keys,
                     const std::vector<uint64_t>& rows,
                     const std::vector<std::shared_ptr<arrow::Array>>& columns) override;

 private:
  struct Pane {
    std::array<std::vector<uint32_t>, 2> keys;
    std::array<std::vector<uint64_t>, 2> rows;
  };

  void HoldKey(uint32_t key) {
    if (key != kNoKey && key_refs_[key]++ == 0) ++live_keys_;
  }
  void ReleaseKey(uint32_t key) {
    if (key != kNoKey && --key_refs_[key] == 0) --live_keys_;
  }
  void RegisterPaneWindows(Timestamp pane_start);
  /// Appends the output rows of window [start, start + size).
  void Fire(Timestamp start, std::vector<uint64_t>* left, std::vector<uint64_t>* right,
            std::vector<Timestamp>* starts);

  Timestamp pane_size_;
  std::map<Timestamp, Pane> panes_;
  /// Starts of the windows that hold a pane and have not fired.
  std::set<Timestamp> windows_;
  /// Per key id: how many kept rows refer to it.
  std::vector<uint32_t> key_refs_;
  /// Scratch of Fire(): per key id, its first right row; kNoEntry between firings.
  std::vector<uint32_t> first_right_;
  std::vector<uint32_t> next_right_;
  std::vector<uint8_t> right_matched_;
  std::vector<uint32_t> right_keys_;
  std::vector<uint64_t> right_rows_;
};

// ---------------------------------------------------------------------------------------
// Interval and regular (ttl) joins.

/// When a kept row of a probe join is freed: once the watermark is past `after`.
struct Expiry {
  Timestamp after;
  uint32_t entry;
  /// The entry's generation when it was kept; an entry freed earlier (on_match: delete) has
  /// moved on, and the item is stale.
  uint32_t generation;
  bool operator>(const Expiry& other) const { return after > other.after; }
};

/// Expiries in time order. Rows mostly come in time order, so an item not earlier than the last
/// one queued goes to a plain queue (O(1), sequential memory); only the others go to a min-heap.
class ExpiryQueue {
 public:
  void Push(const Expiry& item) {
    if (in_order_.empty() || item.after >= in_order_.back().after) {
      in_order_.push_back(item);
    } else {
      out_of_order_.push(item);
    }
  }
  bool empty() const { return in_order_.empty() && out_of_order_.empty(); }
  size_t size() const { return in_order_.size() + out_of_order_.size(); }
  /// The earliest item; the queue must not be empty.
  const Expiry& top() const { return FromHeap() ? out_of_order_.top() : in_order_.front(); }
  void pop() {
    if (FromHeap()) {
      out_of_order_.pop();
    } else {
      in_order_.pop_front();
    }
  }
  void clear() {
    std::deque<Expiry>().swap(in_order_);
    out_of_order_ = {};
  }

 private:
  bool FromHeap() const {
    if (out_of_order_.empty()) return false;
    return in_order_.empty() || out_of_order_.top().after < in_order_.front().after;
  }

  std::deque<Expiry> in_order_;
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<Expiry>> out_of_order_;
};

/// Joins each arriving row at once with the matching rows the other side keeps, then keeps it
/// until the watermark says no row of the other side can match it any more (interval join) or
/// its time-to-live ran out (regular join).
///
/// Kept rows are entries in a pool per side, chained per key id in a doubly linked list (so an
/// entry is unlinked in O(1) when it expires or, with on_match: delete, when it matched); the
/// heads of both sides' chains of a key sit together, so a row's probe and its insertion touch
/// one cache line. An ExpiryQueue per side frees entries in time order.
class ProbeJoin final : public JoinProcessor {
 public:
  using JoinProcessor::JoinProcessor;

 protected:
  Status Accept(int side, const arrow::RecordBatch& batch, uint32_t slot, const Timestamp* times,
                const uint32_t* keys, exec::Emitter& out) override;
  Status Advance(exec::Emitter& out) override;
  void RemapKeys(const std::vector<uint32_t>& new_ids, uint32_t num_keys) override;
  bool KeyHeld(uint32_t key) const override {
    return key < heads_.size() &&
           (heads_[key][kLeft] != kNoEntry || heads_[key][kRight] != kNoEntry);
  }
  int64_t held_bytes() const override;
  /// A row's time and whether it matched; rows are saved by key, oldest first, so that the
  /// chains are rebuilt in the same order (the expiry queues are rebuilt from the times).
  std::vector<std::shared_ptr<arrow::Field>> SavedFields() const override;
  Result<SavedRows> SaveRows(int side) const override;
  Status RestoreRows(int side, const std::vector<uint32_t>& keys,
                     const std::vector<uint64_t>& rows,
                     const std::vector<std::shared_ptr<arrow::Array>>& columns) override;

 private:
  struct Entry {
    Timestamp time;
    uint64_t row;
    uint32_t key;
    uint32_t previous;
    uint32_t next;
    uint32_t generation;
    bool matched;
  };
  struct Side {
    std::vector<Entry> entries;
    std::vector<uint32_t> free_entries;
    ExpiryQueue expiries;
    int64_t live = 0;
  };

  /// Until when a row of `side` with time `time` is kept.
  Timestamp KeptUntil(int side, Timestamp time) const {
    if (settings_.bound == Bound::kTtl) return AddSaturating(time, settings_.ttl - 1);
    return side == kLeft ? AddSaturating(time, settings_.upper)
                         : AddSaturating(time, -settings_.lower);
  }
  void Insert(int side, Timestamp time, uint64_t row, uint32_t key, bool matched);
  /// Unlinks an entry and frees it; its row stays held in the store (the caller releases it).
  void Unlink(int side, uint32_t entry);
  /// The end of the input: emits the unmatched rows of outer sides and drops everything, in
  /// one pass rather than entry by entry.
  Status FlushAll(exec::Emitter& out);
  void FreeIfEmpty();

  std::array<Side, 2> sides_;
  /// Per key id: the newest entry of each side, kNoEntry for none.
  std::vector<std::array<uint32_t, 2>> heads_;
};

}  // namespace sluice::processors::join
