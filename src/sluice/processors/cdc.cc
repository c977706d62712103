#include "sluice/processors/cdc.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/compute/row/grouper.h>
#include <arrow/util/byte_size.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <limits>
#include <optional>
#include <queue>
#include <set>

#include "sluice/common/spelling.h"
#include "sluice/processors/state_tables.h"

namespace sluice::processors {
namespace {

using arrow::compute::Grouper;
using exec::Timestamp;
using exec::WallClockNow;

/// Below this many entries a grouper is never rebuilt: rebuilding costs more than it frees.
constexpr uint32_t kCompactMinimum = 4096;

/// Rough bytes a grouper spends per entry besides the values themselves.
constexpr int64_t kBytesPerSlot = 24;

/// Marks "no value id": a key whose last emitted row is unknown.
constexpr uint32_t kNoValue = std::numeric_limits<uint32_t>::max();

/// Maps rows of some columns to dense ids, exactly (whole values, NULL as a value), across
/// batches; and can be rebuilt keeping only chosen ids, since an Arrow Grouper cannot forget.
class ValueIds {
 public:
  ValueIds(std::vector<int> columns, std::vector<arrow::TypeHolder> types,
           std::unique_ptr<Grouper> grouper)
      : columns_(std::move(columns)), types_(std::move(types)), grouper_(std::move(grouper)) {}

  uint32_t size() const { return grouper_->num_groups(); }
  int64_t bytes() const { return static_cast<int64_t>(size()) * (bytes_per_row_ + kBytesPerSlot); }

  Result<std::shared_ptr<arrow::UInt32Array>> Consume(const arrow::RecordBatch& batch) {
    std::vector<arrow::Datum> values;
    int64_t bytes = 0;
    for (int column : columns_) {
      values.emplace_back(batch.column(column));
      SLUICE_ASSIGN_OR_RAISE(int64_t column_bytes,
                             arrow::util::ReferencedBufferSize(*batch.column(column)));
      bytes += column_bytes;
    }
    rows_ += batch.num_rows();
    total_bytes_ += bytes;
    bytes_per_row_ = total_bytes_ / std::max<int64_t>(rows_, 1);
    return ConsumeValues(std::move(values), batch.num_rows());
  }

  /// The ids of `rows` rows whose tracked columns are `values`, in order (for a restore, which
  /// has the values without the rest of the row). Leaves the size statistics alone.
  Result<std::shared_ptr<arrow::UInt32Array>> ConsumeValues(std::vector<arrow::Datum> values,
                                                            int64_t rows) {
    arrow::compute::ExecBatch exec_batch(std::move(values), rows);
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum ids,
                           grouper_->Consume(arrow::compute::ExecSpan(exec_batch)));
    return std::static_pointer_cast<arrow::UInt32Array>(ids.make_array());
  }

  /// The rows and bytes seen, from which bytes() estimates the size of a value.
  int64_t rows_seen() const { return rows_; }
  int64_t bytes_seen() const { return total_bytes_; }
  void SetSeen(int64_t rows, int64_t bytes) {
    rows_ = rows;
    total_bytes_ = bytes;
    bytes_per_row_ = total_bytes_ / std::max<int64_t>(rows_, 1);
  }

  /// The values of every id, one column per tracked column, in id order.
  Result<arrow::compute::ExecBatch> Values() { return grouper_->GetUniques(); }

  /// Forgets every id.
  Status Clear() {
    if (size() == 0) return Status::OK();
    // A new grouper rather than Reset(), which keeps the old one's memory.
    SLUICE_ASSIGN_OR_RAISE(grouper_, Grouper::Make(types_, arrow::compute::default_exec_context()));
    return Status::OK();
  }

  /// Keeps only the ids marked in `keep` (size() entries) and returns the new id of each old
  /// one (kNoValue for the dropped).
  Result<std::vector<uint32_t>> Retain(const std::vector<uint8_t>& keep) {
    SLUICE_ASSIGN_OR_RAISE(arrow::compute::ExecBatch uniques, grouper_->GetUniques());
    arrow::BooleanBuilder mask;
    SLUICE_RETURN_NOT_OK(mask.AppendValues(keep.data(), static_cast<int64_t>(keep.size())));
    SLUICE_ASSIGN_OR_RAISE(auto mask_array, mask.Finish());
    std::vector<arrow::Datum> kept_values;
    int64_t kept_rows = 0;
    for (const auto& column : uniques.values) {
      SLUICE_ASSIGN_OR_RAISE(arrow::Datum kept, arrow::compute::Filter(column, mask_array));
      kept_rows = kept.length();
      kept_values.push_back(std::move(kept));
    }
    arrow::compute::ExecBatch kept_batch(std::move(kept_values), kept_rows);
    SLUICE_ASSIGN_OR_RAISE(auto fresh,
                           Grouper::Make(types_, arrow::compute::default_exec_context()));
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum new_ids,
                           fresh->Consume(arrow::compute::ExecSpan(kept_batch)));
    const uint32_t* new_id = new_ids.array()->GetValues<uint32_t>(1);
    std::vector<uint32_t> remap(keep.size(), kNoValue);
    int64_t next = 0;
    for (size_t id = 0; id < keep.size(); ++id) {
      if (keep[id]) remap[id] = new_id[next++];
    }
    grouper_ = std::move(fresh);
    return remap;
  }

 private:
  std::vector<int> columns_;
  std::vector<arrow::TypeHolder> types_;
  std::unique_ptr<Grouper> grouper_;
  int64_t rows_ = 0;
  int64_t total_bytes_ = 0;
  int64_t bytes_per_row_ = 0;
};

/// Emits a row only when one of its tracked fields differs from the last row emitted for its
/// key (change data capture, "send on delta").
///
/// Both the keys and the tracked values are turned into dense ids by exact groupers, so that
/// "did it change" is an integer comparison per row: rows whose tracked values are equal get
/// the same value id. The state per key is the value id of its last emitted row (and, with a
/// ttl, when it was last seen). Value ids no key refers to any more are dropped by rebuilding
/// the value grouper once they are the majority. Driven by one thread.
///
/// A checkpoint holds one row per key that is still known: its key fields, the tracked values
/// of its last emitted row and when it was last seen. The expiry heap is rebuilt from those
/// times: a known key has exactly one entry, due no later than its last time plus the ttl, and
/// is forgotten in the first OnWatermark() past that time wherever its entry stands.
class CdcProcessor final : public exec::Processor {
 public:
  struct Settings {
    std::vector<int> key_columns;
    std::vector<int> tracked_columns;
    bool emit_previous = false;
    /// 0: keys are never forgotten.
    Timestamp ttl = 0;
    /// The event-time column, or -1 for the wall clock; only read with a ttl.
    int time_column = -1;
  };

  CdcProcessor(exec::ProcessorContext context, std::shared_ptr<arrow::Schema> schema,
               Settings settings, std::unique_ptr<ValueIds> keys, std::unique_ptr<ValueIds> values)
      : context_(std::move(context)),
        schema_(std::move(schema)),
        settings_(std::move(settings)),
        keys_(std::move(keys)),
        values_(std::move(values)) {}

  std::shared_ptr<arrow::Schema> output_schema() const override { return schema_; }
  bool stateless() const override { return false; }

  int64_t state_bytes() const override {
    return keys_->bytes() + values_->bytes() +
           static_cast<int64_t>(last_value_.capacity() * sizeof(uint32_t) +
                                last_seen_.capacity() * sizeof(Timestamp) +
                                expiries_.size() * sizeof(Expiry));
  }

  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter& out) override {
    const int64_t rows = batch->num_rows();
    if (rows == 0) return Status::OK();
    SLUICE_ASSIGN_OR_RAISE(auto key_ids, keys_->Consume(*batch));
    SLUICE_ASSIGN_OR_RAISE(auto value_ids, values_->Consume(*batch));
    const uint32_t* key = key_ids->raw_values();
    const uint32_t* value = value_ids->raw_values();
    last_value_.resize(keys_->size(), kNoValue);
    if (settings_.ttl > 0) last_seen_.resize(keys_->size(), 0);

    const arrow::TimestampArray* times = nullptr;
    Timestamp now = 0;
    if (settings_.ttl > 0) {
      if (settings_.time_column >= 0) {
        times =
            static_cast<const arrow::TimestampArray*>(batch->column(settings_.time_column).get());
      } else {
        now = WallClockNow();
      }
    }

    std::vector<uint8_t> emit(rows, 0);
    std::vector<uint32_t> previous;  // per emitted row: the value id it replaces, or kNoValue
    int64_t emitted = 0;
    for (int64_t row = 0; row < rows; ++row) {
      const uint32_t id = key[row];
      if (settings_.ttl > 0) {
        if (times != nullptr && times->IsNull(row)) {
          context_.dead_letters->Add(exec::DeadLetter{"missing event time", "cdc", "", "",
                                                      exec::RowToJson(*batch, row), row});
          continue;
        }
        const Timestamp time = times != nullptr ? times->Value(row) : now;
        if (last_value_[id] == kNoValue) {
          last_seen_[id] = time;
          expiries_.push(Expiry{time + settings_.ttl, id});
        } else if (time >= last_seen_[id] + settings_.ttl) {
          // Not seen for the ttl: forgotten, even if the watermark has not freed it yet. Its
          // pending expiry stays queued and moves on to the new time when it comes up.
          Forget(id);
          last_seen_[id] = time;
        } else {
          last_seen_[id] = std::max(last_seen_[id], time);
        }
      }
      if (last_value_[id] == value[row]) continue;
      if (last_value_[id] == kNoValue) ++live_keys_;
      emit[row] = 1;
      ++emitted;
      if (settings_.emit_previous) previous.push_back(last_value_[id]);
      last_value_[id] = value[row];
    }

    if (emitted > 0) {
      std::shared_ptr<arrow::RecordBatch> changed = batch;
      if (emitted < rows) {
        arrow::BooleanBuilder mask;
        SLUICE_RETURN_NOT_OK(mask.AppendValues(emit.data(), rows));
        SLUICE_ASSIGN_OR_RAISE(auto mask_array, mask.Finish());
        SLUICE_ASSIGN_OR_RAISE(arrow::Datum filtered, arrow::compute::Filter(batch, mask_array));
        changed = filtered.record_batch();
      }
      if (settings_.emit_previous) {
        SLUICE_ASSIGN_OR_RAISE(changed, AddPrevious(changed, previous));
      }
      SLUICE_RETURN_NOT_OK(out.Emit(std::move(changed)));
    }
    return CompactValues();
  }

  Status OnWatermark(Timestamp watermark, exec::Emitter&) override {
    if (settings_.ttl == 0) return Status::OK();
    bool forgot = false;
    while (!expiries_.empty() && expiries_.top().at < watermark) {
      Expiry expiry = expiries_.top();
      expiries_.pop();
      if (last_value_[expiry.id] == kNoValue) continue;
      const Timestamp due = last_seen_[expiry.id] + settings_.ttl;
      if (due > expiry.at) {
        expiries_.push(Expiry{due, expiry.id});  // seen again since: wait for the later time
        continue;
      }
      Forget(expiry.id);
      forgot = true;
    }
    if (!forgot) return Status::OK();
    if (live_keys_ == 0) return Clear();
    SLUICE_RETURN_NOT_OK(CompactKeys());
    return CompactValues();
  }

  bool checkpointable() const override { return true; }
  Result<state::StateSnapshot> SnapshotState() const override;
  Status RestoreState(const state::StateSnapshot& snapshot) override;

  Status Finish(exec::Emitter&) override {
    // No row follows: nothing can change any more, so the state is of no further use.
    return Clear();
  }

 private:
  struct Expiry {
    Timestamp at;
    uint32_t id;
    bool operator>(const Expiry& other) const { return at > other.at; }
  };

  /// The layout of the state table: the key fields, `last.<field>` per tracked field (the
  /// values of the key's last emitted row), and `last_seen` (0 without a ttl).
  std::shared_ptr<arrow::Schema> StateSchema() const {
    arrow::FieldVector fields;
    for (int column : settings_.key_columns) fields.push_back(schema_->field(column));
    for (int column : settings_.tracked_columns) {
      fields.push_back(schema_->field(column)->WithName("last." + schema_->field(column)->name()));
    }
    fields.push_back(arrow::field("last_seen", arrow::int64(), false));
    return arrow::schema(std::move(fields));
  }

  void Forget(uint32_t id) {
    if (last_value_[id] == kNoValue) return;
    last_value_[id] = kNoValue;
    --live_keys_;
  }

  /// Appends previous_<field> columns: the tracked values of the row each emitted row replaces.
  Result<std::shared_ptr<arrow::RecordBatch>> AddPrevious(
      std::shared_ptr<arrow::RecordBatch> changed, const std::vector<uint32_t>& previous) {
    arrow::UInt32Builder indices;
    bool any = false;
    SLUICE_RETURN_NOT_OK(indices.Reserve(static_cast<int64_t>(previous.size())));
    for (uint32_t id : previous) {
      if (id == kNoValue) {
        indices.UnsafeAppendNull();
      } else {
        indices.UnsafeAppend(id);
        any = true;
      }
    }
    SLUICE_ASSIGN_OR_RAISE(auto index_array, indices.Finish());
    std::optional<arrow::compute::ExecBatch> values;
    if (any) {
      SLUICE_ASSIGN_OR_RAISE(values, values_->Values());
    }
    for (size_t i = 0; i < settings_.tracked_columns.size(); ++i) {
      const auto& field = schema_->field(changed->num_columns());
      std::shared_ptr<arrow::Array> column;
      if (values) {
        SLUICE_ASSIGN_OR_RAISE(arrow::Datum taken,
                               arrow::compute::Take(values->values[i], index_array));
        column = taken.make_array();
      } else {
        SLUICE_ASSIGN_OR_RAISE(column, arrow::MakeArrayOfNull(field->type(), changed->num_rows()));
      }
      SLUICE_ASSIGN_OR_RAISE(changed, changed->AddColumn(changed->num_columns(), field, column));
    }
    return changed;
  }

  /// Rebuilds the value grouper once most of its ids belong to no key's last emitted row.
  Status CompactValues() {
    const uint32_t size = values_->size();
    if (size < kCompactMinimum || live_keys_ * 2 >= static_cast<int64_t>(size)) return Status::OK();
    std::vector<uint8_t> used(size, 0);
    for (uint32_t id : last_value_) {
      if (id != kNoValue) used[id] = 1;
    }
    SLUICE_ASSIGN_OR_RAISE(auto remap, values_->Retain(used));
    for (uint32_t& id : last_value_) {
      if (id != kNoValue) id = remap[id];
    }
    return Status::OK();
  }

  /// Rebuilds the key grouper once most of its keys are forgotten (only with a ttl).
  Status CompactKeys() {
    const uint32_t size = keys_->size();
    if (size < kCompactMinimum || live_keys_ * 2 >= static_cast<int64_t>(size)) return Status::OK();
    std::vector<uint8_t> live(size, 0);
    for (uint32_t id = 0; id < size; ++id) live[id] = last_value_[id] != kNoValue;
    SLUICE_ASSIGN_OR_RAISE(auto remap, keys_->Retain(live));
    std::vector<uint32_t> last_value(live_keys_, kNoValue);
    std::vector<Timestamp> last_seen(live_keys_, 0);
    std::vector<Expiry> expiries;
    for (uint32_t id = 0; id < size; ++id) {
      if (!live[id]) continue;
      last_value[remap[id]] = last_value_[id];
      last_seen[remap[id]] = last_seen_[id];
      expiries.push_back(Expiry{last_seen_[id] + settings_.ttl, remap[id]});
    }
    last_value_ = std::move(last_value);
    last_seen_ = std::move(last_seen);
    expiries_ = decltype(expiries_)(std::greater<Expiry>(), std::move(expiries));
    return Status::OK();
  }

  Status Clear() {
    SLUICE_RETURN_NOT_OK(keys_->Clear());
    SLUICE_RETURN_NOT_OK(values_->Clear());
    last_value_ = std::vector<uint32_t>();
    last_seen_ = std::vector<Timestamp>();
    expiries_ = {};
    live_keys_ = 0;
    return Status::OK();
  }

  exec::ProcessorContext context_;
  std::shared_ptr<arrow::Schema> schema_;
  Settings settings_;
  std::unique_ptr<ValueIds> keys_;
  std::unique_ptr<ValueIds> values_;
  /// Per key id: the value id of its last emitted row; kNoValue for a key not (or no longer) known.
  std::vector<uint32_t> last_value_;
  /// Per key id, with a ttl: the latest event time it was seen at.
  std::vector<Timestamp> last_seen_;
  int64_t live_keys_ = 0;
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<Expiry>> expiries_;
};

Result<state::StateSnapshot> CdcProcessor::SnapshotState() const {
  const uint32_t size = keys_->size();
  std::vector<uint8_t> known(size, 0);
  arrow::UInt32Builder value_ids;
  std::vector<Timestamp> last_seen;
  for (uint32_t id = 0; id < size; ++id) {
    if (last_value_[id] == kNoValue) continue;
    known[id] = 1;
    SLUICE_RETURN_NOT_OK(value_ids.Append(last_value_[id]));
    last_seen.push_back(settings_.ttl > 0 ? last_seen_[id] : 0);
  }
  // GetUniques() builds new arrays, and Filter() and Take() copy again: nothing is shared with
  // the groupers.
  std::vector<std::shared_ptr<arrow::Array>> columns;
  SLUICE_ASSIGN_OR_RAISE(arrow::compute::ExecBatch keys, keys_->Values());
  arrow::BooleanBuilder mask;
  SLUICE_RETURN_NOT_OK(mask.AppendValues(known.data(), size));
  SLUICE_ASSIGN_OR_RAISE(auto mask_array, mask.Finish());
  for (const auto& column : keys.values) {
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum kept, arrow::compute::Filter(column, mask_array));
    columns.push_back(kept.make_array());
  }
  SLUICE_ASSIGN_OR_RAISE(arrow::compute::ExecBatch values, values_->Values());
  SLUICE_ASSIGN_OR_RAISE(auto value_id_array, value_ids.Finish());
  for (const auto& column : values.values) {
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum taken, arrow::compute::Take(column, value_id_array));
    columns.push_back(taken.make_array());
  }
  const auto rows = static_cast<int64_t>(last_seen.size());
  SLUICE_ASSIGN_OR_RAISE(auto last_seen_array, CopyInt64Column(last_seen.data(), rows));
  columns.push_back(std::move(last_seen_array));
  auto table = arrow::RecordBatch::Make(StateSchema(), rows, std::move(columns));
  SLUICE_RETURN_NOT_OK(table->Validate());

  state::StateSnapshot snapshot;
  SLUICE_ASSIGN_OR_RAISE(auto keys_table, arrow::Table::FromRecordBatches({table}));
  snapshot.tables.emplace_back("keys", std::move(keys_table));
  snapshot.values["key_rows"] = std::to_string(keys_->rows_seen());
  snapshot.values["key_bytes"] = std::to_string(keys_->bytes_seen());
  snapshot.values["value_rows"] = std::to_string(values_->rows_seen());
  snapshot.values["value_bytes"] = std::to_string(values_->bytes_seen());
  return snapshot;
}

Status CdcProcessor::RestoreState(const state::StateSnapshot& snapshot) {
  SLUICE_ASSIGN_OR_RAISE(auto table, ReadStateTable(snapshot, "keys", *StateSchema()));
  const int64_t rows = table->num_rows();
  const auto key_count = static_cast<int>(settings_.key_columns.size());
  const auto tracked_count = static_cast<int>(settings_.tracked_columns.size());
  SLUICE_ASSIGN_OR_RAISE(const Timestamp* last_seen,
                         StateInt64Values(*table, key_count + tracked_count));
  SLUICE_RETURN_NOT_OK(Clear());
  last_value_.assign(rows, kNoValue);
  if (settings_.ttl > 0) last_seen_.assign(rows, 0);
  std::vector<Expiry> expiries;
  if (rows > 0) {
    // A grouper numbers the keys of a batch in an order of its own: row i gets key_id[i].
    std::vector<arrow::Datum> key_values;
    for (int i = 0; i < key_count; ++i) key_values.emplace_back(table->column(i));
    SLUICE_ASSIGN_OR_RAISE(auto key_ids, keys_->ConsumeValues(std::move(key_values), rows));
    if (keys_->size() != rows) return Status::IOError("the cdc state holds a key more than once");
    std::vector<arrow::Datum> tracked_values;
    for (int i = 0; i < tracked_count; ++i) {
      tracked_values.emplace_back(table->column(key_count + i));
    }
    SLUICE_ASSIGN_OR_RAISE(auto value_ids,
                           values_->ConsumeValues(std::move(tracked_values), rows));
    const uint32_t* key_id = key_ids->raw_values();
    const uint32_t* value_id = value_ids->raw_values();
    for (int64_t row = 0; row < rows; ++row) {
      last_value_[key_id[row]] = value_id[row];
      if (settings_.ttl == 0) continue;
      last_seen_[key_id[row]] = last_seen[row];
      expiries.push_back(Expiry{last_seen[row] + settings_.ttl, key_id[row]});
    }
  }
  live_keys_ = rows;
  expiries_ = decltype(expiries_)(std::greater<Expiry>(), std::move(expiries));
  SLUICE_ASSIGN_OR_RAISE(int64_t key_rows, ReadStateInteger(snapshot, "key_rows"));
  SLUICE_ASSIGN_OR_RAISE(int64_t key_bytes, ReadStateInteger(snapshot, "key_bytes"));
  SLUICE_ASSIGN_OR_RAISE(int64_t value_rows, ReadStateInteger(snapshot, "value_rows"));
  SLUICE_ASSIGN_OR_RAISE(int64_t value_bytes, ReadStateInteger(snapshot, "value_bytes"));
  keys_->SetSeen(key_rows, key_bytes);
  values_->SetSeen(value_rows, value_bytes);
  return Status::OK();
}

Result<std::vector<int>> FindFields(const arrow::Schema& schema,
                                    const std::vector<std::string>& names,
                                    const config::Location& where, std::string_view what) {
  std::vector<int> columns;
  std::set<std::string> seen;
  for (const auto& name : names) {
    int index = schema.GetFieldIndex(name);
    if (index < 0) {
      return config::ConfigError(where, fmt::format("unknown {} field '{}'", what, name),
                                 SpellingHint(name, schema.field_names()));
    }
    if (!seen.insert(name).second) {
      return config::ConfigError(where, fmt::format("{} field '{}' is listed twice", what, name));
    }
    columns.push_back(index);
  }
  return columns;
}

Result<std::unique_ptr<ValueIds>> MakeValueIds(const arrow::Schema& schema,
                                               std::vector<int> columns,
                                               const config::Location& where) {
  std::vector<arrow::TypeHolder> types;
  for (int column : columns) types.emplace_back(schema.field(column)->type());
  auto grouper = Grouper::Make(types, arrow::compute::default_exec_context());
  if (!grouper.ok()) {
    return config::ConfigError(
        where, fmt::format("these fields cannot be compared: {}", grouper.status().message()),
        "use fields of simple types (numbers, strings, timestamps, booleans)");
  }
  return std::make_unique<ValueIds>(std::move(columns), std::move(types), std::move(*grouper));
}

}  // namespace

void RegisterCdc(exec::Registry* registry) {
  config::PluginSpec spec;
  spec.name = "cdc";
  spec.doc =
      "Change data capture (send on delta): emits a row only when one of its tracked fields "
      "differs from the "
      "last row emitted for its key; a key's first row is always emitted. Values compare exactly, "
      "and NULL "
      "as a value (NULL to NULL is no change, NULL to 1 is one).";
  config::OptionSpec key{
      "key", config::OptionType::kStringList,
      "The fields that identify the entity whose changes are tracked (e.g. a symbol or device).",
      "", true};
  config::OptionSpec fields{
      "fields", config::OptionType::kStringList,
      "The tracked fields; when left out, every field except the key and the event time.", ""};
  config::OptionSpec emit_previous{
      "emit_previous", config::OptionType::kBool,
      "Adds a `previous_<field>` column per tracked field with the value last emitted for "
      "the key (NULL on a key's first row).",
      "false"};
  config::OptionSpec ttl{
      "ttl", config::OptionType::kDuration,
      "Forgets a key not seen for this long (event time), so its next row counts as a first "
      "one; when left out, keys are kept for the whole run.",
      ""};
  ttl.min = 1;
  spec.options = {key, fields, emit_previous, ttl};
  spec.example = "- cdc: {key: [symbol], fields: [bid, ask], emit_previous: true, ttl: 1h}";
  registry->AddProcessor(
      std::move(spec),
      [](const exec::ProcessorContext& context, const config::Options& options,
         const std::shared_ptr<arrow::Schema>& input) -> Result<std::unique_ptr<exec::Processor>> {
        SLUICE_ASSIGN_OR_RAISE(auto key_columns, FindFields(*input, options.GetStringList("key"),
                                                            options.LocationOf("key"), "key"));
        if (key_columns.empty()) {
          return config::ConfigError(options.LocationOf("key"), "cdc needs at least one key field",
                                     "e.g. key: [symbol]");
        }
        CdcProcessor::Settings settings;
        if (options.Has("fields")) {
          SLUICE_ASSIGN_OR_RAISE(settings.tracked_columns,
                                 FindFields(*input, options.GetStringList("fields"),
                                            options.LocationOf("fields"), "tracked"));
        } else {
          for (int i = 0; i < input->num_fields(); ++i) {
            bool is_key = std::find(key_columns.begin(), key_columns.end(), i) != key_columns.end();
            if (!is_key && input->field(i)->name() != context.event_time_field)
              settings.tracked_columns.push_back(i);
          }
        }
        if (settings.tracked_columns.empty()) {
          return config::ConfigError(options.LocationOf("fields"), "cdc has no field to track",
                                     "list the fields whose changes matter, e.g. fields: [price]");
        }
        settings.key_columns = key_columns;
        settings.emit_previous = options.GetBool("emit_previous");
        arrow::FieldVector output_fields = input->fields();
        if (settings.emit_previous) {
          for (int column : settings.tracked_columns) {
            const auto& field = input->field(column);
            std::string name = "previous_" + field->name();
            if (input->GetFieldIndex(name) >= 0) {
              return config::ConfigError(options.LocationOf("emit_previous"),
                                         fmt::format("the input already has a field '{}'", name),
                                         "rename or drop it before this stage");
            }
            output_fields.push_back(arrow::field(name, field->type()));
          }
        }
        if (options.Has("ttl")) {
          settings.ttl =
              std::chrono::duration_cast<std::chrono::microseconds>(options.GetDuration("ttl"))
                  .count();
          if (!context.event_time_field.empty()) {
            settings.time_column = input->GetFieldIndex(context.event_time_field);
            if (settings.time_column < 0 ||
                input->field(settings.time_column)->type()->id() != arrow::Type::TIMESTAMP) {
              return config::ConfigError(
                  options.LocationOf("ttl"),
                  fmt::format("a ttl is measured by the event-time field '{}', which is not a "
                              "timestamp at this stage",
                              context.event_time_field),
                  "keep the event-time field up to this stage, or leave out the ttl");
            }
          }
        }
        SLUICE_ASSIGN_OR_RAISE(auto keys,
                               MakeValueIds(*input, key_columns, options.LocationOf("key")));
        SLUICE_ASSIGN_OR_RAISE(auto values, MakeValueIds(*input, settings.tracked_columns,
                                                         options.LocationOf("fields")));
        return std::make_unique<CdcProcessor>(context, arrow::schema(std::move(output_fields)),
                                              std::move(settings), std::move(keys),
                                              std::move(values));
      });
}

}  // namespace sluice::processors
