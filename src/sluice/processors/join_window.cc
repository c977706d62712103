// Window joins: rows of both inputs in the same tumbling or sliding window join when the
// watermark passes the window's end.

#include <fmt/format.h>

#include <numeric>

#include "sluice/processors/join_internal.h"

namespace sluice::processors::join {

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

}  // namespace sluice::processors::join
