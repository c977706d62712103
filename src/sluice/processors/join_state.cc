// Checkpoints of a join: its state as tables laid out by side and key, and back.
//
// A snapshot shares the kept input batches as they are (they never change) and copies only
// what the join changes in place: per kept row its key values, its position in the batches and
// the kind's own columns. Key ids and hash tables are not saved; the restore rebuilds them from
// the key columns, so a snapshot does not depend on the order in which keys were first seen.

#include <arrow/api.h>
#include <arrow/compute/api.h>

#include <algorithm>
#include <charconv>
#include <string>

#include "sluice/processors/join_internal.h"

namespace sluice::processors::join {
namespace {

constexpr const char* kSideNames[] = {"left", "right"};

std::shared_ptr<arrow::DataType> TimeType() {
  return arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
}

/// A column of `type` (a 64-bit type) holding `values` without copying them again.
std::shared_ptr<arrow::Array> Int64Column(std::shared_ptr<arrow::DataType> type,
                                          std::vector<int64_t> values) {
  const auto length = static_cast<int64_t>(values.size());
  return arrow::MakeArray(arrow::ArrayData::Make(
      std::move(type), length, {nullptr, arrow::Buffer::FromVector(std::move(values))}, 0));
}

/// A snapshot that this join did not make (or that was damaged): the restore fails rather than
/// guess or crash.
Status Damaged(const std::string& what) {
  return Status::IOError("the join's checkpoint state is not usable: ", what);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// The kept batches.

Result<std::shared_ptr<arrow::Table>> BatchStore::Snapshot(std::vector<int64_t>* offsets) const {
  offsets->assign(slots_.size(), -1);
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  int64_t offset = 0;
  for (size_t slot = 0; slot < slots_.size(); ++slot) {
    const auto& batch = slots_[slot].batch;
    if (batch == nullptr) continue;
    (*offsets)[slot] = offset;
    offset += batch->num_rows();
    // A batch may differ from the declared schema in nullability or metadata only, which a
    // table does not allow: it is relabelled, not copied.
    batches.push_back(batch->schema()->Equals(*schema_, false)
                          ? batch
                          : arrow::RecordBatch::Make(schema_, batch->num_rows(), batch->columns()));
  }
  return arrow::Table::FromRecordBatches(schema_, std::move(batches));
}

Status BatchStore::Restore(const arrow::Table& table, std::vector<uint32_t>* slots,
                           std::vector<int64_t>* starts) {
  if (!table.schema()->Equals(*schema_, false)) {
    return Damaged("its kept rows have the fields " + table.schema()->ToString() +
                   ", not the input's " + schema_->ToString());
  }
  arrow::TableBatchReader reader(table);
  int64_t start = 0;
  while (true) {
    std::shared_ptr<arrow::RecordBatch> batch;
    SLUICE_RETURN_NOT_OK(reader.ReadNext(&batch));
    if (batch == nullptr) break;
    const int64_t rows = batch->num_rows();
    if (rows == 0) continue;
    if (rows > std::numeric_limits<uint32_t>::max()) return Damaged("a kept batch is too long");
    SLUICE_ASSIGN_OR_RAISE(uint32_t slot, Add(std::move(batch)));
    slots->push_back(slot);
    starts->push_back(start);
    start += rows;
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------------------
// What both kinds share.

Result<state::StateSnapshot> JoinProcessor::SnapshotState() const {
  state::StateSnapshot snapshot;
  snapshot.values["watermark"] = std::to_string(watermark_);
  // The values of every key id, to write each kept row's key out.
  std::vector<arrow::Datum> uniques;
  if (num_keys_ > 0) {
    SLUICE_ASSIGN_OR_RAISE(arrow::compute::ExecBatch batch, grouper_->GetUniques());
    uniques = std::move(batch.values);
  }
  for (int side : {kLeft, kRight}) {
    std::vector<int64_t> offsets;
    SLUICE_ASSIGN_OR_RAISE(auto batches, stores_[side].Snapshot(&offsets));
    SLUICE_ASSIGN_OR_RAISE(SavedRows saved, SaveRows(side));
    const auto count = static_cast<int64_t>(saved.rows.size());

    std::vector<int64_t> positions(count);
    for (int64_t i = 0; i < count; ++i) {
      positions[i] = offsets[SlotOf(saved.rows[i])] + RowOf(saved.rows[i]);
    }
    int64_t missing = 0;
    std::vector<uint8_t> valid;
    for (uint32_t key : saved.keys) missing += key == kNoKey;
    if (missing > 0) {
      valid.resize(count);
      for (int64_t i = 0; i < count; ++i) valid[i] = saved.keys[i] != kNoKey;
    }
    SLUICE_ASSIGN_OR_RAISE(auto indices, MakeIndices(std::move(saved.keys), valid));

    std::vector<std::shared_ptr<arrow::Field>> fields;
    std::vector<std::shared_ptr<arrow::Array>> columns;
    const arrow::Schema& schema = *settings_.input_schemas[side];
    for (size_t column = 0; column < settings_.key_columns[side].size(); ++column) {
      const auto& field = schema.field(settings_.key_columns[side][column]);
      fields.push_back(field->WithNullable(true));
      if (uniques.empty() || missing == count) {
        SLUICE_ASSIGN_OR_RAISE(auto nulls, arrow::MakeArrayOfNull(field->type(), count));
        columns.push_back(std::move(nulls));
        continue;
      }
      SLUICE_ASSIGN_OR_RAISE(arrow::Datum taken, arrow::compute::Take(uniques[column], indices));
      columns.push_back(taken.make_array());
    }
    for (auto& field : SavedFields()) fields.push_back(std::move(field));
    for (auto& column : saved.columns) columns.push_back(std::move(column));
    fields.push_back(arrow::field("position", arrow::int64(), false));
    columns.push_back(Int64Column(arrow::int64(), std::move(positions)));

    const std::string name = kSideNames[side];
    snapshot.tables.emplace_back(name + ".batches", std::move(batches));
    snapshot.tables.emplace_back(
        name + ".rows", arrow::Table::Make(arrow::schema(std::move(fields)), columns, count));
  }
  return snapshot;
}

Status JoinProcessor::RestoreState(const state::StateSnapshot& snapshot) {
  const std::string watermark = snapshot.Value("watermark");
  auto [end, error] =
      std::from_chars(watermark.data(), watermark.data() + watermark.size(), watermark_);
  if (watermark.empty() || error != std::errc() || end != watermark.data() + watermark.size()) {
    return Damaged("its watermark is '" + watermark + "'");
  }
  const auto saved_fields = SavedFields();
  for (int side : {kLeft, kRight}) {
    const std::string name = kSideNames[side];
    auto batches = snapshot.Table(name + ".batches");
    auto kept = snapshot.Table(name + ".rows");
    if (batches == nullptr || kept == nullptr) return Damaged("the " + name + " side is missing");
    std::vector<uint32_t> slots;
    std::vector<int64_t> starts;
    SLUICE_RETURN_NOT_OK(stores_[side].Restore(*batches, &slots, &starts));

    const size_t key_count = settings_.key_columns[side].size();
    const arrow::Schema& schema = *kept->schema();
    bool fits = static_cast<size_t>(schema.num_fields()) == key_count + saved_fields.size() + 1;
    for (size_t i = 0; fits && i < key_count; ++i) {
      fits = schema.field(static_cast<int>(i))->type()->Equals(*settings_.key_types[i].type);
    }
    for (size_t i = 0; fits && i < saved_fields.size(); ++i) {
      fits = schema.field(static_cast<int>(key_count + i))->type()->Equals(saved_fields[i]->type());
    }
    if (!fits || schema.fields().back()->type()->id() != arrow::Type::INT64) {
      return Damaged("its " + name + " rows have the fields " + schema.ToString());
    }
    SLUICE_ASSIGN_OR_RAISE(auto rows, kept->CombineChunksToBatch());
    const int64_t count = rows->num_rows();

    // Key ids from the saved key values, as ProcessInput() gives them.
    std::vector<uint32_t> keys;
    if (count > 0) {
      std::vector<arrow::Datum> key_values;
      for (size_t i = 0; i < key_count; ++i) key_values.emplace_back(rows->column(i));
      arrow::compute::ExecBatch key_batch(std::move(key_values), count);
      SLUICE_ASSIGN_OR_RAISE(arrow::Datum ids,
                             grouper_->Consume(arrow::compute::ExecSpan(key_batch)));
      const uint32_t* id = ids.array()->GetValues<uint32_t>(1);
      keys.assign(id, id + count);
      for (size_t i = 0; i < key_count; ++i) {
        const arrow::Array& values = *rows->column(static_cast<int>(i));
        if (values.null_count() == 0) continue;
        for (int64_t row = 0; row < count; ++row) {
          if (values.IsNull(row)) keys[row] = kNoKey;
        }
      }
      num_keys_ = grouper_->num_groups();
    }

    // References into the restored batches, each row held by the store.
    const auto& positions = static_cast<const arrow::Int64Array&>(*rows->columns().back());
    if (positions.null_count() > 0) return Damaged("a kept row has no position");
    std::vector<uint64_t> references(count);
    std::vector<int64_t> held(slots.size(), 0);
    for (int64_t row = 0; row < count; ++row) {
      const int64_t position = positions.Value(row);
      if (position < 0 || position >= batches->num_rows()) {
        return Damaged("a kept row's position is out of range");
      }
      const size_t chunk = std::upper_bound(starts.begin(), starts.end(), position) -
                           starts.begin() - 1;
      references[row] = RowRef(slots[chunk], position - starts[chunk]);
      ++held[chunk];
    }
    for (size_t chunk = 0; chunk < slots.size(); ++chunk) {
      stores_[side].Hold(slots[chunk], held[chunk]);
    }
    std::vector<std::shared_ptr<arrow::Array>> columns(
        rows->columns().begin() + static_cast<std::ptrdiff_t>(key_count),
        rows->columns().end() - 1);
    SLUICE_RETURN_NOT_OK(RestoreRows(side, keys, references, columns));
    for (uint32_t slot : slots) stores_[side].DropIfUnheld(slot);
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------------------
// Window join.

std::vector<std::shared_ptr<arrow::Field>> WindowJoin::SavedFields() const {
  return {arrow::field("pane_start", TimeType(), false)};
}

Result<JoinProcessor::SavedRows> WindowJoin::SaveRows(int side) const {
  SavedRows saved;
  std::vector<int64_t> pane_starts;
  for (const auto& [start, pane] : panes_) {
    saved.keys.insert(saved.keys.end(), pane.keys[side].begin(), pane.keys[side].end());
    saved.rows.insert(saved.rows.end(), pane.rows[side].begin(), pane.rows[side].end());
    pane_starts.insert(pane_starts.end(), pane.rows[side].size(), start);
  }
  saved.columns.push_back(Int64Column(TimeType(), std::move(pane_starts)));
  return saved;
}

Status WindowJoin::RestoreRows(int side, const std::vector<uint32_t>& keys,
                               const std::vector<uint64_t>& rows,
                               const std::vector<std::shared_ptr<arrow::Array>>& columns) {
  const auto& pane_starts = static_cast<const arrow::TimestampArray&>(*columns[0]);
  if (pane_starts.null_count() > 0) return Damaged("a kept row has no pane");
  if (key_refs_.size() < num_keys_) key_refs_.resize(num_keys_, 0);
  Pane* pane = nullptr;
  Timestamp pane_start = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Timestamp start = pane_starts.Value(static_cast<int64_t>(i));
    if (pane == nullptr || start != pane_start) {
      if (FloorTo(start, pane_size_) != start) return Damaged("a pane starts between panes");
      pane_start = start;
      pane = &panes_[start];
      // The windows still to fire are those of the kept panes that the watermark has not
      // passed, as Accept() registered them.
      RegisterPaneWindows(start);
    }
    pane->keys[side].push_back(keys[i]);
    pane->rows[side].push_back(rows[i]);
    HoldKey(keys[i]);
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------------------
// Interval and regular (ttl) joins.

std::vector<std::shared_ptr<arrow::Field>> ProbeJoin::SavedFields() const {
  return {arrow::field("time", TimeType(), false),
          arrow::field("matched", arrow::boolean(), false)};
}

Result<JoinProcessor::SavedRows> ProbeJoin::SaveRows(int side) const {
  SavedRows saved;
  const Side& kept = sides_[side];
  std::vector<int64_t> times;
  arrow::BooleanBuilder matched;
  SLUICE_RETURN_NOT_OK(matched.Reserve(kept.live));
  saved.keys.reserve(kept.live);
  saved.rows.reserve(kept.live);
  times.reserve(kept.live);
  std::vector<uint32_t> chain;
  for (uint32_t key = 0; key < heads_.size(); ++key) {
    // A chain runs from the newest entry; saved oldest first, it is rebuilt in the same order.
    chain.clear();
    for (uint32_t index = heads_[key][side]; index != kNoEntry; index = kept.entries[index].next) {
      chain.push_back(index);
    }
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      const Entry& entry = kept.entries[*it];
      saved.keys.push_back(key);
      saved.rows.push_back(entry.row);
      times.push_back(entry.time);
      matched.UnsafeAppend(entry.matched);
    }
  }
  saved.columns.push_back(Int64Column(TimeType(), std::move(times)));
  SLUICE_ASSIGN_OR_RAISE(auto matched_array, matched.Finish());
  saved.columns.push_back(std::move(matched_array));
  return saved;
}

Status ProbeJoin::RestoreRows(int side, const std::vector<uint32_t>& keys,
                              const std::vector<uint64_t>& rows,
                              const std::vector<std::shared_ptr<arrow::Array>>& columns) {
  const auto& times = static_cast<const arrow::TimestampArray&>(*columns[0]);
  const auto& matched = static_cast<const arrow::BooleanArray&>(*columns[1]);
  if (times.null_count() > 0 || matched.null_count() > 0) {
    return Damaged("a kept row has no time or match flag");
  }
  if (heads_.size() < num_keys_) heads_.resize(num_keys_, {kNoEntry, kNoEntry});
  for (size_t i = 0; i < rows.size(); ++i) {
    // A probe join keeps no row with a NULL key: it can match nothing.
    if (keys[i] == kNoKey) return Damaged("a kept row has a NULL key");
    const auto row = static_cast<int64_t>(i);
    Insert(side, times.Value(row), rows[i], keys[i], matched.Value(row));
  }
  return Status::OK();
}

}  // namespace sluice::processors::join
