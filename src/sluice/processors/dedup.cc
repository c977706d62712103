#include "sluice/processors/dedup.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/compute/row/grouper.h>
#include <arrow/util/byte_size.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <queue>
#include <set>

#include "sluice/common/logging.h"
#include "sluice/common/spelling.h"
#include "sluice/processors/grouper_rebuild.h"
#include "sluice/processors/state_tables.h"

namespace sluice::processors {
namespace {

using arrow::compute::Grouper;
using exec::Timestamp;
using exec::WallClockNow;

/// Below this many keys a grouper is never rebuilt: rebuilding costs more than it frees.
constexpr uint32_t kCompactMinimum = 4096;

/// Rough bytes a grouper spends per key besides the key itself (hash slot, row offsets).
constexpr int64_t kBytesPerKeySlot = 24;

/// Drops rows whose key was already seen within a span of event time.
///
/// Keys are mapped to dense ids by an Arrow Grouper, which compares whole key values (not just
/// hashes) and treats NULL as a value of its own, one batch at a time. The state per id is the
/// event time of the occurrence that passed; a min-heap of expiry times frees keys when the
/// watermark passes them. The grouper cannot forget single keys, so it is rebuilt from the live
/// keys once more than half of the keys it holds have expired. Driven by one thread.
///
/// A checkpoint holds the live keys (one row each, with the time of the occurrence that passed)
/// and the counters; the expiry heap is rebuilt from the times, and the dead keys are left out,
/// so a restored stage starts with a compact grouper.
class DedupProcessor final : public exec::Processor {
 public:
  DedupProcessor(exec::ProcessorContext context, std::shared_ptr<arrow::Schema> schema,
                 std::vector<int> key_columns, int time_column, Timestamp within,
                 std::unique_ptr<Grouper> grouper)
      : context_(std::move(context)),
        schema_(std::move(schema)),
        key_columns_(std::move(key_columns)),
        time_column_(time_column),
        within_(within),
        grouper_(std::move(grouper)) {
    for (int column : key_columns_) key_types_.emplace_back(schema_->field(column)->type());
  }

  std::shared_ptr<arrow::Schema> output_schema() const override { return schema_; }
  bool stateless() const override { return false; }

  int64_t state_bytes() const override {
    return static_cast<int64_t>(grouper_->num_groups()) * (key_bytes_per_row_ + kBytesPerKeySlot) +
           static_cast<int64_t>(first_seen_.capacity() * sizeof(Timestamp) + alive_.capacity()) +
           static_cast<int64_t>(expiries_.size() * sizeof(Expiry));
  }

  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter& out) override {
    const int64_t rows = batch->num_rows();
    if (rows == 0) return Status::OK();
    SLUICE_ASSIGN_OR_RAISE(auto ids, ConsumeKeys(*batch));
    const uint32_t* key = ids->data()->GetValues<uint32_t>(1);
    first_seen_.resize(grouper_->num_groups(), 0);
    alive_.resize(grouper_->num_groups(), 0);

    const arrow::TimestampArray* times = nullptr;
    if (time_column_ >= 0)
      times = static_cast<const arrow::TimestampArray*>(batch->column(time_column_).get());
    const Timestamp now = times == nullptr ? WallClockNow() : 0;

    const exec::LatenessWatermarks limits(context_, exec::kMinTimestamp);
    std::vector<uint8_t> keep(rows, 0);
    int64_t kept = 0;
    for (int64_t row = 0; row < rows; ++row) {
      if (times != nullptr && times->IsNull(row)) {
        context_.dead_letters->Add(exec::DeadLetter{"missing event time", "dedup", "", "",
                                                    exec::RowToJson(*batch, row), row});
        continue;
      }
      const Timestamp time = times != nullptr ? times->Value(row) : now;
      const uint32_t id = key[row];
      // An occurrence whose span ended before the watermark this row is judged against is as
      // good as forgotten, whether or not the watermark has freed it yet: so a row behind its
      // partition's watermark meets the same state whatever the batch boundaries were.
      const Timestamp limit = times != nullptr ? limits[row] : exec::kMinTimestamp;
      if (alive_[id] && time < first_seen_[id] + within_ && first_seen_[id] + within_ >= limit) {
        ++dropped_;
        continue;
      }
      // A first occurrence, or one after the span of the last kept occurrence ran out.
      if (!alive_[id]) {
        alive_[id] = 1;
        ++live_;
      }
      first_seen_[id] = time;
      expiries_.push(Expiry{time + within_, id});
      keep[row] = 1;
      ++kept;
    }
    rows_in_ += rows;
    if (kept == rows) return out.Emit(batch);
    if (kept == 0) return Status::OK();
    arrow::BooleanBuilder mask;
    SLUICE_RETURN_NOT_OK(mask.AppendValues(keep.data(), rows));
    SLUICE_ASSIGN_OR_RAISE(auto mask_array, mask.Finish());
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum filtered, arrow::compute::Filter(batch, mask_array));
    return out.Emit(filtered.record_batch());
  }

  Status OnWatermark(Timestamp watermark, exec::Emitter&) override {
    while (!expiries_.empty() && expiries_.top().at < watermark) {
      Expiry expiry = expiries_.top();
      expiries_.pop();
      // A key kept again after its span ran out has a later entry; this one is stale.
      if (alive_[expiry.id] && first_seen_[expiry.id] + within_ == expiry.at) {
        alive_[expiry.id] = 0;
        --live_;
      }
    }
    return Compact();
  }

  bool checkpointable() const override { return true; }
  Result<state::StateSnapshot> SnapshotState() const override;
  Status RestoreState(const state::StateSnapshot& snapshot) override;

  Status Finish(exec::Emitter&) override {
    if (dropped_ > 0 || rows_in_ > 0) {
      ComponentLogger(context_.pipeline_name)
          ->info("dedup dropped {} repeated rows of {} (kept {})", dropped_, rows_in_,
                 rows_in_ - dropped_);
    }
    return Status::OK();
  }

 private:
  struct Expiry {
    Timestamp at;
    uint32_t id;
    bool operator>(const Expiry& other) const { return at > other.at; }
  };

  /// The layout of the state table: the key fields, then `first_seen`.
  std::shared_ptr<arrow::Schema> StateSchema() const {
    arrow::FieldVector fields;
    for (int column : key_columns_) fields.push_back(schema_->field(column));
    fields.push_back(arrow::field("first_seen", arrow::int64(), false));
    return arrow::schema(std::move(fields));
  }

  Result<std::shared_ptr<arrow::UInt32Array>> ConsumeKeys(const arrow::RecordBatch& batch) {
    std::vector<arrow::Datum> keys;
    int64_t bytes = 0;
    for (int column : key_columns_) {
      keys.emplace_back(batch.column(column));
      SLUICE_ASSIGN_OR_RAISE(int64_t column_bytes,
                             arrow::util::ReferencedBufferSize(*batch.column(column)));
      bytes += column_bytes;
    }
    // A running average: the grouper cannot say how much memory it holds.
    key_rows_ += batch.num_rows();
    key_bytes_ += bytes;
    key_bytes_per_row_ = key_bytes_ / std::max<int64_t>(key_rows_, 1);
    arrow::compute::ExecBatch exec_batch(std::move(keys), batch.num_rows());
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum ids,
                           grouper_->Consume(arrow::compute::ExecSpan(exec_batch)));
    return std::static_pointer_cast<arrow::UInt32Array>(ids.make_array());
  }

  /// Frees what expired keys still hold: everything when no key is live, otherwise a rebuilt
  /// grouper once most of its keys are dead.
  Status Compact() {
    const uint32_t groups = grouper_->num_groups();
    if (live_ == 0) {
      // A new grouper rather than Reset(), which keeps the old one's memory.
      if (groups > 0) {
        SLUICE_ASSIGN_OR_RAISE(grouper_,
                               Grouper::Make(key_types_, arrow::compute::default_exec_context()));
      }
      first_seen_ = std::vector<Timestamp>();
      alive_ = std::vector<uint8_t>();
      expiries_ = {};
      return Status::OK();
    }
    if (groups < kCompactMinimum || live_ * 2 >= static_cast<int64_t>(groups)) return Status::OK();
    SLUICE_ASSIGN_OR_RAISE(auto rebuilt, RebuildGrouper(*grouper_, key_types_, alive_, live_));
    const uint32_t* new_id = rebuilt.new_ids.data();
    std::vector<Timestamp> first_seen(live_);
    std::vector<Expiry> expiries;
    expiries.reserve(live_);
    int64_t next = 0;
    for (uint32_t id = 0; id < groups; ++id) {
      if (!alive_[id]) continue;
      first_seen[new_id[next]] = first_seen_[id];
      expiries.push_back(Expiry{first_seen_[id] + within_, new_id[next]});
      ++next;
    }
    grouper_ = std::move(rebuilt.grouper);
    first_seen_ = std::move(first_seen);
    alive_.assign(live_, 1);
    expiries_ = decltype(expiries_)(std::greater<Expiry>(), std::move(expiries));
    return Status::OK();
  }

  exec::ProcessorContext context_;
  std::shared_ptr<arrow::Schema> schema_;
  std::vector<int> key_columns_;
  std::vector<arrow::TypeHolder> key_types_;
  /// The event-time column, or -1 to stamp rows with the wall clock (ingest time).
  int time_column_;
  Timestamp within_;
  std::unique_ptr<Grouper> grouper_;
  /// Per key id: the event time of the last occurrence that passed, and whether it is live.
  std::vector<Timestamp> first_seen_;
  std::vector<uint8_t> alive_;
  int64_t live_ = 0;
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<Expiry>> expiries_;
  int64_t key_rows_ = 0;
  int64_t key_bytes_ = 0;
  int64_t key_bytes_per_row_ = 0;
  int64_t rows_in_ = 0;
  int64_t dropped_ = 0;
};

Result<state::StateSnapshot> DedupProcessor::SnapshotState() const {
  // GetUniques() builds new arrays, and Filter() copies again: nothing is shared with the grouper.
  SLUICE_ASSIGN_OR_RAISE(arrow::compute::ExecBatch uniques, grouper_->GetUniques());
  const uint32_t groups = grouper_->num_groups();
  arrow::BooleanBuilder mask;
  SLUICE_RETURN_NOT_OK(mask.AppendValues(alive_.data(), groups));
  SLUICE_ASSIGN_OR_RAISE(auto mask_array, mask.Finish());
  std::vector<std::shared_ptr<arrow::Array>> columns;
  for (const auto& column : uniques.values) {
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum live, arrow::compute::Filter(column, mask_array));
    columns.push_back(live.make_array());
  }
  std::vector<Timestamp> first_seen;
  first_seen.reserve(live_);
  for (uint32_t id = 0; id < groups; ++id) {
    if (alive_[id]) first_seen.push_back(first_seen_[id]);
  }
  const auto count = static_cast<int64_t>(first_seen.size());
  SLUICE_ASSIGN_OR_RAISE(auto first_seen_array, CopyInt64Column(first_seen.data(), count));
  columns.push_back(std::move(first_seen_array));
  auto keys = arrow::RecordBatch::Make(StateSchema(), count, std::move(columns));
  SLUICE_RETURN_NOT_OK(keys->Validate());

  state::StateSnapshot snapshot;
  SLUICE_ASSIGN_OR_RAISE(auto table, arrow::Table::FromRecordBatches({keys}));
  snapshot.tables.emplace_back("keys", std::move(table));
  snapshot.values["rows_in"] = std::to_string(rows_in_);
  snapshot.values["dropped"] = std::to_string(dropped_);
  snapshot.values["key_rows"] = std::to_string(key_rows_);
  snapshot.values["key_bytes"] = std::to_string(key_bytes_);
  return snapshot;
}

Status DedupProcessor::RestoreState(const state::StateSnapshot& snapshot) {
  SLUICE_ASSIGN_OR_RAISE(auto keys, ReadStateTable(snapshot, "keys", *StateSchema()));
  const int64_t rows = keys->num_rows();
  const auto key_count = static_cast<int>(key_columns_.size());
  SLUICE_ASSIGN_OR_RAISE(const Timestamp* first_seen, StateInt64Values(*keys, key_count));
  SLUICE_ASSIGN_OR_RAISE(rows_in_, ReadStateInteger(snapshot, "rows_in"));
  SLUICE_ASSIGN_OR_RAISE(dropped_, ReadStateInteger(snapshot, "dropped"));
  SLUICE_ASSIGN_OR_RAISE(key_rows_, ReadStateInteger(snapshot, "key_rows"));
  SLUICE_ASSIGN_OR_RAISE(key_bytes_, ReadStateInteger(snapshot, "key_bytes"));
  key_bytes_per_row_ = key_bytes_ / std::max<int64_t>(key_rows_, 1);

  SLUICE_ASSIGN_OR_RAISE(grouper_,
                         Grouper::Make(key_types_, arrow::compute::default_exec_context()));
  SLUICE_ASSIGN_OR_RAISE(std::vector<uint32_t> ids, RestoreKeys(*grouper_, *keys, key_count));
  first_seen_.assign(rows, 0);
  alive_.assign(rows, 1);
  live_ = rows;
  std::vector<Expiry> expiries;
  expiries.reserve(rows);
  for (int64_t row = 0; row < rows; ++row) {
    first_seen_[ids[row]] = first_seen[row];
    expiries.push_back(Expiry{first_seen[row] + within_, ids[row]});
  }
  expiries_ = decltype(expiries_)(std::greater<Expiry>(), std::move(expiries));
  return Status::OK();
}

}  // namespace

void RegisterDedup(exec::Registry* registry) {
  config::PluginSpec spec;
  spec.name = "dedup";
  spec.doc =
      "Drops rows whose key was already seen within a span of event time: the first occurrence "
      "passes, "
      "repeats within `within` of it are dropped. Keys compare exactly; NULL key values form a key "
      "like any "
      "other value. A key is forgotten once the watermark passes its first occurrence plus "
      "`within`; under "
      "ingest time, arrival time is used instead of event time.";
  config::OptionSpec key{
      "key", config::OptionType::kStringList,
      "The fields that together identify a row; rows with equal values in all of them are repeats.",
      "", true};
  config::OptionSpec within{
      "within", config::OptionType::kDuration,
      "How long after a key's first occurrence its repeats are dropped (a span of event time).", "",
      true};
  within.min = 1;
  spec.options = {key, within};
  spec.example = "- dedup: {key: [order_id], within: 10m}";
  registry->AddProcessor(
      std::move(spec),
      [](const exec::ProcessorContext& context, const config::Options& options,
         const std::shared_ptr<arrow::Schema>& input) -> Result<std::unique_ptr<exec::Processor>> {
        std::vector<int> key_columns;
        std::vector<arrow::TypeHolder> key_types;
        std::set<std::string> seen;
        for (const auto& name : options.GetStringList("key")) {
          int index = input->GetFieldIndex(name);
          if (index < 0) {
            return config::ConfigError(options.LocationOf("key"),
                                       fmt::format("unknown key field '{}'", name),
                                       SpellingHint(name, input->field_names()));
          }
          if (!seen.insert(name).second) {
            return config::ConfigError(options.LocationOf("key"),
                                       fmt::format("key field '{}' is listed twice", name));
          }
          key_columns.push_back(index);
          key_types.emplace_back(input->field(index)->type());
        }
        if (key_columns.empty()) {
          return config::ConfigError(options.LocationOf("key"),
                                     "dedup needs at least one key field", "e.g. key: [order_id]");
        }
        auto grouper = Grouper::Make(key_types, arrow::compute::default_exec_context());
        if (!grouper.ok()) {
          return config::ConfigError(
              options.LocationOf("key"),
              fmt::format("these key fields cannot be compared: {}", grouper.status().message()),
              "use fields of simple types (numbers, strings, timestamps, booleans)");
        }
        int time_column = -1;
        if (!context.event_time_field.empty()) {
          time_column = input->GetFieldIndex(context.event_time_field);
          if (time_column < 0) {
            return config::ConfigError(options.where(),
                                       fmt::format("dedup measures time by the event-time field "
                                                   "'{}', which an earlier stage removed",
                                                   context.event_time_field),
                                       "keep the event-time field up to this stage");
          }
          if (input->field(time_column)->type()->id() != arrow::Type::TIMESTAMP) {
            return config::ConfigError(
                options.where(),
                fmt::format("the event-time field '{}' is no longer a timestamp here",
                            context.event_time_field),
                "derive it under another name instead of replacing it");
          }
        }
        Timestamp within =
            std::chrono::duration_cast<std::chrono::microseconds>(options.GetDuration("within"))
                .count();
        return std::make_unique<DedupProcessor>(context, input, std::move(key_columns), time_column,
                                                within, std::move(*grouper));
      });
}

}  // namespace sluice::processors
