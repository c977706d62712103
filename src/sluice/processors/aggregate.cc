#include "sluice/processors/aggregate.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/compute/exec.h>
#include <arrow/compute/row/grouper.h>
#include <arrow/util/key_value_metadata.h>
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <numeric>
#include <queue>

#include "sluice/processors/aggregates/accumulator.h"
#include "sluice/processors/aggregates/aggregate_options.h"
#include "sluice/processors/grouper_rebuild.h"
#include "sluice/processors/state_tables.h"

namespace sluice::processors {
namespace {

using aggregates::AggregateColumn;
using aggregates::kNoSlot;
using arrow::compute::Grouper;
using exec::Timestamp;

/// Below this many key ids the grouper is never rebuilt: rebuilding costs more than it frees.
constexpr uint32_t kCompactMinimum = 4096;

/// Rough bytes the grouper spends per key (hash table slot and key storage).
constexpr int64_t kBytesPerKey = 32;

/// The validated configuration of one aggregate stage. Times are in microseconds.
struct AggregateSettings {
  std::vector<int> key_indices;
  std::vector<AggregateColumn> aggregates;
  /// How long a key is kept after its last update; 0 keeps keys for ever.
  Timestamp ttl = 0;
  /// The event-time column that ages keys, or -1 to age them by processing time.
  int time_index = -1;
};

/// Running aggregates per key, without windows: after each batch, one row per key the batch
/// updated, holding the key's totals so far — an upsert stream keyed by the group_by fields.
///
/// State layout: keys become dense ids through an Arrow Grouper, which compares whole key values
/// and treats NULL as a value of its own. Each live key owns a numbered slot, and each aggregate
/// one Accumulator over all slots, so a batch costs one Consume() per aggregate. Accumulators see
/// each row's arrival sequence number as its time, so first, last and ema follow input order.
/// With a ttl, a min-heap of (last update, slot) entries finds the keys to drop; the grouper
/// cannot forget single keys, so it is rebuilt from the live ones once most of its ids are dead.
///
/// A checkpoint holds one row per live key: its key fields, the state of its slot in every
/// accumulator, its row count and its latest time; and the arrival and batch numbers. A restore
/// puts group i in slot i (its key gets whatever id the grouper gives it) and rebuilds the
/// expiry heap from the latest times: dead keys, free slots and stale heap entries are left
/// behind, which changes where groups live but not what is emitted.
///
/// Owned by the pipeline driver and used from its thread only.
class AggregateProcessor final : public exec::Processor {
 public:
  AggregateProcessor(AggregateSettings settings, exec::ProcessorContext context,
                     std::shared_ptr<arrow::Schema> input, std::shared_ptr<arrow::Schema> output,
                     std::unique_ptr<Grouper> grouper)
      : settings_(std::move(settings)),
        context_(std::move(context)),
        input_(std::move(input)),
        output_(std::move(output)),
        grouper_(std::move(grouper)) {
    for (const auto& column : settings_.aggregates) {
      accumulators_.push_back(
          aggregates::MakeAccumulator(column.aggregate, input_->field(column.field_index)->type()));
    }
    for (int index : settings_.key_indices) key_types_.emplace_back(input_->field(index)->type());
  }

  std::shared_ptr<arrow::Schema> output_schema() const override { return output_; }
  bool stateless() const override { return false; }

  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter& out) override;

  Status OnWatermark(Timestamp watermark, exec::Emitter&) override {
    if (settings_.ttl == 0) return Status::OK();
    // The end of the input (kMaxTimestamp) ages every key out on either clock.
    bool wall_clock = settings_.time_index < 0 && watermark != exec::kMaxTimestamp;
    return Expire(wall_clock ? exec::WallClockNow() : watermark);
  }

  int64_t state_bytes() const override;

  bool checkpointable() const override { return true; }
  Result<state::StateSnapshot> SnapshotState() const override;
  Status RestoreState(const state::StateSnapshot& snapshot) override;

 private:
  /// A key's slot may expire at `at` plus the ttl; stale once the slot was updated since.
  struct Expiry {
    Timestamp at;
    uint32_t slot;
    bool operator>(const Expiry& other) const { return at > other.at; }
  };

  /// Dense key ids of the batch's rows (all 0 without group_by).
  Result<std::vector<uint32_t>> KeyIds(const arrow::RecordBatch& batch);
  uint32_t AllocateSlot(uint32_t key);
  /// Drops the keys last updated at or before `now` minus the ttl.
  Status Expire(Timestamp now);
  /// Frees what dropped keys still hold: everything when no key is live, otherwise a rebuilt
  /// grouper once most of its ids are dead.
  Status Compact();
  /// Emits the current values of changed_slots_, whose keys stand at changed_rows_ of `batch`.
  Status EmitChanged(const arrow::RecordBatch& batch, exec::Emitter& out);
  /// The layout of the checkpoint table: the key fields, the state fields of each accumulator
  /// (named `<output column>.<state field>`), `rows` and `last_time`.
  std::shared_ptr<arrow::Schema> StateSchema() const;

  AggregateSettings settings_;
  exec::ProcessorContext context_;
  std::shared_ptr<arrow::Schema> input_;
  std::shared_ptr<arrow::Schema> output_;
  std::unique_ptr<Grouper> grouper_;
  std::vector<arrow::TypeHolder> key_types_;
  std::vector<std::unique_ptr<aggregates::Accumulator>> accumulators_;

  /// The arrival number of the next row: the time the accumulators order rows by.
  Timestamp next_sequence_ = 0;
  /// The number of the batch being processed, to find the slots it changed.
  int64_t batch_number_ = 0;

  /// Per key id: its slot, or kNoSlot for a key that was dropped.
  std::vector<uint32_t> slot_of_key_;
  // The slot store: per-slot bookkeeping besides the accumulators.
  uint32_t capacity_ = 0;
  uint32_t live_slots_ = 0;
  std::vector<uint32_t> free_slots_;
  /// The key id of each slot; kNoSlot for a free slot.
  std::vector<uint32_t> slot_key_;
  std::vector<int64_t> slot_rows_;
  /// The latest event time (or processing time) of the slot's rows.
  std::vector<Timestamp> slot_last_time_;
  /// The last batch that changed the slot.
  std::vector<int64_t> slot_batch_;
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<Expiry>> expiries_;

  // Scratch of the current batch.
  std::vector<uint32_t> changed_slots_;
  std::vector<int64_t> changed_rows_;
  /// The latest time of each changed slot before the batch.
  std::vector<Timestamp> changed_last_times_;
};

Result<std::vector<uint32_t>> AggregateProcessor::KeyIds(const arrow::RecordBatch& batch) {
  if (grouper_ == nullptr) {
    if (slot_of_key_.empty()) slot_of_key_.assign(1, kNoSlot);
    return std::vector<uint32_t>(batch.num_rows(), 0);
  }
  std::vector<arrow::Datum> columns;
  for (int index : settings_.key_indices) columns.emplace_back(batch.column(index));
  arrow::compute::ExecBatch key_batch(std::move(columns), batch.num_rows());
  SLUICE_ASSIGN_OR_RAISE(arrow::Datum ids, grouper_->Consume(arrow::compute::ExecSpan(key_batch)));
  const uint32_t* values = ids.array()->GetValues<uint32_t>(1);
  slot_of_key_.resize(grouper_->num_groups(), kNoSlot);
  return std::vector<uint32_t>(values, values + batch.num_rows());
}

uint32_t AggregateProcessor::AllocateSlot(uint32_t key) {
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slot_key_.size());
    if (slot >= capacity_) {
      capacity_ = std::max<uint32_t>(64, capacity_ * 2);
      for (auto& accumulator : accumulators_) accumulator->Resize(capacity_);
    }
    slot_key_.push_back(kNoSlot);
    slot_rows_.push_back(0);
    slot_last_time_.push_back(0);
    slot_batch_.push_back(0);
  }
  slot_key_[slot] = key;
  slot_rows_[slot] = 0;
  slot_last_time_[slot] = exec::kMinTimestamp;
  slot_batch_[slot] = -1;
  ++live_slots_;
  return slot;
}

Status AggregateProcessor::Process(const std::shared_ptr<arrow::RecordBatch>& batch,
                                   exec::Emitter& out) {
  const int64_t rows = batch->num_rows();
  if (rows == 0) return Status::OK();
  const bool event_time = settings_.ttl > 0 && settings_.time_index >= 0;
  if (event_time && batch->column(settings_.time_index)->null_count() > 0) {
    // The driver dead-letters rows without an event time; an earlier stage may still make one.
    const auto& column = *batch->column(settings_.time_index);
    for (int64_t i = 0; i < rows; ++i) {
      if (column.IsNull(i) && context_.dead_letters != nullptr) {
        context_.dead_letters->Add(
            exec::DeadLetter{"no event time", "aggregate", "", "", exec::RowToJson(*batch, i)});
      }
    }
    SLUICE_ASSIGN_OR_RAISE(auto valid,
                           arrow::compute::IsValid(batch->column(settings_.time_index)));
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum kept, arrow::compute::Filter(batch, valid));
    return Process(kept.record_batch(), out);
  }
  Timestamp now = 0;
  if (settings_.ttl > 0 && !event_time) {
    now = exec::WallClockNow();
    SLUICE_RETURN_NOT_OK(Expire(now));
  }
  const Timestamp* times =
      event_time ? static_cast<const arrow::TimestampArray&>(*batch->column(settings_.time_index))
                       .raw_values()
                 : nullptr;

  SLUICE_ASSIGN_OR_RAISE(std::vector<uint32_t> keys, KeyIds(*batch));
  std::vector<uint32_t> slots(rows);
  changed_slots_.clear();
  changed_rows_.clear();
  changed_last_times_.clear();
  for (int64_t i = 0; i < rows; ++i) {
    uint32_t& slot = slot_of_key_[keys[i]];
    if (slot == kNoSlot) slot = AllocateSlot(keys[i]);
    slots[i] = slot;
    if (slot_batch_[slot] != batch_number_) {
      slot_batch_[slot] = batch_number_;
      changed_slots_.push_back(slot);
      changed_rows_.push_back(i);
      changed_last_times_.push_back(slot_last_time_[slot]);
    }
    ++slot_rows_[slot];
    slot_last_time_[slot] = std::max(slot_last_time_[slot], times != nullptr ? times[i] : now);
  }
  ++batch_number_;

  std::vector<Timestamp> sequence(rows);
  std::iota(sequence.begin(), sequence.end(), next_sequence_);
  next_sequence_ += rows;
  SLUICE_RETURN_NOT_OK(aggregates::ConsumeBatch(settings_.aggregates, accumulators_, *batch,
                                                sequence.data(), slots.data()));
  if (settings_.ttl > 0) {
    // A key whose latest time did not move keeps its entry.
    for (size_t c = 0; c < changed_slots_.size(); ++c) {
      uint32_t slot = changed_slots_[c];
      if (slot_last_time_[slot] != changed_last_times_[c])
        expiries_.push(Expiry{slot_last_time_[slot], slot});
    }
  }
  return EmitChanged(*batch, out);
}

Status AggregateProcessor::EmitChanged(const arrow::RecordBatch& batch, exec::Emitter& out) {
  const auto count = static_cast<int64_t>(changed_slots_.size());
  std::vector<std::shared_ptr<arrow::Array>> columns;
  if (!settings_.key_indices.empty()) {
    // Each changed key as it stands in the batch, at its first row there.
    arrow::Int64Builder positions;
    SLUICE_RETURN_NOT_OK(positions.AppendValues(changed_rows_));
    SLUICE_ASSIGN_OR_RAISE(auto indices, positions.Finish());
    for (int index : settings_.key_indices) {
      SLUICE_ASSIGN_OR_RAISE(auto taken, arrow::compute::Take(*batch.column(index), *indices));
      columns.push_back(std::move(taken));
    }
  }
  for (const auto& accumulator : accumulators_) {
    SLUICE_ASSIGN_OR_RAISE(auto values, accumulator->Finalize(changed_slots_.data(), count));
    columns.push_back(std::move(values));
  }
  arrow::Int64Builder row_counts;
  SLUICE_RETURN_NOT_OK(row_counts.Reserve(count));
  for (uint32_t slot : changed_slots_) row_counts.UnsafeAppend(slot_rows_[slot]);
  SLUICE_ASSIGN_OR_RAISE(auto row_count_array, row_counts.Finish());
  columns.push_back(std::move(row_count_array));
  return out.Emit(arrow::RecordBatch::Make(output_, count, std::move(columns)));
}

Status AggregateProcessor::Expire(Timestamp now) {
  if (now < exec::kMinTimestamp + settings_.ttl) return Status::OK();
  const Timestamp limit = now - settings_.ttl;
  std::vector<uint32_t> expired;
  while (!expiries_.empty() && expiries_.top().at <= limit) {
    Expiry expiry = expiries_.top();
    expiries_.pop();
    uint32_t slot = expiry.slot;
    // A slot updated since (or already dropped) has a later entry, or none is needed.
    if (slot_key_[slot] == kNoSlot || slot_last_time_[slot] != expiry.at) continue;
    slot_of_key_[slot_key_[slot]] = kNoSlot;
    slot_key_[slot] = kNoSlot;
    expired.push_back(slot);
  }
  if (expired.empty()) return Status::OK();
  for (auto& accumulator : accumulators_)
    accumulator->Reset(expired.data(), static_cast<int64_t>(expired.size()));
  free_slots_.insert(free_slots_.end(), expired.begin(), expired.end());
  live_slots_ -= static_cast<uint32_t>(expired.size());
  return Compact();
}

Status AggregateProcessor::Compact() {
  if (live_slots_ == 0) {
    for (auto& accumulator : accumulators_) accumulator->Clear();
    capacity_ = 0;
    std::vector<uint32_t>().swap(slot_of_key_);
    std::vector<uint32_t>().swap(free_slots_);
    std::vector<uint32_t>().swap(slot_key_);
    std::vector<int64_t>().swap(slot_rows_);
    std::vector<Timestamp>().swap(slot_last_time_);
    std::vector<int64_t>().swap(slot_batch_);
    expiries_ = {};
    // A new grouper rather than Reset(), which keeps the old one's memory.
    if (grouper_ != nullptr) {
      SLUICE_ASSIGN_OR_RAISE(grouper_,
                             Grouper::Make(key_types_, arrow::compute::default_exec_context()));
    }
    return Status::OK();
  }
  if (grouper_ == nullptr) return Status::OK();
  const uint32_t groups = grouper_->num_groups();
  if (groups < kCompactMinimum || live_slots_ * 2 >= groups) return Status::OK();
  std::vector<uint8_t> live(groups);
  for (uint32_t key = 0; key < groups; ++key) live[key] = slot_of_key_[key] != kNoSlot;
  SLUICE_ASSIGN_OR_RAISE(auto rebuilt, RebuildGrouper(*grouper_, key_types_, live, live_slots_));
  const uint32_t* new_id = rebuilt.new_ids.data();
  // Slots stay where they are; only the key ids that name them change.
  std::vector<uint32_t> slot_of_key(live_slots_, kNoSlot);
  int64_t next = 0;
  for (uint32_t key = 0; key < groups; ++key) {
    uint32_t slot = slot_of_key_[key];
    if (slot == kNoSlot) continue;
    slot_of_key[new_id[next]] = slot;
    slot_key_[slot] = new_id[next];
    ++next;
  }
  grouper_ = std::move(rebuilt.grouper);
  slot_of_key_ = std::move(slot_of_key);
  return Status::OK();
}

std::shared_ptr<arrow::Schema> AggregateProcessor::StateSchema() const {
  arrow::FieldVector fields;
  for (int index : settings_.key_indices) fields.push_back(input_->field(index));
  for (size_t i = 0; i < accumulators_.size(); ++i) {
    for (const auto& field : accumulators_[i]->StateFields()) {
      fields.push_back(field->WithName(settings_.aggregates[i].output_name + "." + field->name()));
    }
  }
  fields.push_back(arrow::field("rows", arrow::int64(), false));
  fields.push_back(arrow::field("last_time", arrow::int64(), false));
  return arrow::schema(std::move(fields));
}

Result<state::StateSnapshot> AggregateProcessor::SnapshotState() const {
  // The live keys in key id order, and their slots.
  const auto keys = static_cast<uint32_t>(slot_of_key_.size());
  std::vector<uint8_t> live(keys, 0);
  std::vector<uint32_t> slots;
  std::vector<int64_t> rows;
  std::vector<Timestamp> last_times;
  slots.reserve(live_slots_);
  for (uint32_t key = 0; key < keys; ++key) {
    const uint32_t slot = slot_of_key_[key];
    if (slot == kNoSlot) continue;
    live[key] = 1;
    slots.push_back(slot);
    rows.push_back(slot_rows_[slot]);
    last_times.push_back(slot_last_time_[slot]);
  }
  const auto count = static_cast<int64_t>(slots.size());
  std::vector<std::shared_ptr<arrow::Array>> columns;
  if (grouper_ != nullptr) {
    // GetUniques() builds new arrays, and Filter() copies again: nothing is shared.
    SLUICE_ASSIGN_OR_RAISE(arrow::compute::ExecBatch uniques, grouper_->GetUniques());
    arrow::BooleanBuilder mask;
    SLUICE_RETURN_NOT_OK(mask.AppendValues(live.data(), keys));
    SLUICE_ASSIGN_OR_RAISE(auto mask_array, mask.Finish());
    for (const auto& column : uniques.values) {
      SLUICE_ASSIGN_OR_RAISE(arrow::Datum kept, arrow::compute::Filter(column, mask_array));
      columns.push_back(kept.make_array());
    }
  }
  for (const auto& accumulator : accumulators_) {
    SLUICE_ASSIGN_OR_RAISE(auto saved, accumulator->Save(slots.data(), count));
    for (auto& column : saved) columns.push_back(std::move(column));
  }
  SLUICE_ASSIGN_OR_RAISE(auto row_array, CopyInt64Column(rows.data(), count));
  columns.push_back(std::move(row_array));
  SLUICE_ASSIGN_OR_RAISE(auto last_time_array, CopyInt64Column(last_times.data(), count));
  columns.push_back(std::move(last_time_array));
  auto groups = arrow::RecordBatch::Make(StateSchema(), count, std::move(columns));
  SLUICE_RETURN_NOT_OK(groups->Validate());

  state::StateSnapshot snapshot;
  SLUICE_ASSIGN_OR_RAISE(auto table, arrow::Table::FromRecordBatches({groups}));
  snapshot.tables.emplace_back("groups", std::move(table));
  snapshot.values["next_sequence"] = std::to_string(next_sequence_);
  snapshot.values["batch_number"] = std::to_string(batch_number_);
  return snapshot;
}

Status AggregateProcessor::RestoreState(const state::StateSnapshot& snapshot) {
  SLUICE_ASSIGN_OR_RAISE(auto groups, ReadStateTable(snapshot, "groups", *StateSchema()));
  const int64_t count = groups->num_rows();
  const int columns = groups->num_columns();
  SLUICE_ASSIGN_OR_RAISE(const int64_t* rows, StateInt64Values(*groups, columns - 2));
  SLUICE_ASSIGN_OR_RAISE(const Timestamp* last_times, StateInt64Values(*groups, columns - 1));
  SLUICE_ASSIGN_OR_RAISE(next_sequence_, ReadStateInteger(snapshot, "next_sequence"));
  SLUICE_ASSIGN_OR_RAISE(batch_number_, ReadStateInteger(snapshot, "batch_number"));
  const auto key_count = static_cast<int>(settings_.key_indices.size());
  if (grouper_ == nullptr ? count > 1 : count > std::numeric_limits<uint32_t>::max() / 2) {
    return Status::IOError("the aggregate state holds ", count, " groups");
  }
  // Group i goes to slot i; its key gets the id the grouper gives it.
  std::vector<uint32_t> key_ids(count, 0);
  if (grouper_ != nullptr) {
    SLUICE_ASSIGN_OR_RAISE(grouper_,
                           Grouper::Make(key_types_, arrow::compute::default_exec_context()));
    SLUICE_ASSIGN_OR_RAISE(key_ids, RestoreKeys(*grouper_, *groups, key_count));
  }

  // The capacity grows as AllocateSlot() grows it.
  const auto slots = static_cast<uint32_t>(count);
  capacity_ = 0;
  while (capacity_ < slots) capacity_ = std::max<uint32_t>(64, capacity_ * 2);
  std::vector<uint32_t> identity(slots);
  std::iota(identity.begin(), identity.end(), 0);
  int next_column = key_count;
  for (auto& accumulator : accumulators_) {
    accumulator->Clear();
    if (capacity_ > 0) accumulator->Resize(capacity_);
    const auto width = static_cast<int>(accumulator->StateFields().size());
    const auto first = groups->columns().begin() + next_column;
    std::vector<std::shared_ptr<arrow::Array>> state(first, first + width);
    next_column += width;
    SLUICE_RETURN_NOT_OK(accumulator->Load(state, identity.data()));
  }
  // Without group_by the one group, when live, is key 0 in slot 0.
  slot_of_key_.assign(count, kNoSlot);
  for (uint32_t slot = 0; slot < slots; ++slot) slot_of_key_[key_ids[slot]] = slot;
  slot_key_ = std::move(key_ids);
  free_slots_.clear();
  live_slots_ = slots;
  slot_rows_.assign(rows, rows + count);
  slot_last_time_.assign(last_times, last_times + count);
  // Every slot was last changed by an earlier batch.
  slot_batch_.assign(slots, -1);
  std::vector<Expiry> expiries;
  if (settings_.ttl > 0) {
    for (uint32_t slot = 0; slot < slots; ++slot) {
      // A slot whose time never moved has no entry (see Process()).
      if (slot_last_time_[slot] != exec::kMinTimestamp)
        expiries.push_back(Expiry{slot_last_time_[slot], slot});
    }
  }
  expiries_ = decltype(expiries_)(std::greater<Expiry>(), std::move(expiries));
  return Status::OK();
}

int64_t AggregateProcessor::state_bytes() const {
  if (slot_key_.empty() && slot_of_key_.empty()) return 0;
  int64_t bytes = 0;
  for (const auto& accumulator : accumulators_) bytes += accumulator->state_bytes();
  bytes += static_cast<int64_t>(slot_key_.capacity() *
                                (sizeof(uint32_t) + 2 * sizeof(int64_t) + sizeof(Timestamp)));
  bytes +=
      static_cast<int64_t>((slot_of_key_.capacity() + free_slots_.capacity()) * sizeof(uint32_t));
  bytes += static_cast<int64_t>(expiries_.size() * sizeof(Expiry));
  bytes += static_cast<int64_t>(slot_of_key_.size()) * kBytesPerKey;
  return bytes;
}

// ---------------------------------------------------------------------------------------
// Configuration.

Result<AggregateSettings> ReadSettings(const exec::ProcessorContext& context,
                                       const config::Options& options, const arrow::Schema& input) {
  AggregateSettings settings;
  aggregates::ColumnNames names("aggregate");
  SLUICE_ASSIGN_OR_RAISE(settings.key_indices, aggregates::ReadGroupBy(options, input, &names));
  SLUICE_ASSIGN_OR_RAISE(settings.aggregates, aggregates::ReadAggregates(options, input, &names));
  SLUICE_RETURN_NOT_OK(names.Claim("count", options.LocationOf("aggregate")));
  if (options.Has("ttl")) {
    settings.ttl = exec::Micros(options.GetDuration("ttl"));
    // Event time when the input carries the event-time field, else processing time.
    int index =
        context.event_time_field.empty() ? -1 : input.GetFieldIndex(context.event_time_field);
    if (index >= 0) {
      const auto& type = *input.field(index)->type();
      if (type.id() == arrow::Type::TIMESTAMP &&
          static_cast<const arrow::TimestampType&>(type).unit() == arrow::TimeUnit::MICRO) {
        settings.time_index = index;
      }
    }
  }
  return settings;
}

/// The key fields, marked `sluice.key: "true"`, the aggregate columns and `count`; the schema's
/// `sluice.upsert_key` names the key fields (comma-separated; empty for a single group).
std::shared_ptr<arrow::Schema> OutputSchema(const AggregateSettings& settings,
                                            const arrow::Schema& input) {
  std::vector<std::shared_ptr<arrow::Field>> fields;
  std::vector<std::string> key_names;
  auto key_metadata = arrow::key_value_metadata({"sluice.key"}, {"true"});
  for (int index : settings.key_indices) {
    fields.push_back(input.field(index)->WithMergedMetadata(key_metadata));
    key_names.push_back(input.field(index)->name());
  }
  for (auto& field : aggregates::AggregateFields(settings.aggregates, input))
    fields.push_back(std::move(field));
  fields.push_back(arrow::field("count", arrow::int64(), false));
  return arrow::schema(std::move(fields),
                       arrow::key_value_metadata({"sluice.upsert_key"},
                                                 {fmt::format("{}", fmt::join(key_names, ","))}));
}

}  // namespace

void RegisterAggregate(exec::Registry* registry) {
  config::PluginSpec spec;
  spec.name = "aggregate";
  spec.doc =
      "Keeps running aggregates per group, without windows: after each input batch it emits one "
      "row per group the batch changed, with the group's values so far (an upsert stream: a "
      "later row of a group supersedes the earlier ones). Columns: the group_by keys (marked "
      "sluice.key in the field metadata and named by the schema's sluice.upsert_key), "
      "<field>_<function> per aggregate, and count (the group's rows). first, last and ema "
      "follow input order.";
  config::OptionSpec group_by = aggregates::GroupByOption(
      "Fields that key the running aggregates, and the upsert key of the output; none: one "
      "group of every row.");
  config::OptionSpec aggregate = aggregates::AggregateOption();
  config::OptionSpec ttl = config::MakeOption(
      "ttl", config::OptionType::kDuration,
      "Drop a group whose last update is this old: by event time (the watermark minus the "
      "group's latest event time) when the input has the event-time field, else by processing "
      "time. A dropped group seen again starts afresh. Without it, groups are kept for ever.");
  ttl.min = 1;
  spec.options = {group_by, aggregate, ttl};
  spec.example =
      "- aggregate:\n"
      "    group_by: [symbol]\n"
      "    aggregate: {qty: [sum, count], price: [last, max]}\n"
      "    ttl: 1h";
  registry->AddProcessor(
      std::move(spec),
      [](const exec::ProcessorContext& context, const config::Options& options,
         const std::shared_ptr<arrow::Schema>& input) -> Result<std::unique_ptr<exec::Processor>> {
        SLUICE_ASSIGN_OR_RAISE(AggregateSettings settings, ReadSettings(context, options, *input));
        std::unique_ptr<Grouper> grouper;
        if (!settings.key_indices.empty()) {
          std::vector<arrow::TypeHolder> types;
          for (int index : settings.key_indices) types.emplace_back(input->field(index)->type());
          auto made = Grouper::Make(types, arrow::compute::default_exec_context());
          if (!made.ok()) {
            return config::ConfigError(options.LocationOf("group_by"),
                                       "these fields cannot key an aggregate",
                                       made.status().message());
          }
          grouper = std::move(*made);
        }
        auto output = OutputSchema(settings, *input);
        return std::make_unique<AggregateProcessor>(std::move(settings), context, input,
                                                    std::move(output), std::move(grouper));
      });
}

}  // namespace sluice::processors
