// What both kinds of join share: the kept batches, key ids, and the output rows.

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/util/bit_util.h>

#include <algorithm>

#include "sluice/processors/join_internal.h"

namespace sluice::processors::join {

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

}  // namespace sluice::processors::join
