// Checkpoints of the window processor: its whole state as a few values and three tables, laid
// out by key.
//
// values:  kind, watermark, last_early (the watermark of the last early firing) and keys (how
//          many key ids there are).
// keys:    one row per key id, in id order: key_id, the group_by columns, then emitted_until
//          (session windows) or rows_seen and windows_fired (count windows). A restore feeds
//          the key columns to the fresh window's Grouper, which numbers them in an order of its
//          own (by hash, with several key columns), and maps every saved key id to the new one.
//          Key ids never reach the output: firings are sorted by window_start and the keys.
// slots:   one row per live slot: key_id, the group_by columns, where the slot belongs
//          (pane_start; window_start, session_last, fired and dirty of a session; the count-pane
//          index), rows, first_time and last_time, then the state columns of each aggregate
//          (Accumulator::Save()), named `<output column>.<state column>`. Rows come in the order
//          of the panes, sessions and count-panes that hold the slots, which a restore rebuilds
//          in that order; slots are numbered afresh (row i is slot i): the numbers never reach
//          the output.
// windows: tumbling and sliding windows only: one row per window still known (window_start,
//          fired, dirty).
//
// Nothing here runs per batch: the processing path pays nothing for checkpoints.

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/compute/exec.h>

#include <algorithm>
#include <numeric>
#include <string>

#include "sluice/processors/state_tables.h"
#include "sluice/processors/window_internal.h"

namespace sluice::processors::internal {
namespace {

using aggregates::kNoSlot;

const char* KindName(WindowKind kind) {
  switch (kind) {
    case WindowKind::kTumbling:
      return "tumbling";
    case WindowKind::kSliding:
      return "sliding";
    case WindowKind::kSession:
      return "session";
    case WindowKind::kCount:
      return "count";
  }
  return "";
}

std::shared_ptr<arrow::DataType> TimeType() {
  return arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
}

std::shared_ptr<arrow::Schema> WindowsSchema() {
  return arrow::schema({arrow::field("window_start", TimeType()),
                        arrow::field("fired", arrow::boolean()),
                        arrow::field("dirty", arrow::boolean())});
}

/// A new array of `type` (int64 or a timestamp) holding `values`.
Result<std::shared_ptr<arrow::Array>> Int64Array(const std::vector<int64_t>& values,
                                                 const std::shared_ptr<arrow::DataType>& type) {
  SLUICE_ASSIGN_OR_RAISE(auto array,
                         CopyInt64Column(values.data(), static_cast<int64_t>(values.size())));
  if (type->id() == arrow::Type::INT64) return array;
  return array->View(type);
}

Result<std::shared_ptr<arrow::Array>> UInt32Array(const std::vector<uint32_t>& values) {
  arrow::UInt32Builder builder;
  SLUICE_RETURN_NOT_OK(builder.AppendValues(values));
  return builder.Finish();
}

Result<std::shared_ptr<arrow::Array>> BooleanArray(const std::vector<bool>& values) {
  arrow::BooleanBuilder builder;
  SLUICE_RETURN_NOT_OK(builder.AppendValues(values));
  return builder.Finish();
}

/// The values of an int64 or timestamp column (its type checked by ReadStateTable()).
const int64_t* Int64Values(const arrow::RecordBatch& batch, int column) {
  return batch.column(column)->data()->GetValues<int64_t>(1);
}

const arrow::BooleanArray& Booleans(const arrow::RecordBatch& batch, int column) {
  return static_cast<const arrow::BooleanArray&>(*batch.column(column));
}

/// How many columns of the slots table say where a slot belongs (after the key columns).
int PlaceColumns(WindowKind kind) { return kind == WindowKind::kSession ? 4 : 1; }

}  // namespace

std::shared_ptr<arrow::Schema> WindowProcessor::KeysSchema() const {
  std::vector<std::shared_ptr<arrow::Field>> fields{arrow::field("key_id", arrow::uint32())};
  for (int index : settings_.key_indices) fields.push_back(input_->field(index));
  if (settings_.kind == WindowKind::kSession) {
    fields.push_back(arrow::field("emitted_until", TimeType()));
  } else if (settings_.kind == WindowKind::kCount) {
    fields.push_back(arrow::field("rows_seen", arrow::int64()));
    fields.push_back(arrow::field("windows_fired", arrow::int64()));
  }
  return arrow::schema(std::move(fields));
}

std::shared_ptr<arrow::Schema> WindowProcessor::SlotsSchema() const {
  std::vector<std::shared_ptr<arrow::Field>> fields{arrow::field("key_id", arrow::uint32())};
  for (int index : settings_.key_indices) fields.push_back(input_->field(index));
  switch (settings_.kind) {
    case WindowKind::kTumbling:
    case WindowKind::kSliding:
      fields.push_back(arrow::field("pane_start", TimeType()));
      break;
    case WindowKind::kSession:
      fields.push_back(arrow::field("window_start", TimeType()));
      fields.push_back(arrow::field("session_last", TimeType()));
      fields.push_back(arrow::field("fired", arrow::boolean()));
      fields.push_back(arrow::field("dirty", arrow::boolean()));
      break;
    case WindowKind::kCount:
      fields.push_back(arrow::field("pane", arrow::int64()));
      break;
  }
  fields.push_back(arrow::field("rows", arrow::int64()));
  fields.push_back(arrow::field("first_time", TimeType()));
  fields.push_back(arrow::field("last_time", TimeType()));
  const int first_aggregate = static_cast<int>(settings_.key_indices.size()) + 2;
  for (size_t a = 0; a < accumulators_.size(); ++a) {
    const std::string& column = output_->field(first_aggregate + static_cast<int>(a))->name();
    for (const auto& field : accumulators_[a]->StateFields())
      fields.push_back(field->WithName(column + "." + field->name()));
  }
  return arrow::schema(std::move(fields));
}

Result<state::StateSnapshot> WindowProcessor::SnapshotState() const {
  state::StateSnapshot snapshot;
  snapshot.values["kind"] = KindName(settings_.kind);
  snapshot.values["watermark"] = std::to_string(watermark_);
  snapshot.values["last_early"] = std::to_string(last_early_);
  snapshot.values["keys"] = std::to_string(num_keys_);

  // The keys, in id order. GetUniques() decodes them into new arrays.
  std::vector<std::shared_ptr<arrow::Array>> uniques;
  if (grouper_ != nullptr) {
    SLUICE_ASSIGN_OR_RAISE(arrow::compute::ExecBatch batch, grouper_->GetUniques());
    for (const auto& value : batch.values) uniques.push_back(value.make_array());
    if (batch.length != num_keys_) {
      return Status::UnknownError("the window's grouper holds ", batch.length, " keys, not ",
                                  num_keys_);
    }
  }
  std::vector<uint32_t> ids(num_keys_);
  std::iota(ids.begin(), ids.end(), 0);
  std::vector<std::shared_ptr<arrow::Array>> columns;
  SLUICE_ASSIGN_OR_RAISE(auto id_array, UInt32Array(ids));
  columns.push_back(std::move(id_array));
  columns.insert(columns.end(), uniques.begin(), uniques.end());
  if (settings_.kind == WindowKind::kSession) {
    std::vector<int64_t> until(num_keys_, exec::kMinTimestamp);
    std::copy_n(emitted_until_.begin(), std::min<size_t>(num_keys_, emitted_until_.size()),
                until.begin());
    SLUICE_ASSIGN_OR_RAISE(auto until_array, Int64Array(until, TimeType()));
    columns.push_back(std::move(until_array));
  } else if (settings_.kind == WindowKind::kCount) {
    std::vector<int64_t> rows_seen(num_keys_, 0), windows_fired(num_keys_, 0);
    for (size_t key = 0; key < std::min<size_t>(num_keys_, count_keys_.size()); ++key) {
      rows_seen[key] = count_keys_[key].rows_seen;
      windows_fired[key] = count_keys_[key].windows_fired;
    }
    SLUICE_ASSIGN_OR_RAISE(auto rows_array, Int64Array(rows_seen, arrow::int64()));
    SLUICE_ASSIGN_OR_RAISE(auto fired_array, Int64Array(windows_fired, arrow::int64()));
    columns.push_back(std::move(rows_array));
    columns.push_back(std::move(fired_array));
  }
  snapshot.tables.emplace_back("keys", arrow::Table::Make(KeysSchema(), columns, num_keys_));

  SLUICE_ASSIGN_OR_RAISE(auto slots, SnapshotSlots(uniques));
  snapshot.tables.emplace_back("slots", std::move(slots));

  if (settings_.kind == WindowKind::kTumbling || settings_.kind == WindowKind::kSliding) {
    std::vector<int64_t> starts;
    std::vector<bool> fired, dirty;
    for (const auto& [start, state] : windows_) {
      starts.push_back(start);
      fired.push_back(state.fired);
      dirty.push_back(state.dirty);
    }
    SLUICE_ASSIGN_OR_RAISE(auto start_array, Int64Array(starts, TimeType()));
    SLUICE_ASSIGN_OR_RAISE(auto fired_array, BooleanArray(fired));
    SLUICE_ASSIGN_OR_RAISE(auto dirty_array, BooleanArray(dirty));
    snapshot.tables.emplace_back(
        "windows", arrow::Table::Make(WindowsSchema(), {start_array, fired_array, dirty_array},
                                      static_cast<int64_t>(starts.size())));
  }
  return snapshot;
}

Result<std::shared_ptr<arrow::Table>> WindowProcessor::SnapshotSlots(
    const std::vector<std::shared_ptr<arrow::Array>>& uniques) const {
  // The live slots, in the order of the panes, sessions and count-panes that hold them.
  std::vector<uint32_t> slots, keys;
  // The pane start, the session start or the count-pane index.
  std::vector<int64_t> places;
  std::vector<int64_t> session_lasts;
  std::vector<bool> fired, dirty;
  switch (settings_.kind) {
    case WindowKind::kTumbling:
    case WindowKind::kSliding:
      for (const auto& [start, pane] : panes_) {
        for (uint32_t slot : pane.slots) {
          slots.push_back(slot);
          keys.push_back(slot_key_[slot]);
          places.push_back(start);
        }
      }
      break;
    case WindowKind::kSession:
      for (size_t key = 0; key < sessions_.size(); ++key) {
        for (const Session& session : sessions_[key]) {
          slots.push_back(session.slot);
          keys.push_back(static_cast<uint32_t>(key));
          places.push_back(session.start);
          session_lasts.push_back(session.last);
          fired.push_back(session.fired);
          dirty.push_back(session.dirty);
        }
      }
      break;
    case WindowKind::kCount:
      for (size_t key = 0; key < count_keys_.size(); ++key) {
        for (const auto& [index, slot] : count_keys_[key].panes) {
          slots.push_back(slot);
          keys.push_back(static_cast<uint32_t>(key));
          places.push_back(index);
        }
      }
      break;
  }
  const auto count = static_cast<int64_t>(slots.size());

  std::vector<std::shared_ptr<arrow::Array>> columns;
  SLUICE_ASSIGN_OR_RAISE(auto key_ids, UInt32Array(keys));
  columns.push_back(key_ids);
  for (const auto& unique : uniques) {
    SLUICE_ASSIGN_OR_RAISE(auto taken, arrow::compute::Take(*unique, *key_ids));
    columns.push_back(std::move(taken));
  }
  if (settings_.kind == WindowKind::kCount) {
    SLUICE_ASSIGN_OR_RAISE(auto panes, Int64Array(places, arrow::int64()));
    columns.push_back(std::move(panes));
  } else {
    SLUICE_ASSIGN_OR_RAISE(auto starts, Int64Array(places, TimeType()));
    columns.push_back(std::move(starts));
  }
  if (settings_.kind == WindowKind::kSession) {
    SLUICE_ASSIGN_OR_RAISE(auto lasts, Int64Array(session_lasts, TimeType()));
    SLUICE_ASSIGN_OR_RAISE(auto fired_array, BooleanArray(fired));
    SLUICE_ASSIGN_OR_RAISE(auto dirty_array, BooleanArray(dirty));
    columns.insert(columns.end(), {lasts, fired_array, dirty_array});
  }
  std::vector<int64_t> rows(count), first_times(count), last_times(count);
  for (int64_t i = 0; i < count; ++i) {
    rows[i] = slot_rows_[slots[i]];
    first_times[i] = slot_first_time_[slots[i]];
    last_times[i] = slot_last_time_[slots[i]];
  }
  SLUICE_ASSIGN_OR_RAISE(auto row_array, Int64Array(rows, arrow::int64()));
  SLUICE_ASSIGN_OR_RAISE(auto first_array, Int64Array(first_times, TimeType()));
  SLUICE_ASSIGN_OR_RAISE(auto last_array, Int64Array(last_times, TimeType()));
  columns.insert(columns.end(), {row_array, first_array, last_array});
  for (const auto& accumulator : accumulators_) {
    SLUICE_ASSIGN_OR_RAISE(auto state, accumulator->Save(slots.data(), count));
    columns.insert(columns.end(), state.begin(), state.end());
  }
  return arrow::Table::Make(SlotsSchema(), std::move(columns), count);
}

Status WindowProcessor::RestoreState(const state::StateSnapshot& snapshot) {
  if (num_keys_ != 0 || live_slots_ != 0 || watermark_ != exec::kMinTimestamp) {
    return Status::Invalid("a window's state can only be restored into a fresh window");
  }
  const std::string kind = snapshot.Value("kind");
  if (kind != KindName(settings_.kind)) {
    return Status::IOError("the state is of a '", kind, "' window, not a '",
                           KindName(settings_.kind), "' one");
  }
  SLUICE_ASSIGN_OR_RAISE(watermark_, ReadStateInteger(snapshot, "watermark"));
  SLUICE_ASSIGN_OR_RAISE(last_early_, ReadStateInteger(snapshot, "last_early"));
  SLUICE_ASSIGN_OR_RAISE(std::vector<uint32_t> new_ids, RestoreKeys(snapshot));
  SLUICE_RETURN_NOT_OK(RestoreSlots(snapshot, new_ids));
  if (settings_.kind == WindowKind::kTumbling || settings_.kind == WindowKind::kSliding) {
    SLUICE_ASSIGN_OR_RAISE(auto windows, ReadStateTable(snapshot, "windows", *WindowsSchema()));
    const int64_t* starts = Int64Values(*windows, 0);
    const auto& fired = Booleans(*windows, 1);
    const auto& dirty = Booleans(*windows, 2);
    for (int64_t i = 0; i < windows->num_rows(); ++i)
      windows_[starts[i]] = WindowState{fired.Value(i), dirty.Value(i)};
  }
  return Status::OK();
}

Result<std::vector<uint32_t>> WindowProcessor::RestoreKeys(const state::StateSnapshot& snapshot) {
  SLUICE_ASSIGN_OR_RAISE(int64_t keys, ReadStateInteger(snapshot, "keys"));
  SLUICE_ASSIGN_OR_RAISE(auto table, ReadStateTable(snapshot, "keys", *KeysSchema()));
  if (keys < 0 || table->num_rows() != keys || (grouper_ == nullptr && keys > 1) ||
      keys >= int64_t{kNoSlot}) {
    return Status::IOError("the window's state has ", table->num_rows(), " keys, not ", keys);
  }
  const int key_columns = static_cast<int>(settings_.key_indices.size());
  std::vector<uint32_t> new_ids(keys);
  std::iota(new_ids.begin(), new_ids.end(), 0);
  if (grouper_ != nullptr && keys > 0) {
    std::vector<arrow::Datum> columns;
    for (int c = 1; c <= key_columns; ++c) columns.emplace_back(table->column(c));
    arrow::compute::ExecBatch batch(std::move(columns), keys);
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum ids, grouper_->Consume(arrow::compute::ExecSpan(batch)));
    // Distinct keys get distinct ids below `keys`: a permutation of the saved ones.
    if (grouper_->num_groups() != static_cast<uint64_t>(keys)) {
      return Status::IOError("the keys of the window's state are not distinct");
    }
    const uint32_t* id_values = ids.array()->GetValues<uint32_t>(1);
    new_ids.assign(id_values, id_values + keys);
  }
  num_keys_ = static_cast<uint32_t>(keys);
  const int next = 1 + key_columns;
  if (settings_.kind == WindowKind::kSession) {
    sessions_.resize(num_keys_);
    const int64_t* until = Int64Values(*table, next);
    emitted_until_.assign(num_keys_, exec::kMinTimestamp);
    for (int64_t key = 0; key < keys; ++key) emitted_until_[new_ids[key]] = until[key];
    emitted_keys_ = static_cast<uint32_t>(
        keys - std::count(emitted_until_.begin(), emitted_until_.end(), exec::kMinTimestamp));
  } else if (settings_.kind == WindowKind::kCount) {
    count_keys_.resize(num_keys_);
    const int64_t* rows_seen = Int64Values(*table, next);
    const int64_t* windows_fired = Int64Values(*table, next + 1);
    for (int64_t key = 0; key < keys; ++key) {
      count_keys_[new_ids[key]].rows_seen = rows_seen[key];
      count_keys_[new_ids[key]].windows_fired = windows_fired[key];
    }
  }
  return new_ids;
}

Status WindowProcessor::RestoreSlots(const state::StateSnapshot& snapshot,
                                     const std::vector<uint32_t>& new_ids) {
  SLUICE_ASSIGN_OR_RAISE(auto table, ReadStateTable(snapshot, "slots", *SlotsSchema()));
  const int64_t count = table->num_rows();
  if (count >= int64_t{kNoSlot}) return Status::IOError("the window's state has too many slots");
  const uint32_t* saved_keys = table->column(0)->data()->GetValues<uint32_t>(1);
  std::vector<uint32_t> keys(count);
  for (int64_t i = 0; i < count; ++i) {
    if (saved_keys[i] >= num_keys_) {
      return Status::IOError("a slot of the window's state has key id ", saved_keys[i], " of ",
                             num_keys_);
    }
    keys[i] = new_ids[saved_keys[i]];
  }
  const int place = 1 + static_cast<int>(settings_.key_indices.size());
  const int bookkeeping = place + PlaceColumns(settings_.kind);

  // Row i becomes slot i.
  if (count > 0) {
    capacity_ = std::max<uint32_t>(64, static_cast<uint32_t>(count));
    for (auto& accumulator : accumulators_) accumulator->Resize(capacity_);
    slot_key_.reserve(capacity_);
    slot_rows_.reserve(capacity_);
    slot_first_time_.reserve(capacity_);
    slot_last_time_.reserve(capacity_);
    slot_key_.assign(keys.begin(), keys.end());
    const int64_t* rows = Int64Values(*table, bookkeeping);
    const int64_t* first_times = Int64Values(*table, bookkeeping + 1);
    const int64_t* last_times = Int64Values(*table, bookkeeping + 2);
    slot_rows_.assign(rows, rows + count);
    slot_first_time_.assign(first_times, first_times + count);
    slot_last_time_.assign(last_times, last_times + count);
    live_slots_ = static_cast<uint32_t>(count);
  }

  const int64_t* places = Int64Values(*table, place);
  switch (settings_.kind) {
    case WindowKind::kTumbling:
    case WindowKind::kSliding:
      for (int64_t i = 0; i < count; ++i) {
        Pane& pane = panes_[places[i]];
        if (pane.slot_of_key.size() < num_keys_) pane.slot_of_key.resize(num_keys_, kNoSlot);
        if (pane.slot_of_key[keys[i]] != kNoSlot) {
          return Status::IOError("a pane of the window's state has key id ", keys[i], " twice");
        }
        pane.slot_of_key[keys[i]] = static_cast<uint32_t>(i);
        pane.slots.push_back(static_cast<uint32_t>(i));
      }
      break;
    case WindowKind::kSession: {
      const int64_t* lasts = Int64Values(*table, place + 1);
      const auto& fired = Booleans(*table, place + 2);
      const auto& dirty = Booleans(*table, place + 3);
      for (int64_t i = 0; i < count; ++i) {
        sessions_[keys[i]].push_back(
            Session{places[i], lasts[i], static_cast<uint32_t>(i), fired.Value(i), dirty.Value(i)});
      }
      break;
    }
    case WindowKind::kCount:
      for (int64_t i = 0; i < count; ++i)
        count_keys_[keys[i]].panes.emplace_back(places[i], static_cast<uint32_t>(i));
      break;
  }

  std::vector<uint32_t> slots(count);
  std::iota(slots.begin(), slots.end(), 0);
  const auto& columns = table->columns();
  auto column = columns.begin() + bookkeeping + 3;
  for (auto& accumulator : accumulators_) {
    const auto width = static_cast<std::ptrdiff_t>(accumulator->StateFields().size());
    std::vector<std::shared_ptr<arrow::Array>> state(column, column + width);
    SLUICE_RETURN_NOT_OK(accumulator->Load(state, slots.data()));
    column += width;
  }
  return Status::OK();
}

}  // namespace sluice::processors::internal
