#include "sluice/processors/join.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/compute/initialize.h>
#include <arrow/compute/row/grouper.h>
#include <arrow/util/bit_util.h>
#include <arrow/util/byte_size.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <queue>
#include <set>

#include "sluice/common/spelling.h"
#include "sluice/processors/window.h"

namespace sluice::processors {
namespace {

using arrow::compute::Grouper;
using exec::FloorTo;
using exec::Micros;
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
                                                  const std::vector<uint8_t>& valid) {
  const auto length = static_cast<int64_t>(values.size());
  std::shared_ptr<arrow::Buffer> bitmap;
  int64_t nulls = 0;
  if (!valid.empty()) {
    SLUICE_ASSIGN_OR_RAISE(bitmap, arrow::AllocateEmptyBitmap(length));
    uint8_t* bits = bitmap->mutable_data();
    for (int64_t i = 0; i < length; ++i) {
      if (valid[i]) {
        arrow::bit_util::SetBit(bits, i);
      } else {
        ++nulls;
      }
    }
  }
  auto data = arrow::ArrayData::Make(
      arrow::uint32(), length, {std::move(bitmap), arrow::Buffer::FromVector(std::move(values))},
      nulls);
  return arrow::MakeArray(std::move(data));
}

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

Result<std::vector<std::shared_ptr<arrow::Array>>> BatchStore::Gather(const uint64_t* refs,
                                                                      int64_t count) {
  std::vector<std::shared_ptr<arrow::Array>> columns;
  if (count == 0) {
    for (const auto& field : schema_->fields()) {
      SLUICE_ASSIGN_OR_RAISE(auto empty, arrow::MakeEmptyArray(field->type()));
      columns.push_back(std::move(empty));
    }
    return columns;
  }
  if (counts_.size() < slots_.size()) counts_.resize(slots_.size(), 0);
  std::vector<uint32_t> used;
  int64_t missing = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (refs[i] == kNoRow) {
      ++missing;
      continue;
    }
    if (counts_[SlotOf(refs[i])]++ == 0) used.push_back(SlotOf(refs[i]));
  }
  if (used.empty()) {
    for (const auto& field : schema_->fields()) {
      SLUICE_ASSIGN_OR_RAISE(auto nulls, arrow::MakeArrayOfNull(field->type(), count));
      columns.push_back(std::move(nulls));
    }
    return columns;
  }
  std::vector<uint8_t> valid;
  if (missing > 0) {
    valid.resize(count);
    for (int64_t i = 0; i < count; ++i) valid[i] = refs[i] != kNoRow;
  }

  if (used.size() == 1) {
    // One batch: a single Take, or the batch itself when every row comes once, in order.
    const auto& batch = slots_[used[0]].batch;
    counts_[used[0]] = 0;
    std::vector<uint32_t> rows(count);
    bool identity = missing == 0 && count == batch->num_rows();
    for (int64_t i = 0; i < count; ++i) {
      rows[i] = refs[i] == kNoRow ? 0 : RowOf(refs[i]);
      identity = identity && rows[i] == i;
    }
    if (identity) return batch->columns();
    SLUICE_ASSIGN_OR_RAISE(auto indices, MakeIndices(std::move(rows), valid));
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum taken, arrow::compute::Take(batch, indices));
    return taken.record_batch()->columns();
  }

  // Several batches: take each batch's rows into a piece, concatenate the pieces, and put the
  // rows back in the order asked with one more Take.
  int64_t offset = 0;
  for (uint32_t slot : used) {
    const int64_t rows = counts_[slot];
    counts_[slot] = offset;  // from here on: where the slot's next row goes
    offset += rows;
  }
  std::vector<uint32_t> rows(count - missing);
  std::vector<uint32_t> positions(count);
  bool identity = missing == 0;
  for (int64_t i = 0; i < count; ++i) {
    if (refs[i] == kNoRow) continue;
    const int64_t position = counts_[SlotOf(refs[i])]++;
    rows[position] = RowOf(refs[i]);
    positions[i] = static_cast<uint32_t>(position);
    identity = identity && position == i;
  }
  arrow::RecordBatchVector pieces;
  int64_t begin = 0;
  for (uint32_t slot : used) {
    const int64_t end = counts_[slot];
    counts_[slot] = 0;
    std::vector<uint32_t> piece_rows(rows.begin() + begin, rows.begin() + end);
    SLUICE_ASSIGN_OR_RAISE(auto indices, MakeIndices(std::move(piece_rows), {}));
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum taken, arrow::compute::Take(slots_[slot].batch, indices));
    pieces.push_back(taken.record_batch());
    begin = end;
  }
  SLUICE_ASSIGN_OR_RAISE(auto combined, arrow::ConcatenateRecordBatches(pieces));
  if (identity) return combined->columns();
  SLUICE_ASSIGN_OR_RAISE(auto indices, MakeIndices(std::move(positions), valid));
  SLUICE_ASSIGN_OR_RAISE(arrow::Datum taken, arrow::compute::Take(combined, indices));
  return taken.record_batch()->columns();
}

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

Status JoinProcessor::ProcessInput(size_t input, const std::shared_ptr<arrow::RecordBatch>& batch,
                                   exec::Emitter& out) {
  if (input > 1) return Status::Invalid("a join has two inputs, not input ", input);
  const int side = static_cast<int>(input);
  const int64_t rows = batch->num_rows();
  if (rows == 0) return Status::OK();
  const int time_column = settings_.time_columns[side];
  if (time_column >= 0 && batch->column(time_column)->null_count() > 0) {
    // The driver dead-letters rows without an event time; an earlier stage may still make one.
    const auto& column = *batch->column(time_column);
    for (int64_t i = 0; i < rows; ++i) {
      if (column.IsNull(i)) Reject(side, *batch, i, "no event time");
    }
    SLUICE_ASSIGN_OR_RAISE(auto valid, arrow::compute::IsValid(batch->column(time_column)));
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum kept, arrow::compute::Filter(batch, valid));
    return ProcessInput(input, kept.record_batch(), out);
  }

  // Event times, or the arrival time of every row.
  std::vector<Timestamp> arrival;
  const Timestamp* times = nullptr;
  if (time_column < 0) {
    arrival.assign(rows, WallClockNow());
    times = arrival.data();
  } else {
    times = static_cast<const arrow::TimestampArray&>(*batch->column(time_column)).raw_values();
  }

  // Dense key ids; NULL keys match nothing.
  std::vector<arrow::Datum> key_columns;
  for (int column : settings_.key_columns[side]) key_columns.emplace_back(batch->column(column));
  arrow::compute::ExecBatch key_batch(std::move(key_columns), rows);
  SLUICE_ASSIGN_OR_RAISE(arrow::Datum ids, grouper_->Consume(arrow::compute::ExecSpan(key_batch)));
  const uint32_t* id = ids.array()->GetValues<uint32_t>(1);
  std::vector<uint32_t> keys(id, id + rows);
  for (int column : settings_.key_columns[side]) {
    const arrow::Array& values = *batch->column(column);
    if (values.null_count() == 0) continue;
    for (int64_t i = 0; i < rows; ++i) {
      if (values.IsNull(i)) keys[i] = kNoKey;
    }
  }
  num_keys_ = grouper_->num_groups();

  SLUICE_ASSIGN_OR_RAISE(uint32_t slot, stores_[side].Add(batch));
  Status status = Accept(side, *batch, slot, times, keys.data(), out);
  stores_[side].DropIfUnheld(slot);
  return status;
}

Status JoinProcessor::EmitRows(const std::vector<uint64_t>& left,
                               const std::vector<uint64_t>& right,
                               const std::vector<Timestamp>* window_starts, exec::Emitter& out) {
  const auto count = static_cast<int64_t>(left.size());
  auto time_type = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  for (int64_t begin = 0; begin < count; begin += kOutputBatchRows) {
    const int64_t rows = std::min(kOutputBatchRows, count - begin);
    std::vector<std::shared_ptr<arrow::Array>> columns;
    columns.reserve(settings_.output->num_fields());
    if (window_starts != nullptr) {
      std::vector<Timestamp> ends(window_starts->begin() + begin,
                                  window_starts->begin() + begin + rows);
      for (auto& end : ends) end += settings_.size;
      arrow::TimestampBuilder start_builder(time_type, arrow::default_memory_pool());
      arrow::TimestampBuilder end_builder(time_type, arrow::default_memory_pool());
      SLUICE_RETURN_NOT_OK(start_builder.AppendValues(window_starts->data() + begin, rows));
      SLUICE_RETURN_NOT_OK(end_builder.AppendValues(ends));
      SLUICE_ASSIGN_OR_RAISE(auto starts_array, start_builder.Finish());
      SLUICE_ASSIGN_OR_RAISE(auto ends_array, end_builder.Finish());
      columns.push_back(std::move(starts_array));
      columns.push_back(std::move(ends_array));
    }
    SLUICE_ASSIGN_OR_RAISE(auto left_columns, stores_[kLeft].Gather(left.data() + begin, rows));
    SLUICE_ASSIGN_OR_RAISE(auto right_columns, stores_[kRight].Gather(right.data() + begin, rows));
    for (auto& column : left_columns) columns.push_back(std::move(column));
    for (auto& column : right_columns) columns.push_back(std::move(column));
    SLUICE_RETURN_NOT_OK(out.Emit(arrow::RecordBatch::Make(settings_.output, rows, columns)));
  }
  return Status::OK();
}

Status JoinProcessor::CompactKeys() {
  const uint32_t groups = num_keys_;
  if (groups == 0) return Status::OK();
  if (live_keys_ == 0) {
    // A new grouper rather than Reset(), which keeps the old one's memory.
    SLUICE_ASSIGN_OR_RAISE(
        grouper_, Grouper::Make(settings_.key_types, arrow::compute::default_exec_context()));
    num_keys_ = 0;
    RemapKeys(std::vector<uint32_t>(groups, kNoKey), 0);
    return Status::OK();
  }
  if (groups < kCompactMinimum || live_keys_ * 2 >= groups) return Status::OK();
  SLUICE_ASSIGN_OR_RAISE(arrow::compute::ExecBatch uniques, grouper_->GetUniques());
  std::vector<uint8_t> alive(groups);
  for (uint32_t key = 0; key < groups; ++key) alive[key] = KeyHeld(key);
  arrow::BooleanBuilder mask;
  SLUICE_RETURN_NOT_OK(mask.AppendValues(alive.data(), groups));
  SLUICE_ASSIGN_OR_RAISE(auto mask_array, mask.Finish());
  std::vector<arrow::Datum> live_keys;
  for (const auto& column : uniques.values) {
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum kept, arrow::compute::Filter(column, mask_array));
    live_keys.push_back(std::move(kept));
  }
  arrow::compute::ExecBatch live_batch(std::move(live_keys), live_keys_);
  SLUICE_ASSIGN_OR_RAISE(
      auto fresh, Grouper::Make(settings_.key_types, arrow::compute::default_exec_context()));
  SLUICE_ASSIGN_OR_RAISE(arrow::Datum fresh_ids,
                         fresh->Consume(arrow::compute::ExecSpan(live_batch)));
  const uint32_t* fresh_id = fresh_ids.array()->GetValues<uint32_t>(1);
  std::vector<uint32_t> new_ids(groups, kNoKey);
  int64_t next = 0;
  for (uint32_t key = 0; key < groups; ++key) {
    if (alive[key]) new_ids[key] = fresh_id[next++];
  }
  grouper_ = std::move(fresh);
  num_keys_ = live_keys_;
  RemapKeys(new_ids, num_keys_);
  return Status::OK();
}

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

void WindowJoin::RegisterPaneWindows(Timestamp pane_start) {
  // The windows [s, s + size) holding the pane: s a multiple of slide in
  // [pane_start + pane - size, pane_start], and not fired yet.
  const Timestamp size = settings_.size, slide = settings_.slide;
  for (Timestamp start = FloorTo(pane_start, slide); start + size >= pane_start + pane_size_;
       start -= slide) {
    if (start + size <= watermark_) break;
    windows_.insert(start);
  }
}

Status WindowJoin::Accept(int side, const arrow::RecordBatch& batch, uint32_t slot,
                          const Timestamp* times, const uint32_t* keys, exec::Emitter&) {
  const int64_t rows = batch.num_rows();
  const Timestamp size = settings_.size, slide = settings_.slide;
  const bool outer = settings_.outer[side];
  if (key_refs_.size() < num_keys_) key_refs_.resize(num_keys_, 0);
  Pane* pane = nullptr;
  Timestamp pane_start = 0;
  int64_t held = 0;
  const exec::LatenessWatermarks limits(context_, watermark_);
  for (int64_t i = 0; i < rows; ++i) {
    const Timestamp time = times[i];
    const Timestamp start = FloorTo(time, pane_size_);
    const Timestamp limit = limits[i];
    if (pane == nullptr || start != pane_start || limit != watermark_) {
      // The latest window holding the row decides whether it is late.
      const Timestamp latest = FloorTo(time, slide);
      if (latest + size <= limit) {
        Reject(side, batch, i,
               fmt::format("late: window [{}, {}) has closed", exec::FormatTimestamp(latest),
                           exec::FormatTimestamp(latest + size)));
        pane = nullptr;
        continue;
      }
      pane_start = start;
      pane = &panes_[start];
      RegisterPaneWindows(start);
    }
    const uint32_t key = keys[i];
    // A NULL key never matches: only an outer side emits such a row (unmatched).
    if (key == kNoKey && !outer) continue;
    pane->keys[side].push_back(key);
    pane->rows[side].push_back(RowRef(slot, i));
    HoldKey(key);
    ++held;
  }
  stores_[side].Hold(slot, held);
  return Status::OK();
}

void WindowJoin::Fire(Timestamp start, std::vector<uint64_t>* left, std::vector<uint64_t>* right,
                      std::vector<Timestamp>* starts) {
  auto first = panes_.lower_bound(start);
  auto last = panes_.lower_bound(start + settings_.size);
  if (first == last) return;

  // Chain the window's right rows per key, in arrival order.
  right_keys_.clear();
  right_rows_.clear();
  for (auto it = first; it != last; ++it) {
    const Pane& pane = it->second;
    right_keys_.insert(right_keys_.end(), pane.keys[kRight].begin(), pane.keys[kRight].end());
    right_rows_.insert(right_rows_.end(), pane.rows[kRight].begin(), pane.rows[kRight].end());
  }
  const auto right_count = static_cast<uint32_t>(right_rows_.size());
  if (first_right_.size() < num_keys_) first_right_.resize(num_keys_, kNoEntry);
  next_right_.resize(right_count);
  right_matched_.assign(right_count, 0);
  for (uint32_t j = right_count; j-- > 0;) {
    const uint32_t key = right_keys_[j];
    if (key == kNoKey) continue;
    next_right_[j] = first_right_[key];
    first_right_[key] = j;
  }

  const bool left_outer = settings_.outer[kLeft];
  for (auto it = first; it != last; ++it) {
    const Pane& pane = it->second;
    const size_t left_count = pane.rows[kLeft].size();
    for (size_t i = 0; i < left_count; ++i) {
      const uint32_t key = pane.keys[kLeft][i];
      const uint64_t row = pane.rows[kLeft][i];
      bool matched = false;
      if (key != kNoKey) {
        for (uint32_t j = first_right_[key]; j != kNoEntry; j = next_right_[j]) {
          left->push_back(row);
          right->push_back(right_rows_[j]);
          right_matched_[j] = 1;
          matched = true;
        }
      }
      if (!matched && left_outer) {
        left->push_back(row);
        right->push_back(kNoRow);
      }
    }
  }
  if (settings_.outer[kRight]) {
    for (uint32_t j = 0; j < right_count; ++j) {
      if (right_matched_[j]) continue;
      left->push_back(kNoRow);
      right->push_back(right_rows_[j]);
    }
  }
  for (uint32_t j = 0; j < right_count; ++j) {
    if (right_keys_[j] != kNoKey) first_right_[right_keys_[j]] = kNoEntry;
  }
  starts->resize(left->size(), start);
}

Status WindowJoin::Advance(exec::Emitter& out) {
  const Timestamp size = settings_.size;
  std::vector<uint64_t> left, right;
  std::vector<Timestamp> starts;
  while (!windows_.empty() && *windows_.begin() + size <= watermark_) {
    Fire(*windows_.begin(), &left, &right, &starts);
    windows_.erase(windows_.begin());
  }
  SLUICE_RETURN_NOT_OK(EmitRows(left, right, &starts, out));
  // A pane goes when the latest window holding it has fired.
  while (!panes_.empty()) {
    auto it = panes_.begin();
    if (FloorTo(it->first, settings_.slide) + size > watermark_) break;
    for (int side : {kLeft, kRight}) {
      for (uint32_t key : it->second.keys[side]) ReleaseKey(key);
      stores_[side].Release(it->second.rows[side]);
    }
    panes_.erase(it);
  }
  if (panes_.empty()) {
    windows_.clear();
    std::vector<uint32_t>().swap(first_right_);
    std::vector<uint32_t>().swap(next_right_);
    std::vector<uint8_t>().swap(right_matched_);
    std::vector<uint32_t>().swap(right_keys_);
    std::vector<uint64_t>().swap(right_rows_);
  }
  return Status::OK();
}

void WindowJoin::RemapKeys(const std::vector<uint32_t>& new_ids, uint32_t num_keys) {
  std::vector<uint32_t> key_refs(num_keys, 0);
  for (size_t key = 0; key < key_refs_.size() && key < new_ids.size(); ++key) {
    if (new_ids[key] != kNoKey) key_refs[new_ids[key]] = key_refs_[key];
  }
  key_refs_ = std::move(key_refs);
  for (auto& [start, pane] : panes_) {
    for (auto& keys : pane.keys) {
      for (auto& key : keys) {
        if (key != kNoKey) key = new_ids[key];
      }
    }
  }
  std::vector<uint32_t>().swap(first_right_);
}

int64_t WindowJoin::held_bytes() const {
  int64_t bytes = 0;
  for (const auto& [start, pane] : panes_) {
    bytes += 64;
    for (int side : {kLeft, kRight}) {
      bytes += static_cast<int64_t>(pane.keys[side].capacity() * sizeof(uint32_t) +
                                    pane.rows[side].capacity() * sizeof(uint64_t));
    }
  }
  bytes += static_cast<int64_t>(windows_.size()) * 40;
  bytes += static_cast<int64_t>(key_refs_.capacity() * sizeof(uint32_t));
  bytes += static_cast<int64_t>(
      first_right_.capacity() * sizeof(uint32_t) + next_right_.capacity() * sizeof(uint32_t) +
      right_matched_.capacity() + right_keys_.capacity() * sizeof(uint32_t) +
      right_rows_.capacity() * sizeof(uint64_t));
  return bytes;
}

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

void ProbeJoin::Insert(int side, Timestamp time, uint64_t row, uint32_t key, bool matched) {
  Side& kept = sides_[side];
  uint32_t index;
  if (!kept.free_entries.empty()) {
    index = kept.free_entries.back();
    kept.free_entries.pop_back();
  } else {
    index = static_cast<uint32_t>(kept.entries.size());
    kept.entries.push_back(Entry{0, 0, 0, kNoEntry, kNoEntry, 0, false});
  }
  std::array<uint32_t, 2>& heads = heads_[key];
  if (heads[kLeft] == kNoEntry && heads[kRight] == kNoEntry) ++live_keys_;
  Entry& entry = kept.entries[index];
  entry.time = time;
  entry.row = row;
  entry.key = key;
  entry.previous = kNoEntry;
  entry.next = heads[side];
  entry.matched = matched;
  if (entry.next != kNoEntry) kept.entries[entry.next].previous = index;
  heads[side] = index;
  kept.expiries.Push(Expiry{KeptUntil(side, time), index, entry.generation});
  ++kept.live;
}

void ProbeJoin::Unlink(int side, uint32_t index) {
  Side& kept = sides_[side];
  Entry& entry = kept.entries[index];
  std::array<uint32_t, 2>& heads = heads_[entry.key];
  if (entry.previous != kNoEntry) {
    kept.entries[entry.previous].next = entry.next;
  } else {
    heads[side] = entry.next;
  }
  if (entry.next != kNoEntry) kept.entries[entry.next].previous = entry.previous;
  if (heads[kLeft] == kNoEntry && heads[kRight] == kNoEntry) --live_keys_;
  ++entry.generation;
  kept.free_entries.push_back(index);
  --kept.live;
}

Status ProbeJoin::Accept(int side, const arrow::RecordBatch& batch, uint32_t slot,
                         const Timestamp* times, const uint32_t* keys, exec::Emitter& out) {
  const int other = 1 - side;
  if (heads_.size() < num_keys_) heads_.resize(num_keys_, {kNoEntry, kNoEntry});
  Side& theirs = sides_[other];
  const int64_t rows = batch.num_rows();
  const bool interval = settings_.bound == Bound::kInterval;
  const bool delete_on_match = settings_.delete_on_match;
  const bool outer = settings_.outer[side];
  // The other side's times a row matches, relative to its own: right - left in [lower, upper].
  const Timestamp from = side == kLeft ? settings_.lower : -settings_.upper;
  const Timestamp to = side == kLeft ? settings_.upper : -settings_.lower;

  std::array<std::vector<uint64_t>, 2> output;
  std::vector<uint64_t>& mine_out = output[side];
  std::vector<uint64_t>& theirs_out = output[other];
  std::vector<uint64_t> deleted;
  int64_t held = 0;
  const exec::LatenessWatermarks limits(context_, watermark_);
  for (int64_t i = 0; i < rows; ++i) {
    const Timestamp time = times[i];
    const Timestamp limit = limits[i];
    // Interval join: a row behind the watermark may have lost its partners already.
    // Regular join: a row whose time-to-live ran out before it came would expire at once.
    if (interval ? time < limit : KeptUntil(side, time) < limit) {
      Reject(side, batch, i,
             interval ? fmt::format("late: event time {} is behind the watermark",
                                    exec::FormatTimestamp(time))
                      : fmt::format("late: event time {} plus ttl {} is behind the watermark",
                                    exec::FormatTimestamp(time),
                                    FormatDuration(std::chrono::microseconds(settings_.ttl))));
      continue;
    }
    const uint64_t row = RowRef(slot, i);
    const uint32_t key = keys[i];
    if (key == kNoKey) {
      if (outer) {
        mine_out.push_back(row);
        theirs_out.push_back(kNoRow);
      }
      continue;
    }
    bool matched = false;
    const Timestamp low = interval ? AddSaturating(time, from) : exec::kMinTimestamp;
    const Timestamp high = interval ? AddSaturating(time, to) : exec::kMaxTimestamp;
    for (uint32_t index = heads_[key][other]; index != kNoEntry;) {
      Entry& entry = theirs.entries[index];
      const uint32_t next = entry.next;
      if (entry.time >= low && entry.time <= high) {
        mine_out.push_back(row);
        theirs_out.push_back(entry.row);
        entry.matched = true;
        matched = true;
        if (delete_on_match) {
          deleted.push_back(entry.row);
          Unlink(other, index);
        }
      }
      index = next;
    }
    // With on_match: delete, a row that matched is consumed and not kept.
    if (matched && delete_on_match) continue;
    Insert(side, time, row, key, matched);
    ++held;
  }
  stores_[side].Hold(slot, held);
  Status status = EmitRows(output[kLeft], output[kRight], nullptr, out);
  stores_[other].Release(deleted);
  FreeIfEmpty();
  return status;
}

Status ProbeJoin::Advance(exec::Emitter& out) {
  if (watermark_ == exec::kMaxTimestamp) return FlushAll(out);
  std::array<std::vector<uint64_t>, 2> output;
  std::array<std::vector<uint64_t>, 2> freed;
  for (int side : {kLeft, kRight}) {
    Side& kept = sides_[side];
    const bool outer = settings_.outer[side];
    while (!kept.expiries.empty() && kept.expiries.top().after < watermark_) {
      const Expiry expiry = kept.expiries.top();
      kept.expiries.pop();
      const Entry& entry = kept.entries[expiry.entry];
      if (entry.generation != expiry.generation) continue;  // deleted on match
      if (!entry.matched && outer) {
        output[side].push_back(entry.row);
        output[1 - side].push_back(kNoRow);
      }
      freed[side].push_back(entry.row);
      Unlink(side, expiry.entry);
    }
  }
  Status status = EmitRows(output[kLeft], output[kRight], nullptr, out);
  for (int side : {kLeft, kRight}) stores_[side].Release(freed[side]);
  FreeIfEmpty();
  return status;
}

Status ProbeJoin::FlushAll(exec::Emitter& out) {
  std::array<std::vector<uint64_t>, 2> output;
  for (int side : {kLeft, kRight}) {
    const Side& kept = sides_[side];
    if (!settings_.outer[side] || kept.live == 0) continue;
    std::vector<uint8_t> is_free(kept.entries.size(), 0);
    for (uint32_t index : kept.free_entries) is_free[index] = 1;
    for (size_t index = 0; index < kept.entries.size(); ++index) {
      const Entry& entry = kept.entries[index];
      if (is_free[index] || entry.matched) continue;
      output[side].push_back(entry.row);
      output[1 - side].push_back(kNoRow);
    }
  }
  Status status = EmitRows(output[kLeft], output[kRight], nullptr, out);
  for (int side : {kLeft, kRight}) {
    stores_[side].Clear();
    sides_[side].live = 0;
  }
  std::vector<std::array<uint32_t, 2>>().swap(heads_);
  live_keys_ = 0;
  FreeIfEmpty();
  return status;
}

void ProbeJoin::FreeIfEmpty() {
  for (Side& kept : sides_) {
    if (kept.live != 0 || kept.entries.empty()) continue;
    // Every entry is free, every queued expiry stale, and the side's heads are all kNoEntry.
    std::vector<Entry>().swap(kept.entries);
    std::vector<uint32_t>().swap(kept.free_entries);
    kept.expiries.clear();
  }
}

void ProbeJoin::RemapKeys(const std::vector<uint32_t>& new_ids, uint32_t num_keys) {
  std::vector<std::array<uint32_t, 2>> heads(num_keys, {kNoEntry, kNoEntry});
  for (size_t key = 0; key < heads_.size() && key < new_ids.size(); ++key) {
    if (new_ids[key] != kNoKey) heads[new_ids[key]] = heads_[key];
  }
  heads_ = std::move(heads);
  for (Side& kept : sides_) {
    if (kept.live == 0) continue;
    std::vector<uint8_t> is_free(kept.entries.size(), 0);
    for (uint32_t index : kept.free_entries) is_free[index] = 1;
    for (size_t index = 0; index < kept.entries.size(); ++index) {
      if (!is_free[index]) kept.entries[index].key = new_ids[kept.entries[index].key];
    }
  }
}

int64_t ProbeJoin::held_bytes() const {
  int64_t bytes = static_cast<int64_t>(heads_.capacity() * sizeof(heads_[0]));
  for (const Side& kept : sides_) {
    bytes += static_cast<int64_t>(kept.entries.capacity() * sizeof(Entry) +
                                  kept.free_entries.capacity() * sizeof(uint32_t) +
                                  kept.expiries.size() * sizeof(Expiry));
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------
// Configuration.

/// A duration with an optional sign ("-5s"), for the bounds of an interval.
Result<Timestamp> ReadSignedDuration(const config::Options& section, std::string_view name) {
  const std::string given = section.GetString(name);
  std::string text = given;
  size_t begin = text.find_first_not_of(' ');
  text = begin == std::string::npos ? std::string() : text.substr(begin);
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.erase(0, 1);
  }
  auto parsed = ParseDuration(text);
  if (!parsed.ok()) {
    return config::ConfigError(
        section.LocationOf(name),
        fmt::format("interval {}: '{}' is not a duration (a unit is needed, and a sign may lead)",
                    name, given),
        "e.g. interval: {lower: -5s, upper: 10s}");
  }
  const Timestamp micros = Micros(*parsed);
  return negative ? -micros : micros;
}

/// The part of a stream's name after its last dot ("nexmark.person" → "person"), to prefix
/// field names with.
std::string ShortStreamName(const std::string& stream) {
  size_t dot = stream.rfind('.');
  return dot == std::string::npos ? stream : stream.substr(dot + 1);
}

Status ReadBound(const config::Options& options, JoinSettings* settings) {
  std::vector<std::string> bounds;
  for (const char* bound : {"window", "interval", "ttl"}) {
    if (options.Has(bound)) bounds.emplace_back(bound);
  }
  if (bounds.empty()) {
    return config::ConfigError(
        options.where(),
        "this join is unbounded: without window, interval or ttl it would keep every row of "
        "both streams forever, and its state would grow without bound",
        "add window: {tumbling: 10s} (rows of the same window join), interval: {lower: -5s, "
        "upper: 5s} (rows close in time join) or ttl: 1h (rows are kept an hour)");
  }
  if (bounds.size() > 1) {
    return config::ConfigError(
        options.LocationOf(bounds[1]),
        fmt::format("a join is bounded one way, but both '{}' and '{}' are given", bounds[0],
                    bounds[1]),
        "keep one of them");
  }
  if (bounds[0] == "window") {
    settings->bound = Bound::kWindow;
    const config::Options& window = options.GetSection("window");
    const bool tumbling = window.Has("tumbling"), sliding = window.Has("sliding");
    if (tumbling == sliding) {
      return config::ConfigError(
          options.LocationOf("window"),
          tumbling ? "a join window is tumbling or sliding, not both"
                   : "a join window needs its kind: tumbling or sliding",
          "e.g. window: {tumbling: 10s} or window: {sliding: {size: 10s, slide: 2s}}");
    }
    if (tumbling) {
      SLUICE_RETURN_NOT_OK(ReadPositiveDuration(window, "tumbling", &settings->size));
      settings->slide = settings->size;
    } else {
      SLUICE_RETURN_NOT_OK(
          ReadSliding(window.GetSection("sliding"), &settings->size, &settings->slide));
    }
  } else if (bounds[0] == "interval") {
    settings->bound = Bound::kInterval;
    const config::Options& interval = options.GetSection("interval");
    SLUICE_ASSIGN_OR_RAISE(settings->lower, ReadSignedDuration(interval, "lower"));
    SLUICE_ASSIGN_OR_RAISE(settings->upper, ReadSignedDuration(interval, "upper"));
    if (settings->lower > settings->upper) {
      return config::ConfigError(interval.LocationOf("upper"),
                                 "the interval's upper bound is below its lower bound",
                                 "right rows join when right.time - left.time is within "
                                 "[lower, upper], e.g. {lower: -5s, upper: 10s}");
    }
  } else {
    settings->bound = Bound::kTtl;
    SLUICE_RETURN_NOT_OK(ReadPositiveDuration(options, "ttl", &settings->ttl));
  }
  settings->delete_on_match = options.GetString("on_match") == "delete";
  if (settings->delete_on_match && settings->bound != Bound::kTtl) {
    return config::ConfigError(
        options.LocationOf("on_match"),
        fmt::format("on_match: delete applies to a regular join with ttl, not to a {} join",
                    bounds[0]),
        "use ttl: instead, or leave on_match out");
  }
  return Status::OK();
}

/// Reads the time of each input: both have event time, or neither (then arrival time).
Status ReadTimes(const config::Options& options, const std::vector<exec::InputStream>& inputs,
                 JoinSettings* settings) {
  std::array<bool, 2> has_time{false, false};
  for (int side : {kLeft, kRight}) {
    const exec::InputStream& input = inputs[side];
    if (input.event_time_field.empty()) continue;
    has_time[side] = true;
    const int index = input.schema->GetFieldIndex(input.event_time_field);
    if (index < 0) {
      return config::ConfigError(
          options.LocationOf(side == kLeft ? "left" : "right"),
          fmt::format("the join needs the event-time field '{}' of stream '{}', which an "
                      "earlier stage removed",
                      input.event_time_field, input.name),
          "keep the event-time field up to the join");
    }
    const auto& type = *input.schema->field(index)->type();
    if (type.id() != arrow::Type::TIMESTAMP ||
        static_cast<const arrow::TimestampType&>(type).unit() != arrow::TimeUnit::MICRO) {
      return config::ConfigError(
          options.LocationOf(side == kLeft ? "left" : "right"),
          fmt::format("the event-time field '{}' of stream '{}' is {} here, not a timestamp",
                      input.event_time_field, input.name, type.ToString()),
          "do not cast the event-time field before a join");
    }
    settings->time_columns[side] = index;
  }
  if (has_time[kLeft] != has_time[kRight]) {
    const int with = has_time[kLeft] ? kLeft : kRight;
    return config::ConfigError(
        options.LocationOf(with == kLeft ? "right" : "left"),
        fmt::format("stream '{}' has event time ('{}') but '{}' has none: a join compares the "
                    "times of both sides",
                    inputs[with].name, inputs[with].event_time_field, inputs[1 - with].name),
        "declare event_time on both sources (or on neither, to join by arrival time)");
  }
  settings->processing_time = !has_time[kLeft];
  return Status::OK();
}

Status ReadKeys(const config::Options& options, const std::vector<exec::InputStream>& inputs,
                JoinSettings* settings) {
  const arrow::Schema& left = *inputs[kLeft].schema;
  const arrow::Schema& right = *inputs[kRight].schema;
  auto pairs = options.GetMap("on");
  if (pairs.empty()) {
    return config::ConfigError(options.LocationOf("on"), "a join needs at least one key pair",
                               "e.g. on: {seller: id} (left field: right field)");
  }
  for (const auto& [left_field, right_field] : pairs) {
    const int left_index = left.GetFieldIndex(left_field);
    if (left_index < 0) {
      return config::ConfigError(options.LocationOf("on"),
                                 fmt::format("unknown field '{}' of the left stream '{}' in on",
                                             left_field, inputs[kLeft].name),
                                 SpellingHint(left_field, left.field_names()));
    }
    const int right_index = right.GetFieldIndex(right_field.text);
    if (right_index < 0) {
      return config::ConfigError(right_field.where,
                                 fmt::format("unknown field '{}' of the right stream '{}' in on",
                                             right_field.text, inputs[kRight].name),
                                 SpellingHint(right_field.text, right.field_names()));
    }
    const auto& left_type = left.field(left_index)->type();
    const auto& right_type = right.field(right_index)->type();
    if (!left_type->Equals(*right_type)) {
      return config::ConfigError(
          right_field.where,
          fmt::format("cannot join '{}' ({}) of '{}' with '{}' ({}) of '{}': key types differ",
                      left_field, left_type->ToString(), inputs[kLeft].name, right_field.text,
                      right_type->ToString(), inputs[kRight].name),
          fmt::format("cast one side first, e.g. a step '- cast: {{{}: {}}}' on '{}'",
                      right_field.text, left_type->ToString(), inputs[kRight].name));
    }
    settings->key_columns[kLeft].push_back(left_index);
    settings->key_columns[kRight].push_back(right_index);
    settings->key_types.emplace_back(left_type);
  }
  return Status::OK();
}

/// The output schema: [window_start, window_end,] the left fields, the right fields. A field
/// whose name is taken is renamed <stream>_<field>; `prefix` prefixes every field of a side.
Status BuildOutput(const config::Options& options, const std::vector<exec::InputStream>& inputs,
                   JoinSettings* settings) {
  std::vector<std::shared_ptr<arrow::Field>> fields;
  std::set<std::string> taken;
  auto time_type = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  if (settings->bound == Bound::kWindow) {
    fields.push_back(arrow::field("window_start", time_type, false));
    fields.push_back(arrow::field("window_end", time_type, false));
    taken = {"window_start", "window_end"};
  }
  const config::Options& prefix = options.GetSection("prefix");
  for (int side : {kLeft, kRight}) {
    const std::string side_prefix = prefix.GetString(side == kLeft ? "left" : "right");
    // A side whose rows may be missing (the other side's outer join) has nullable columns.
    const bool nullable = settings->outer[1 - side];
    const arrow::Schema& schema = *inputs[side].schema;
    std::vector<std::string> names;
    for (const auto& field : schema.fields()) {
      std::string name = side_prefix + field->name();
      if (taken.count(name)) name = ShortStreamName(inputs[side].name) + "_" + name;
      names.push_back(name);
    }
    for (int index = 0; index < schema.num_fields(); ++index) {
      const std::string& name = names[index];
      if (!taken.insert(name).second) {
        return config::ConfigError(
            options.LocationOf(options.Has("prefix") ? "prefix" : "right"),
            fmt::format("the join would produce two columns named '{}'", name),
            "set prefix: {left: a_, right: b_} to tell the sides' fields apart");
      }
      auto field = schema.field(index)->WithName(name);
      if (nullable) field = field->WithNullable(true);
      fields.push_back(std::move(field));
      if (side == kLeft && index == settings->time_columns[kLeft]) {
        settings->output_time_field = name;
      }
    }
  }
  settings->output = arrow::schema(std::move(fields));
  if (settings->bound == Bound::kWindow) settings->output_time_field = "window_end";
  return Status::OK();
}

Result<JoinSettings> ReadSettings(const exec::ProcessorContext& context,
                                  const config::Options& options) {
  if (context.inputs.size() != 2) {
    return config::ConfigError(
        options.where(),
        fmt::format("a join reads two streams, but {} were given to it", context.inputs.size()),
        "name them with left: and right:");
  }
  JoinSettings settings;
  const std::string type = options.GetString("type");
  settings.outer = {type == "left" || type == "full", type == "right" || type == "full"};
  SLUICE_RETURN_NOT_OK(ReadBound(options, &settings));
  SLUICE_RETURN_NOT_OK(ReadTimes(options, context.inputs, &settings));
  SLUICE_RETURN_NOT_OK(ReadKeys(options, context.inputs, &settings));
  for (int side : {kLeft, kRight}) {
    settings.stream_names[side] = context.inputs[side].name;
    settings.input_schemas[side] = context.inputs[side].schema;
  }
  SLUICE_RETURN_NOT_OK(BuildOutput(options, context.inputs, &settings));
  return settings;
}

}  // namespace

void RegisterJoin(exec::Registry* registry) {
  using config::MakeOption;
  using config::OptionType;
  config::PluginSpec spec;
  spec.name = "join";
  spec.doc =
      "Joins two streams on equal keys: inner, or left, right or full outer (the missing side "
      "of an unmatched row is NULL). The rows it keeps are bounded by exactly one of window "
      "(rows in the same tumbling or sliding window join when the watermark passes its end), "
      "interval (a right row joins a left row when right.time is within [left.time + lower, "
      "left.time + upper]; emitted at once) or ttl (a regular join: rows are kept this long "
      "after their own time). Output: window_start and window_end (window join), the left "
      "fields, then the right fields; a field whose name is taken becomes <stream>_<field>. NULL "
      "keys never match. Both streams need event time, or neither (then rows are timed by "
      "their arrival). An unmatched row of an outer join is emitted when it is freed.";
  auto left = MakeOption("left", OptionType::kString,
                         "The left input: a source's stream or a step's name.");
  left.required = true;
  auto right = MakeOption("right", OptionType::kString,
                          "The right input: a source's stream or a step's name.");
  right.required = true;
  auto on =
      MakeOption("on", OptionType::kStringMap,
                 "The key: a map from each left field to the right field it must equal "
                 "(several pairs make a composite key); the two fields' types must be equal.");
  on.required = true;
  auto type = MakeOption("type", OptionType::kEnum,
                         "inner: matched pairs only; left / right: also the unmatched rows of "
                         "that side; full: the unmatched rows of both sides.",
                         "inner");
  type.choices = {"inner", "left", "right", "full"};
  auto window = MakeOption("window", OptionType::kSection,
                           "Window join: rows of both streams in the same window join when the "
                           "watermark passes its end. Short form: window: 10s (tumbling).");
  window.short_field = "tumbling";
  window.fields = {TumblingOption(), SlidingOption()};
  auto interval = MakeOption(
      "interval", OptionType::kSection,
      "Interval join: a right row joins a left row when right.time is within [left.time + "
      "lower, left.time + upper], bounds included. Rows behind the watermark are late.");
  auto lower = MakeOption("lower", OptionType::kString,
                          "The lower bound of right.time - left.time, a duration that may be "
                          "negative (e.g. -5s).");
  lower.required = true;
  auto upper = MakeOption("upper", OptionType::kString,
                          "The upper bound of right.time - left.time (e.g. 10s); at least lower.");
  upper.required = true;
  interval.fields = {lower, upper};
  auto ttl = MakeOption("ttl", OptionType::kDuration,
                        "Regular join: each row is kept this long after its own (event) time; "
                        "matches are emitted as rows arrive.");
  auto on_match = MakeOption("on_match", OptionType::kEnum,
                             "keep: a kept row joins every later match; delete: a kept row is "
                             "removed once it matched, and an arriving row that matched is not "
                             "kept (ttl joins only).",
                             "keep");
  on_match.choices = {"keep", "delete"};
  auto prefix = MakeOption("prefix", OptionType::kSection,
                           "Prefixes for the output names of each side's fields.");
  prefix.fields = {MakeOption("left", OptionType::kString, "Prefix of the left fields.", ""),
                   MakeOption("right", OptionType::kString, "Prefix of the right fields.", "")};
  spec.options = {left, right, on, type, window, interval, ttl, on_match, prefix};
  spec.input_options = {"left", "right"};
  spec.example =
      "- join:\n"
      "    left: auctions\n"
      "    right: persons\n"
      "    on: {seller: id}\n"
      "    type: left\n"
      "    interval: {lower: -10s, upper: 10s}";
  registry->AddProcessor(
      std::move(spec),
      [](const exec::ProcessorContext& context, const config::Options& options,
         const std::shared_ptr<arrow::Schema>&) -> Result<std::unique_ptr<exec::Processor>> {
        // Take and Filter live in the compute library's optional kernels.
        SLUICE_RETURN_NOT_OK(arrow::compute::Initialize());
        SLUICE_ASSIGN_OR_RAISE(JoinSettings settings, ReadSettings(context, options));
        auto grouper = Grouper::Make(settings.key_types, arrow::compute::default_exec_context());
        if (!grouper.ok()) {
          return config::ConfigError(
              options.LocationOf("on"),
              fmt::format("these key fields cannot be compared: {}", grouper.status().message()),
              "use fields of simple types (numbers, strings, timestamps, booleans)");
        }
        if (settings.bound == Bound::kWindow) {
          return std::make_unique<WindowJoin>(std::move(settings), context, std::move(*grouper));
        }
        return std::make_unique<ProbeJoin>(std::move(settings), context, std::move(*grouper));
      });
}

}  // namespace sluice::processors
