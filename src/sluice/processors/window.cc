#include "sluice/processors/window.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/compute/exec.h>
#include <arrow/compute/row/grouper.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <set>
#include <unordered_map>

#include "sluice/common/spelling.h"
#include "sluice/processors/aggregates/accumulator.h"
#include "sluice/processors/aggregates/aggregate_options.h"
#include "sluice/processors/window_internal.h"

namespace sluice::processors {

using aggregates::AggregateColumn;
using aggregates::kNoSlot;
using aggregates::NeedsDoubles;
using exec::FloorTo;
using exec::Micros;
using exec::Timestamp;
using exec::WallClockNow;
using internal::WindowKind;
using internal::WindowProcessor;
using internal::WindowSettings;

namespace internal {

uint32_t WindowProcessor::AllocateSlot(uint32_t key) {
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slot_key_.size());
    if (slot >= capacity_) {
      capacity_ = std::max<uint32_t>(64, capacity_ * 2);
      for (auto& accumulator : accumulators_) accumulator->Resize(capacity_);
      slot_key_.reserve(capacity_);
      slot_rows_.reserve(capacity_);
      slot_first_time_.reserve(capacity_);
      slot_last_time_.reserve(capacity_);
    }
    slot_key_.push_back(0);
    slot_rows_.push_back(0);
    slot_first_time_.push_back(0);
    slot_last_time_.push_back(0);
  }
  slot_key_[slot] = key;
  slot_rows_[slot] = 0;
  ++live_slots_;
  return slot;
}

void WindowProcessor::MergeSlots(const std::vector<uint32_t>& from,
                                 const std::vector<uint32_t>& into) {
  if (from.empty()) return;
  for (auto& accumulator : accumulators_) {
    accumulator->Merge(from.data(), into.data(), static_cast<int64_t>(from.size()));
  }
  for (size_t i = 0; i < from.size(); ++i) {
    uint32_t source = from[i], target = into[i];
    if (slot_rows_[source] == 0) continue;
    if (slot_rows_[target] == 0) slot_first_time_[target] = slot_first_time_[source];
    slot_last_time_[target] = slot_last_time_[source];
    slot_rows_[target] += slot_rows_[source];
  }
}

void WindowProcessor::ReleaseSlots(const std::vector<uint32_t>& slots) {
  if (slots.empty()) return;
  for (auto& accumulator : accumulators_)
    accumulator->Reset(slots.data(), static_cast<int64_t>(slots.size()));
  for (uint32_t slot : slots) {
    slot_rows_[slot] = 0;
    free_slots_.push_back(slot);
  }
  live_slots_ -= static_cast<uint32_t>(slots.size());
}

void WindowProcessor::ClearIfEmpty(bool forget_counts) {
  if (live_slots_ != 0 || emitted_keys_ != 0) return;
  if (settings_.kind == WindowKind::kCount && !forget_counts) return;
  for (auto& accumulator : accumulators_) accumulator->Clear();
  capacity_ = 0;
  std::vector<uint32_t>().swap(free_slots_);
  std::vector<uint32_t>().swap(slot_key_);
  std::vector<int64_t>().swap(slot_rows_);
  std::vector<Timestamp>().swap(slot_first_time_);
  std::vector<Timestamp>().swap(slot_last_time_);
  panes_.clear();
  windows_.clear();
  std::vector<std::vector<Session>>().swap(sessions_);
  std::vector<Timestamp>().swap(emitted_until_);
  std::vector<CountKey>().swap(count_keys_);
  std::vector<uint32_t>().swap(slot_of_key_scratch_);
  // Key ids restart: nothing refers to them any more.
  if (grouper_ != nullptr) (void)grouper_->Reset();
  num_keys_ = 0;
}

uint32_t WindowProcessor::Combine(const std::vector<uint32_t>& slots) {
  if (slots.size() == 1) return slots[0];
  uint32_t combined = AllocateSlot(slot_key_[slots[0]]);
  temporary_slots_.push_back(combined);
  MergeSlots(slots, std::vector<uint32_t>(slots.size(), combined));
  return combined;
}

void WindowProcessor::Late(const arrow::RecordBatch& batch, int64_t row, Timestamp start,
                           Timestamp end) {
  if (context_.dead_letters == nullptr) return;
  std::string reason = fmt::format("late: window [{}, {}) has closed", exec::FormatTimestamp(start),
                                   exec::FormatTimestamp(end));
  if (settings_.allowed_lateness > 0) {
    reason += fmt::format(" (allowed lateness {})",
                          FormatDuration(std::chrono::microseconds(settings_.allowed_lateness)));
  }
  context_.dead_letters->Add(
      exec::DeadLetter{std::move(reason), "window", "", "", exec::RowToJson(batch, row), row});
}

void WindowProcessor::LatePartly(const arrow::RecordBatch& batch, int64_t row, int64_t closed,
                                 int64_t windows) {
  if (context_.dead_letters == nullptr) return;
  std::string reason =
      fmt::format("late for {} of {} windows: counted only in the open ones", closed, windows);
  context_.dead_letters->Add(
      exec::DeadLetter{std::move(reason), "window", "", "", exec::RowToJson(batch, row), row});
}

void WindowProcessor::RegisterPaneWindows(Timestamp pane_start) {
  // The windows [s, s + size) holding the pane: s a multiple of slide in
  // [pane_start + pane - size, pane_start].
  Timestamp last = FloorTo(pane_start, settings_.slide);
  for (Timestamp start = last; start + settings_.size >= pane_start + pane_size_;
       start -= settings_.slide) {
    if (start + settings_.size + settings_.allowed_lateness <= watermark_) break;  // expired
    auto [it, inserted] = windows_.try_emplace(start);
    if (!inserted && it->second.fired) it->second.dirty = true;
  }
}

void WindowProcessor::AssignTime(const arrow::RecordBatch& batch, const Timestamp* times,
                                 const uint32_t* keys, std::vector<uint32_t>* slots) {
  const int64_t rows = batch.num_rows();
  const Timestamp size = settings_.size, slide = settings_.slide,
                  lateness = settings_.allowed_lateness;
  Pane* pane = nullptr;
  Timestamp pane_start = 0;
  // Of the windows holding the current pane: how many there are, and how many have closed.
  int64_t pane_windows = 0, closed_windows = 0;
  uint32_t* out = slots->data();
  Timestamp pane_limit = watermark_;
  const exec::LatenessWatermarks limits(context_, watermark_);
  for (int64_t i = 0; i < rows; ++i) {
    Timestamp time = times[i];
    Timestamp start = FloorTo(time, pane_size_);
    const Timestamp limit = limits[i];
    if (pane == nullptr || start != pane_start || limit != pane_limit) {
      // The latest window holding the row decides whether it is late.
      Timestamp latest = FloorTo(time, slide);
      if (latest + size + lateness <= limit) {
        out[i] = kNoSlot;
        Late(batch, i, latest, latest + size);
        pane = nullptr;
        continue;
      }
      pane_start = start;
      pane_limit = limit;
      pane = &panes_[start];
      RegisterPaneWindows(start);
      pane_windows = closed_windows = 0;
      for (Timestamp window = latest; window + size >= start + pane_size_; window -= slide) {
        ++pane_windows;
        if (window + size + lateness <= limit) ++closed_windows;
      }
    }
    if (closed_windows > 0) {
      // A sliding window's row counts in its open windows; the closed ones are not silent.
      LatePartly(batch, i, closed_windows, pane_windows);
    }
    uint32_t key = keys[i];
    if (pane->slot_of_key.size() <= key) pane->slot_of_key.resize(num_keys_, kNoSlot);
    uint32_t slot = pane->slot_of_key[key];
    if (slot == kNoSlot) {
      slot = AllocateSlot(key);
      pane->slot_of_key[key] = slot;
      pane->slots.push_back(slot);
    }
    out[i] = slot;
  }
}

void WindowProcessor::AssignSession(const arrow::RecordBatch& batch, const Timestamp* times,
                                    const uint32_t* keys, std::vector<uint32_t>* slots) {
  const int64_t rows = batch.num_rows();
  const Timestamp gap = settings_.gap;
  if (sessions_.size() < num_keys_) sessions_.resize(num_keys_);
  if (emitted_until_.size() < num_keys_) emitted_until_.resize(num_keys_, exec::kMinTimestamp);
  std::vector<uint32_t> merged_from, merged_into;
  std::unordered_map<uint32_t, uint32_t> redirect;
  const Timestamp lateness = settings_.allowed_lateness;
  const exec::LatenessWatermarks limits(context_, watermark_);
  for (int64_t i = 0; i < rows; ++i) {
    Timestamp time = times[i];
    const Timestamp limit = limits[i];
    // Late when its own window [time, time + gap) has closed — whatever sessions it might
    // touch, which would depend on which other rows happened to arrive first — or when it would
    // extend or bridge into a session that was emitted and is gone (never the start of a second
    // session over the same span).
    if (time + gap + lateness <= limit) {
      (*slots)[i] = kNoSlot;
      Late(batch, i, time, time + gap);
      continue;
    }
    if (time < emitted_until_[keys[i]]) {
      (*slots)[i] = kNoSlot;
      if (context_.dead_letters != nullptr) {
        context_.dead_letters->Add(
            exec::DeadLetter{"late: it would extend a session that was already emitted", "window",
                             "", "", exec::RowToJson(batch, i), i});
      }
      continue;
    }
    auto& list = sessions_[keys[i]];
    // The sessions [start, last + gap) that the row's own window [time, time + gap) overlaps.
    size_t first = 0;
    while (first < list.size() && list[first].last + gap <= time) ++first;
    size_t end = first;
    while (end < list.size() && list[end].start < time + gap) ++end;
    // A session that closed for this row (behind its partition's watermark) but has not fired
    // yet takes it no more than one already gone would.
    size_t closed = first;
    while (closed < end && list[closed].last + gap + lateness > limit) ++closed;
    if (closed < end) {
      (*slots)[i] = kNoSlot;
      Late(batch, i, time, time + gap);
      continue;
    }
    if (first == end) {
      Session session{time, time, AllocateSlot(keys[i]), false, false};
      list.insert(list.begin() + static_cast<std::ptrdiff_t>(first), session);
      (*slots)[i] = session.slot;
      continue;
    }
    Session& kept = list[first];
    kept.start = std::min(kept.start, time);
    kept.last = std::max(kept.last, time);
    for (size_t other = first + 1; other < end; ++other) {
      merged_from.push_back(list[other].slot);
      merged_into.push_back(kept.slot);
      redirect[list[other].slot] = kept.slot;
      kept.last = std::max(kept.last, list[other].last);
      kept.fired = kept.fired || list[other].fired;
    }
    list.erase(list.begin() + static_cast<std::ptrdiff_t>(first + 1),
               list.begin() + static_cast<std::ptrdiff_t>(end));
    // A session already emitted (kept for allowed_lateness) is updated: it is emitted again,
    // as an update, once its (possibly later) end has passed.
    if (kept.fired) kept.dirty = true;
    (*slots)[i] = kept.slot;
  }
  if (merged_from.empty()) return;
  // Merges run in the order they happened, so chains (b into a, then a into c) resolve.
  for (size_t m = 0; m < merged_from.size(); ++m) {
    MergeSlots({merged_from[m]}, {merged_into[m]});
    ReleaseSlots({merged_from[m]});
  }
  for (auto& slot : *slots) {
    while (slot != kNoSlot) {
      auto it = redirect.find(slot);
      if (it == redirect.end()) break;
      slot = it->second;
    }
  }
}

void WindowProcessor::AssignCount(const uint32_t* keys, int64_t rows,
                                  std::vector<uint32_t>* slots) {
  if (count_keys_.size() < num_keys_) count_keys_.resize(num_keys_);
  for (int64_t i = 0; i < rows; ++i) {
    CountKey& state = count_keys_[keys[i]];
    int64_t index = state.rows_seen / count_pane_;
    if (state.panes.empty() || state.panes.back().first != index)
      state.panes.emplace_back(index, AllocateSlot(keys[i]));
    (*slots)[i] = state.panes.back().second;
    ++state.rows_seen;
  }
}

Status WindowProcessor::Process(const std::shared_ptr<arrow::RecordBatch>& batch,
                                exec::Emitter& out) {
  const int64_t rows = batch->num_rows();
  if (rows == 0) return Status::OK();

  if (settings_.time_index >= 0 && !settings_.processing_time &&
      batch->column(settings_.time_index)->null_count() > 0) {
    // The driver dead-letters rows without an event time; an earlier stage may still make one.
    const auto& column = *batch->column(settings_.time_index);
    for (int64_t i = 0; i < rows; ++i) {
      if (column.IsNull(i) && context_.dead_letters != nullptr) {
        context_.dead_letters->Add(
            exec::DeadLetter{"no event time", "window", "", "", exec::RowToJson(*batch, i), i});
      }
    }
    SLUICE_ASSIGN_OR_RAISE(auto valid,
                           arrow::compute::IsValid(batch->column(settings_.time_index)));
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum kept, arrow::compute::Filter(batch, valid));
    return Process(kept.record_batch(), out);
  }

  // Event times, or the arrival time of every row.
  std::vector<Timestamp> arrival;
  const Timestamp* times = nullptr;
  if (settings_.time_index < 0 || settings_.processing_time) {
    arrival.assign(rows, WallClockNow());
    times = arrival.data();
  } else {
    times = static_cast<const arrow::TimestampArray&>(*batch->column(settings_.time_index))
                .raw_values();
  }

  // Dense key ids.
  std::vector<uint32_t> no_keys;
  const uint32_t* keys;
  std::shared_ptr<arrow::Array> key_ids;
  if (grouper_ == nullptr) {
    no_keys.assign(rows, 0);
    keys = no_keys.data();
    num_keys_ = 1;
  } else {
    std::vector<arrow::Datum> columns;
    for (int index : settings_.key_indices) columns.emplace_back(batch->column(index));
    arrow::compute::ExecBatch key_batch(std::move(columns), rows);
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum ids,
                           grouper_->Consume(arrow::compute::ExecSpan(key_batch)));
    key_ids = ids.make_array();
    keys = static_cast<const arrow::UInt32Array&>(*key_ids).raw_values();
    num_keys_ = grouper_->num_groups();
  }

  std::vector<uint32_t> slots(rows);
  switch (settings_.kind) {
    case WindowKind::kTumbling:
    case WindowKind::kSliding:
      AssignTime(*batch, times, keys, &slots);
      break;
    case WindowKind::kSession:
      AssignSession(*batch, times, keys, &slots);
      break;
    case WindowKind::kCount:
      AssignCount(keys, rows, &slots);
      break;
  }
  for (int64_t i = 0; i < rows; ++i) {
    uint32_t slot = slots[i];
    if (slot == kNoSlot) continue;
    if (slot_rows_[slot]++ == 0) slot_first_time_[slot] = times[i];
    slot_last_time_[slot] = times[i];
  }

  // One Consume per aggregate, over columns converted once per field.
  std::map<int, aggregates::ValueColumn> prepared;
  for (size_t a = 0; a < settings_.aggregates.size(); ++a) {
    const AggregateColumn& column = settings_.aggregates[a];
    auto it = prepared.find(column.field_index);
    if (it == prepared.end()) {
      bool needs_doubles = false;
      for (const auto& other : settings_.aggregates) {
        if (other.field_index == column.field_index)
          needs_doubles = needs_doubles || NeedsDoubles(other.aggregate.function);
      }
      SLUICE_ASSIGN_OR_RAISE(
          auto values, aggregates::PrepareColumn(batch->column(column.field_index), needs_doubles));
      it = prepared.emplace(column.field_index, std::move(values)).first;
    }
    accumulators_[a]->Consume(it->second, times, slots.data(), rows);
  }

  // Full count windows fire now; time windows a late row created or updated fire at once.
  switch (settings_.kind) {
    case WindowKind::kCount:
      return FireCounts(/*flush=*/false, out);
    case WindowKind::kSession:
      return FireSessions(watermark_, /*early=*/false, out);
    default:
      return FireTime(watermark_, /*early=*/false, out);
  }
}

Status WindowProcessor::OnWatermark(Timestamp watermark, exec::Emitter& out) {
  if (settings_.processing_time && watermark != exec::kMaxTimestamp) watermark = WallClockNow();
  if (watermark <= watermark_) return Status::OK();
  watermark_ = watermark;
  bool early = false;
  if (settings_.emit_every > 0 && watermark != exec::kMaxTimestamp) {
    if (last_early_ == exec::kMinTimestamp) {
      last_early_ = watermark;
    } else if (watermark - last_early_ >= settings_.emit_every) {
      early = true;
      last_early_ = watermark;
    }
  }
  switch (settings_.kind) {
    case WindowKind::kCount:
      return watermark == exec::kMaxTimestamp ? FireCounts(/*flush=*/true, out) : Status::OK();
    case WindowKind::kSession:
      return FireSessions(watermark, early, out);
    default:
      return FireTime(watermark, early, out);
  }
}

void WindowProcessor::AddTimeWindow(Timestamp start, bool final) {
  const Timestamp end = start + settings_.size;
  auto first = panes_.lower_bound(start);
  auto last = panes_.lower_bound(end);
  if (first == last) return;
  if (std::next(first) == last) {
    for (uint32_t slot : first->second.slots) firings_.push_back(Firing{slot, start, end, final});
    return;
  }
  // Several panes: merge each key's pane slots, in time order, into a temporary slot.
  if (slot_of_key_scratch_.size() < num_keys_) slot_of_key_scratch_.resize(num_keys_, kNoSlot);
  std::vector<uint32_t> from, into, keys_seen;
  for (auto it = first; it != last; ++it) {
    for (uint32_t slot : it->second.slots) {
      uint32_t key = slot_key_[slot];
      uint32_t& combined = slot_of_key_scratch_[key];
      if (combined == kNoSlot) {
        combined = AllocateSlot(key);
        temporary_slots_.push_back(combined);
        keys_seen.push_back(key);
      }
      from.push_back(slot);
      into.push_back(combined);
    }
  }
  MergeSlots(from, into);
  for (uint32_t key : keys_seen) {
    firings_.push_back(Firing{slot_of_key_scratch_[key], start, end, final});
    slot_of_key_scratch_[key] = kNoSlot;
  }
}

Status WindowProcessor::FireTime(Timestamp watermark, bool early, exec::Emitter& out) {
  const Timestamp size = settings_.size, lateness = settings_.allowed_lateness;
  std::vector<Timestamp> expired;
  for (auto& [start, state] : windows_) {
    if (start + size > watermark) {
      if (early && !state.fired) AddTimeWindow(start, /*final=*/false);
      continue;
    }
    if (!state.fired || state.dirty) AddTimeWindow(start, /*final=*/true);
    state.fired = true;
    state.dirty = false;
    if (start + size + lateness <= watermark) expired.push_back(start);
  }
  SLUICE_RETURN_NOT_OK(EmitFirings(out));
  for (Timestamp start : expired) windows_.erase(start);
  // A pane goes when the latest window holding it has expired.
  std::vector<uint32_t> released;
  while (!panes_.empty()) {
    auto it = panes_.begin();
    if (FloorTo(it->first, settings_.slide) + size + lateness > watermark) break;
    released.insert(released.end(), it->second.slots.begin(), it->second.slots.end());
    panes_.erase(it);
  }
  ReleaseSlots(released);
  ClearIfEmpty(false);
  return Status::OK();
}

Status WindowProcessor::FireSessions(Timestamp watermark, bool early, exec::Emitter& out) {
  const Timestamp gap = settings_.gap, lateness = settings_.allowed_lateness;
  std::vector<uint32_t> released;
  for (auto& list : sessions_) {
    for (auto& session : list) {
      Timestamp end = session.last + gap;
      if (end > watermark) {
        if (early && !session.fired)
          firings_.push_back(Firing{session.slot, session.start, end, false});
        continue;
      }
      if (!session.fired || session.dirty)
        firings_.push_back(Firing{session.slot, session.start, end, true});
      session.fired = true;
      session.dirty = false;
    }
  }
  SLUICE_RETURN_NOT_OK(EmitFirings(out));
  if (emitted_until_.size() < sessions_.size())
    emitted_until_.resize(sessions_.size(), exec::kMinTimestamp);
  for (size_t key = 0; key < sessions_.size(); ++key) {
    auto& list = sessions_[key];
    Timestamp& until = emitted_until_[key];
    // What a gone session leaves: its end, until no row before it could be on time anyway.
    if (until != exec::kMinTimestamp && until + gap + lateness <= watermark) {
      until = exec::kMinTimestamp;
      --emitted_keys_;
    }
    auto kept = std::remove_if(list.begin(), list.end(), [&](const Session& session) {
      if (session.last + gap + lateness > watermark) return false;
      released.push_back(session.slot);
      if (watermark != exec::kMaxTimestamp) {
        if (until == exec::kMinTimestamp) ++emitted_keys_;
        until = std::max(until, session.last + gap);
      }
      return true;
    });
    list.erase(kept, list.end());
  }
  ReleaseSlots(released);
  ClearIfEmpty(false);
  return Status::OK();
}

Status WindowProcessor::FireCounts(bool flush, exec::Emitter& out) {
  const int64_t size = settings_.count_size, slide = settings_.count_slide;
  std::vector<uint32_t> released;
  std::vector<uint32_t> parts;
  for (auto& state : count_keys_) {
    // Window k holds rows [k * slide, k * slide + size); it fires once full, or at the end of
    // the input with what it has.
    while (state.windows_fired * slide < state.rows_seen) {
      int64_t first_row = state.windows_fired * slide;
      bool full = first_row + size <= state.rows_seen;
      if (!full && !flush) break;
      int64_t first_pane = first_row / count_pane_, end_pane = (first_row + size) / count_pane_;
      parts.clear();
      for (const auto& [index, slot] : state.panes) {
        if (index >= first_pane && index < end_pane) parts.push_back(slot);
      }
      if (!parts.empty()) {
        uint32_t slot = Combine(parts);
        firings_.push_back(Firing{slot, slot_first_time_[slot], slot_last_time_[slot], true});
      }
      ++state.windows_fired;
    }
  }
  SLUICE_RETURN_NOT_OK(EmitFirings(out));
  for (auto& state : count_keys_) {
    // Panes before the next window to fire are no longer needed.
    int64_t needed = flush ? INT64_MAX : state.windows_fired * slide / count_pane_;
    size_t drop = 0;
    while (drop < state.panes.size() && state.panes[drop].first < needed)
      released.push_back(state.panes[drop++].second);
    state.panes.erase(state.panes.begin(), state.panes.begin() + static_cast<std::ptrdiff_t>(drop));
  }
  ReleaseSlots(released);
  ClearIfEmpty(flush);
  return Status::OK();
}

Status WindowProcessor::EmitFirings(exec::Emitter& out) {
  if (firings_.empty()) return Status::OK();
  const auto count = static_cast<int64_t>(firings_.size());
  std::vector<uint32_t> slots(count);
  std::vector<uint32_t> keys(count);
  std::vector<int64_t> starts(count), ends(count), rows(count);
  std::vector<bool> finals(count);
  for (int64_t i = 0; i < count; ++i) {
    const Firing& firing = firings_[i];
    slots[i] = firing.slot;
    keys[i] = slot_key_[firing.slot];
    starts[i] = firing.start;
    ends[i] = firing.end;
    rows[i] = slot_rows_[firing.slot];
    finals[i] = firing.final;
  }
  std::vector<std::shared_ptr<arrow::Array>> columns;
  if (grouper_ != nullptr) {
    SLUICE_ASSIGN_OR_RAISE(arrow::compute::ExecBatch uniques, grouper_->GetUniques());
    arrow::UInt32Builder ids;
    SLUICE_RETURN_NOT_OK(ids.AppendValues(keys));
    SLUICE_ASSIGN_OR_RAISE(auto id_array, ids.Finish());
    for (const auto& unique : uniques.values) {
      SLUICE_ASSIGN_OR_RAISE(auto taken, arrow::compute::Take(*unique.make_array(), *id_array));
      columns.push_back(std::move(taken));
    }
  }
  auto time_type = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  arrow::TimestampBuilder start_builder(time_type, arrow::default_memory_pool());
  arrow::TimestampBuilder end_builder(time_type, arrow::default_memory_pool());
  SLUICE_RETURN_NOT_OK(start_builder.AppendValues(starts));
  SLUICE_RETURN_NOT_OK(end_builder.AppendValues(ends));
  SLUICE_ASSIGN_OR_RAISE(auto start_array, start_builder.Finish());
  SLUICE_ASSIGN_OR_RAISE(auto end_array, end_builder.Finish());
  columns.push_back(std::move(start_array));
  columns.push_back(std::move(end_array));
  for (const auto& accumulator : accumulators_) {
    SLUICE_ASSIGN_OR_RAISE(auto values, accumulator->Finalize(slots.data(), count));
    columns.push_back(std::move(values));
  }
  arrow::Int64Builder row_builder;
  SLUICE_RETURN_NOT_OK(row_builder.AppendValues(rows));
  SLUICE_ASSIGN_OR_RAISE(auto row_array, row_builder.Finish());
  columns.push_back(std::move(row_array));
  if (settings_.has_final_column) {
    arrow::BooleanBuilder final_builder;
    SLUICE_RETURN_NOT_OK(final_builder.AppendValues(finals));
    SLUICE_ASSIGN_OR_RAISE(auto final_array, final_builder.Finish());
    columns.push_back(std::move(final_array));
  }
  firings_.clear();
  ReleaseSlots(temporary_slots_);
  temporary_slots_.clear();

  auto batch = arrow::RecordBatch::Make(output_, count, std::move(columns));
  // Reproducible order: window_start, then the keys.
  std::vector<arrow::compute::SortKey> order{arrow::compute::SortKey("window_start")};
  for (int index : settings_.key_indices) order.emplace_back(input_->field(index)->name());
  SLUICE_ASSIGN_OR_RAISE(
      auto indices,
      arrow::compute::SortIndices(arrow::Datum(batch), arrow::compute::SortOptions(order)));
  SLUICE_ASSIGN_OR_RAISE(arrow::Datum sorted, arrow::compute::Take(batch, indices));
  return out.Emit(sorted.record_batch());
}

int64_t WindowProcessor::state_bytes() const {
  if (live_slots_ == 0 && num_keys_ == 0) return 0;
  int64_t bytes = 0;
  for (const auto& accumulator : accumulators_) bytes += accumulator->state_bytes();
  bytes += static_cast<int64_t>(slot_key_.capacity() *
                                (sizeof(uint32_t) + sizeof(int64_t) + 2 * sizeof(Timestamp)));
  for (const auto& [start, pane] : panes_) {
    bytes += static_cast<int64_t>(pane.slot_of_key.capacity() + pane.slots.capacity()) * 4 + 64;
  }
  bytes += static_cast<int64_t>(windows_.size()) * 48;
  for (const auto& list : sessions_)
    bytes += static_cast<int64_t>(list.capacity() * sizeof(Session)) + 24;
  for (const auto& state : count_keys_)
    bytes += static_cast<int64_t>(state.panes.capacity() * 16) + 40;
  // The key dictionary: a rough per-key cost of the Grouper's hash table and key storage.
  bytes += static_cast<int64_t>(num_keys_) * 32;
  return bytes;
}

}  // namespace internal

namespace {

// ---------------------------------------------------------------------------------------
// Configuration.

Result<WindowSettings> ReadSettings(const exec::ProcessorContext& context,
                                    const config::Options& options, const arrow::Schema& input) {
  WindowSettings settings;
  const std::string& file = options.where().file;
  std::vector<std::string> kinds;
  for (const char* kind : {"tumbling", "sliding", "session", "count"}) {
    if (options.Has(kind)) kinds.emplace_back(kind);
  }
  if (kinds.empty()) {
    return config::ConfigError(options.where(),
                               "a window needs its kind: tumbling, sliding, session or count",
                               "e.g. tumbling: 5s");
  }
  if (kinds.size() > 1) {
    return config::ConfigError(
        options.LocationOf(kinds[1]),
        fmt::format("a window has one kind, but both '{}' and '{}' are given", kinds[0], kinds[1]),
        "keep one of them");
  }
  const std::string& kind = kinds[0];
  if (kind == "tumbling") {
    settings.kind = WindowKind::kTumbling;
    SLUICE_RETURN_NOT_OK(ReadPositiveDuration(options, "tumbling", &settings.size));
  } else if (kind == "sliding") {
    settings.kind = WindowKind::kSliding;
    SLUICE_RETURN_NOT_OK(
        ReadSliding(options.GetSection("sliding"), &settings.size, &settings.slide));
  } else if (kind == "session") {
    settings.kind = WindowKind::kSession;
    const config::Options& session = options.GetSection("session");
    SLUICE_RETURN_NOT_OK(ReadPositiveDuration(session, "gap", &settings.gap));
  } else {
    settings.kind = WindowKind::kCount;
    YAML::Node node = options.GetNode("count");
    auto read_count = [&](const YAML::Node& value, int64_t* out) -> Status {
      int64_t number = 0;
      if (!value.IsScalar() || !YAML::convert<int64_t>::decode(value, number) || number <= 0) {
        return config::ConfigError(config::LocationOfNode(value, file),
                                   "a count window's size must be a whole number above 0",
                                   "e.g. count: 100 or count: {size: 100, slide: 10}");
      }
      *out = number;
      return Status::OK();
    };
    if (node.IsMap()) {
      for (const auto& entry : node) {
        std::string key = entry.first.Scalar();
        if (key != "size" && key != "slide") {
          return config::ConfigError(config::LocationOfNode(entry.first, file),
                                     fmt::format("unknown option '{}' of a count window", key),
                                     SpellingHint(key, {"size", "slide"}));
        }
      }
      if (!node["size"]) {
        return config::ConfigError(options.LocationOf("count"), "a count window needs its size",
                                   "e.g. count: {size: 100, slide: 10}");
      }
      SLUICE_RETURN_NOT_OK(read_count(node["size"], &settings.count_size));
      settings.count_slide = settings.count_size;
      if (node["slide"]) SLUICE_RETURN_NOT_OK(read_count(node["slide"], &settings.count_slide));
      if (settings.count_slide > settings.count_size) {
        return config::ConfigError(config::LocationOfNode(node["slide"], file),
                                   "a count window's slide cannot be larger than its size");
      }
    } else {
      SLUICE_RETURN_NOT_OK(read_count(node, &settings.count_size));
      settings.count_slide = settings.count_size;
    }
    for (const char* option : {"allowed_lateness", "emit_every"}) {
      if (options.Has(option)) {
        return config::ConfigError(
            options.LocationOf(option),
            fmt::format("'{}' applies to time windows; a count window fires when it is full",
                        option));
      }
    }
  }

  // Time.
  const std::string& event_time = context.event_time_field;
  if (options.Has("time")) {
    settings.processing_time = options.GetString("time") == "processing";
    if (!settings.processing_time && event_time.empty()) {
      return config::ConfigError(
          options.LocationOf("time"), "event time needs an event-time field in the sources",
          "declare one on every source, e.g. event_time: {field: ts}, or use time: processing");
    }
  } else {
    settings.processing_time = event_time.empty();
  }
  if (!event_time.empty()) {
    settings.time_index = input.GetFieldIndex(event_time);
    if (settings.time_index < 0 && !settings.processing_time) {
      return config::ConfigError(
          options.where(),
          fmt::format("the window needs the event-time field '{}', which an earlier stage removed",
                      event_time),
          "keep it in select/drop, or use time: processing");
    }
    if (settings.time_index >= 0) {
      const auto& type = *input.field(settings.time_index)->type();
      if (type.id() != arrow::Type::TIMESTAMP ||
          static_cast<const arrow::TimestampType&>(type).unit() != arrow::TimeUnit::MICRO) {
        if (!settings.processing_time) {
          return config::ConfigError(
              options.where(),
              fmt::format("the event-time field '{}' is {} here, not a timestamp", event_time,
                          type.ToString()),
              "do not cast the event-time field before a window");
        }
        settings.time_index = -1;
      }
    }
  }
  settings.allowed_lateness = Micros(options.GetDuration("allowed_lateness"));
  if (options.Has("emit_every")) {
    settings.emit_every = Micros(options.GetDuration("emit_every"));
    if (settings.emit_every <= 0) {
      return config::ConfigError(options.LocationOf("emit_every"),
                                 "'emit_every' must be longer than 0", "e.g. 1s");
    }
  }
  settings.has_final_column = settings.allowed_lateness > 0 || settings.emit_every > 0;

  // Columns.
  aggregates::ColumnNames names("window");
  SLUICE_ASSIGN_OR_RAISE(settings.key_indices, aggregates::ReadGroupBy(options, input, &names));
  SLUICE_RETURN_NOT_OK(names.Claim("window_start", options.LocationOf("group_by")));
  SLUICE_RETURN_NOT_OK(names.Claim("window_end", options.LocationOf("group_by")));
  SLUICE_ASSIGN_OR_RAISE(settings.aggregates, aggregates::ReadAggregates(options, input, &names));
  SLUICE_RETURN_NOT_OK(names.Claim("count", options.LocationOf("aggregate")));
  if (settings.has_final_column)
    SLUICE_RETURN_NOT_OK(names.Claim("final", options.LocationOf("aggregate")));
  return settings;
}

std::shared_ptr<arrow::Schema> OutputSchema(const WindowSettings& settings,
                                            const arrow::Schema& input) {
  std::vector<std::shared_ptr<arrow::Field>> fields;
  for (int index : settings.key_indices) fields.push_back(input.field(index));
  auto time_type = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  fields.push_back(arrow::field("window_start", time_type, false));
  fields.push_back(arrow::field("window_end", time_type, false));
  for (auto& field : aggregates::AggregateFields(settings.aggregates, input))
    fields.push_back(std::move(field));
  fields.push_back(arrow::field("count", arrow::int64(), false));
  if (settings.has_final_column) fields.push_back(arrow::field("final", arrow::boolean(), false));
  return arrow::schema(std::move(fields));
}

}  // namespace

config::OptionSpec TumblingOption() {
  return config::MakeOption("tumbling", config::OptionType::kDuration,
                            "Fixed, non-overlapping windows of this length, aligned to the epoch.");
}

config::OptionSpec SlidingOption() {
  config::OptionSpec sliding = config::MakeOption(
      "sliding", config::OptionType::kSection,
      "Overlapping windows of `size`, one starting every `slide` (aligned to the epoch); a row "
      "belongs to size/slide windows.");
  config::OptionSpec size =
      config::MakeOption("size", config::OptionType::kDuration, "The length of each window.");
  size.required = true;
  config::OptionSpec slide = config::MakeOption("slide", config::OptionType::kDuration,
                                                "How far apart windows start; at most size.");
  slide.required = true;
  sliding.fields = {size, slide};
  return sliding;
}

Status ReadPositiveDuration(const config::Options& where, std::string_view name,
                            exec::Timestamp* out) {
  *out = Micros(where.GetDuration(name));
  if (*out <= 0) {
    return config::ConfigError(where.LocationOf(name),
                               fmt::format("'{}' must be longer than 0", name), "e.g. 5s");
  }
  return Status::OK();
}

Status ReadSliding(const config::Options& sliding, exec::Timestamp* size, exec::Timestamp* slide) {
  SLUICE_RETURN_NOT_OK(ReadPositiveDuration(sliding, "size", size));
  SLUICE_RETURN_NOT_OK(ReadPositiveDuration(sliding, "slide", slide));
  if (*slide > *size) {
    return config::ConfigError(sliding.LocationOf("slide"),
                               "a window's slide cannot be longer than its size",
                               "for windows with gaps between them, filter the rows first");
  }
  if (*size / std::gcd(*size, *slide) > 100000) {
    return config::ConfigError(sliding.LocationOf("slide"),
                               "size and slide split each window into more than 100000 panes",
                               "make the size a multiple of the slide");
  }
  return Status::OK();
}

void RegisterWindow(exec::Registry* registry) {
  using config::OptionSpec;
  using config::OptionType;
  config::PluginSpec spec;
  spec.name = "window";
  spec.doc =
      "Aggregates rows over tumbling, sliding, session or count windows per group; a time window "
      "fires once when the "
      "watermark passes its end, with columns: the group_by keys, window_start, window_end, "
      "<field>_<function> per "
      "aggregate, count (and final with allowed_lateness or emit_every).";

  OptionSpec tumbling = TumblingOption();
  OptionSpec sliding = SlidingOption();
  OptionSpec session{"session", OptionType::kSection,
                     "Per-key windows of activity, closed after `gap` without rows; window_end is "
                     "the last row's time "
                     "plus the gap. Short form: session: 30s."};
  session.short_field = "gap";
  session.fields = {
      OptionSpec{"gap", OptionType::kDuration, "The silence that closes a session.", "", true}};
  OptionSpec count{"count", OptionType::kAny,
                   "Windows of this many rows per key (count: 100), or sliding ones (count: {size: "
                   "100, slide: 10}); "
                   "they fire when full, and the unfilled ones at the end of the input. "
                   "window_start/window_end are the "
                   "times of their first and last rows."};
  OptionSpec group_by =
      aggregates::GroupByOption("Fields that key the windows; each key has its own windows.");
  OptionSpec aggregate = aggregates::AggregateOption();
  OptionSpec time{"time", OptionType::kEnum,
                  "event: window by the rows' event time; processing: by their arrival (wall "
                  "clock). Default: event "
                  "when the sources declare event_time, else processing."};
  time.choices = {"event", "processing"};
  OptionSpec lateness{
      "allowed_lateness", OptionType::kDuration,
      "Keep fired windows this long: a late row within it updates its window, which is emitted "
      "again "
      "(final: true) and supersedes the earlier row. Later rows are dead letters (late).",
      "0s"};
  lateness.min = 0;
  OptionSpec emit_every{
      "emit_every", OptionType::kDuration,
      "Also emit open windows early (final: false) whenever the watermark has moved this much."};
  spec.options = {tumbling,  sliding, session,  count,     group_by,
                  aggregate, time,    lateness, emit_every};
  spec.example =
      "- window:\n"
      "    tumbling: 5s\n"
      "    group_by: [symbol]\n"
      "    aggregate: {ask: [first, last, min], volume: [sum], spread: [avg, stddev]}";
  registry->AddProcessor(
      std::move(spec),
      [](const exec::ProcessorContext& context, const config::Options& options,
         const std::shared_ptr<arrow::Schema>& input) -> Result<std::unique_ptr<exec::Processor>> {
        // Sorting and Take live in the compute library's optional kernels.
        SLUICE_RETURN_NOT_OK(arrow::compute::Initialize());
        SLUICE_ASSIGN_OR_RAISE(WindowSettings settings, ReadSettings(context, options, *input));
        std::unique_ptr<arrow::compute::Grouper> grouper;
        if (!settings.key_indices.empty()) {
          std::vector<arrow::TypeHolder> types;
          for (int index : settings.key_indices) types.emplace_back(input->field(index)->type());
          auto made = arrow::compute::Grouper::Make(types);
          if (!made.ok()) {
            return config::ConfigError(options.LocationOf("group_by"),
                                       "these fields cannot key a window", made.status().message());
          }
          grouper = std::move(*made);
        }
        auto output = OutputSchema(settings, *input);
        return std::make_unique<WindowProcessor>(std::move(settings), context, input,
                                                 std::move(output), std::move(grouper));
      });
}

}  // namespace sluice::processors
