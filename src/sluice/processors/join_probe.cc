// Interval and regular (ttl) joins: an arriving row joins at once with the rows the other side
// keeps.

#include <fmt/format.h>

#include <chrono>

#include "sluice/common/duration.h"
#include "sluice/processors/join_internal.h"

namespace sluice::processors::join {

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

}  // namespace sluice::processors::join
