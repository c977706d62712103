#include "sluice/processors/sql.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/util/byte_size.h>
#include <fmt/format.h>

#include <charconv>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/exec/dead_letter.h"
#include "sluice/exec/time.h"
#include "sluice/processors/sql_query.h"
#include "sluice/processors/window.h"
#include "sluice/state/state_snapshot.h"

namespace sluice::processors {
namespace {

/// The most rows of a result emitted in one batch, once a statement runs over more than one
/// micro-batch (a window, the whole input).
constexpr int64_t kResultBatchRows = 65536;

/// Emits DuckDB's result vectors combined into batches of up to `max_rows` rows.
Status EmitResult(std::vector<std::shared_ptr<arrow::RecordBatch>> batches, int64_t max_rows,
                  exec::Emitter& out) {
  size_t first = 0;
  while (first < batches.size()) {
    size_t last = first;
    int64_t rows = 0;
    while (last < batches.size() && (last == first || rows + batches[last]->num_rows() <= max_rows))
      rows += batches[last++]->num_rows();
    if (last == first + 1) {
      SLUICE_RETURN_NOT_OK(out.Emit(std::move(batches[first])));
    } else {
      std::vector<std::shared_ptr<arrow::RecordBatch>> group(
          std::make_move_iterator(batches.begin() + static_cast<std::ptrdiff_t>(first)),
          std::make_move_iterator(batches.begin() + static_cast<std::ptrdiff_t>(last)));
      SLUICE_ASSIGN_OR_RAISE(auto combined, arrow::ConcatenateRecordBatches(group));
      SLUICE_RETURN_NOT_OK(out.Emit(std::move(combined)));
    }
    first = last;
  }
  return Status::OK();
}

/// The rows a statement ran over when it failed become dead letters with its error: a stateful
/// run cannot be retried on part of its rows. Without a dead-letter queue the error stands.
Status DeadLetterRows(const exec::ProcessorContext& context,
                      const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches,
                      const Status& error, std::string_view over) {
  if (context.dead_letters == nullptr) return error;
  const std::string reason = fmt::format("{} ({})", error.message(), over);
  for (const auto& batch : batches) {
    for (int64_t row = 0; row < batch->num_rows(); ++row)
      context.dead_letters->Add(
          exec::DeadLetter{reason, "sql", "", "", exec::RowToJson(*batch, row)});
  }
  return Status::OK();
}

int64_t BytesOf(const arrow::RecordBatch& batch) {
  auto bytes = arrow::util::ReferencedBufferSize(batch);
  return bytes.ok() ? *bytes : arrow::util::TotalBufferSize(batch);
}

// ---------------------------------------------------------------------------------------
// Checkpoints: the kept batches are handed over as they are (they never change).

/// A snapshot that this step did not make (or that was damaged): the restore fails rather than
/// guess or crash.
Status Damaged(const std::string& what) {
  return Status::IOError("the sql step's checkpoint state is not usable: ", what);
}

/// `batches` as one table of `schema`; a batch that differs from it only in nullability or
/// metadata, which a table does not allow, is relabelled, not copied.
Result<std::shared_ptr<arrow::Table>> TableOf(
    const std::shared_ptr<arrow::Schema>& schema,
    const std::vector<std::shared_ptr<arrow::RecordBatch>>& batches) {
  std::vector<std::shared_ptr<arrow::RecordBatch>> relabelled;
  relabelled.reserve(batches.size());
  for (const auto& batch : batches) {
    relabelled.push_back(batch->schema()->Equals(*schema, false)
                             ? batch
                             : arrow::RecordBatch::Make(schema, batch->num_rows(),
                                                        batch->columns()));
  }
  return arrow::Table::FromRecordBatches(schema, std::move(relabelled));
}

/// The table `name` of `snapshot`, which must hold rows of `schema`.
Result<std::shared_ptr<arrow::Table>> SavedTable(const state::StateSnapshot& snapshot,
                                                const std::string& name,
                                                const arrow::Schema& schema) {
  auto table = snapshot.Table(name);
  if (table == nullptr) return Damaged("it has no table '" + name + "'");
  if (!table->schema()->Equals(schema, false)) {
    return Damaged("its rows have the fields " + table->schema()->ToString() +
                   ", not the input's " + schema.ToString());
  }
  return table;
}

Result<exec::Timestamp> SavedWatermark(const state::StateSnapshot& snapshot) {
  const std::string text = snapshot.Value("watermark");
  exec::Timestamp watermark = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), watermark);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return Damaged("its watermark is '" + text + "'");
  }
  return watermark;
}

/// A row-wise statement, run over each micro-batch on its own: it keeps nothing between batches.
class RowWiseSql final : public exec::Processor {
 public:
  explicit RowWiseSql(std::unique_ptr<SqlQuery> query) : query_(std::move(query)) {}

  std::shared_ptr<arrow::Schema> output_schema() const override { return query_->schema(); }
  bool row_wise() const override { return true; }
  bool preserves_rows() const override { return query_->shape().one_row_per_row; }

  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter& out) override {
    // A failed cast or an overflow on some rows is a data error, which the driver isolates.
    SLUICE_ASSIGN_OR_RAISE(auto result, query_->Run({batch}));
    // One batch per input batch keeps downstream stages working on micro-batches of a useful
    // size, and a row's position known where the statement keeps every row.
    return EmitResult(std::move(result), std::numeric_limits<int64_t>::max(), out);
  }

 private:
  std::unique_ptr<SqlQuery> query_;
};

/// A statement that is not row-wise, without a window, over a bounded input: it keeps every
/// batch and runs once over all of them at the end of the input, so its result is the one
/// DuckDB gives over the whole input, whatever the batch sizes. If it fails (a failed CAST of
/// one row), there is no result to give: the run fails with DuckDB's message. Re-running it
/// without the bad rows would give a result that is not the statement's over the input.
class WholeInputSql final : public exec::Processor {
 public:
  WholeInputSql(std::unique_ptr<SqlQuery> query, exec::ProcessorContext context)
      : query_(std::move(query)), context_(std::move(context)) {}

  std::shared_ptr<arrow::Schema> output_schema() const override { return query_->schema(); }
  bool stateless() const override { return false; }
  int64_t state_bytes() const override { return bytes_; }

  /// A snapshot holds the kept batches (`rows`) and whether the statement has run.
  bool checkpointable() const override { return true; }
  Result<state::StateSnapshot> SnapshotState() const override {
    state::StateSnapshot snapshot;
    snapshot.values["ran"] = ran_ ? "true" : "false";
    SLUICE_ASSIGN_OR_RAISE(auto rows, TableOf(query_->input_schema(), batches_));
    snapshot.tables.emplace_back("rows", std::move(rows));
    return snapshot;
  }
  Status RestoreState(const state::StateSnapshot& snapshot) override {
    const std::string ran = snapshot.Value("ran");
    if (ran != "true" && ran != "false") return Damaged("it does not say whether the step ran");
    ran_ = ran == "true";
    SLUICE_ASSIGN_OR_RAISE(auto rows, SavedTable(snapshot, "rows", *query_->input_schema()));
    arrow::TableBatchReader reader(*rows);
    while (true) {
      std::shared_ptr<arrow::RecordBatch> batch;
      SLUICE_RETURN_NOT_OK(reader.ReadNext(&batch));
      if (batch == nullptr) break;
      if (batch->num_rows() == 0) continue;
      bytes_ += BytesOf(*batch);
      batches_.push_back(std::move(batch));
    }
    return Status::OK();
  }

  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter&) override {
    if (batch->num_rows() == 0) return Status::OK();
    if (ran_) {
      // Only a stage that emits at its Finish() rather than at the final watermark could send
      // rows now; the result is out, so they are refused rather than dropped in silence.
      return DeadLetterRows(context_, {batch}, Status::Invalid("late: the statement has run"),
                            "over the whole input, at its end");
    }
    bytes_ += BytesOf(*batch);
    batches_.push_back(batch);
    return Status::OK();
  }

  /// The final watermark is the end of the input: running then lets later event-time stages
  /// see the result before their own final watermark.
  Status OnWatermark(exec::Timestamp watermark, exec::Emitter& out) override {
    return watermark == exec::kMaxTimestamp ? RunOnce(out) : Status::OK();
  }
  Status Finish(exec::Emitter& out) override { return RunOnce(out); }

 private:
  Status RunOnce(exec::Emitter& out) {
    if (ran_) return Status::OK();
    ran_ = true;
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches = std::move(batches_);
    batches_.clear();
    bytes_ = 0;
    auto result = query_->Run(batches);
    if (!result.ok()) {
      return result.status().WithMessage(
          query_->where().ToString(), ": the sql step failed over the whole input (",
          result.status().message(), ")",
          ": a statement that reads rows together has no result without all of them; guard the "
          "failing expression (TRY_CAST, CASE) or filter the rows before it");
    }
    return EmitResult(std::move(*result), kResultBatchRows, out);
  }

  std::unique_ptr<SqlQuery> query_;
  exec::ProcessorContext context_;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches_;
  int64_t bytes_ = 0;
  bool ran_ = false;
};

/// The time windows of a windowed statement. Times are in microseconds.
struct SqlWindow {
  exec::Timestamp size = 0;
  /// Equal to size for tumbling windows.
  exec::Timestamp slide = 0;
  /// The event-time column of the input; -1 for processing time (the rows' arrival).
  int time_index = -1;
};

/// A statement run over the rows of each time window when the watermark passes the window's
/// end, with the window's bounds as the columns window_start and window_end of `input`.
///
/// The rows are kept as Arrow batches in panes of gcd(size, slide), sliced out of the input
/// batches (zero-copy where a pane's rows are contiguous, as in time-ordered input) so that a
/// row of a sliding window is held once however many windows it is in. A window fires with the
/// panes it covers; a pane goes when the last window holding it has fired. A row whose last
/// window has already fired is late: a dead letter. Used from the pipeline thread only.
class WindowedSql final : public exec::Processor {
 public:
  /// `input`: the schema of the batches it takes, which `input` of the query extends by the
  /// window's bounds.
  WindowedSql(std::unique_ptr<SqlQuery> query, exec::ProcessorContext context, SqlWindow window,
              std::shared_ptr<arrow::Schema> input)
      : query_(std::move(query)),
        input_(std::move(input)),
        context_(std::move(context)),
        window_(window),
        pane_(std::gcd(window.size, window.slide)) {}

  std::shared_ptr<arrow::Schema> output_schema() const override { return query_->schema(); }
  bool stateless() const override { return false; }
  int64_t state_bytes() const override { return bytes_; }
  /// A window's rows stand at its end, the earliest time they can be emitted.
  std::string output_event_time_field() const override {
    auto field = query_->schema()->GetFieldByName("window_end");
    return field != nullptr && field->type()->Equals(*WindowBoundType()) ? "window_end" : "";
  }

  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter& out) override;
  Status OnWatermark(exec::Timestamp watermark, exec::Emitter& out) override;
  Status Finish(exec::Emitter& out) override {
    if (watermark_ != exec::kMaxTimestamp) return OnWatermark(exec::kMaxTimestamp, out);
    return Status::OK();
  }

  /// A snapshot holds the watermark, the panes' batches as they are (`rows`, in pane order) and
  /// one row per batch with its pane and length (`panes`). The windows still to fire follow
  /// from the panes and the watermark.
  bool checkpointable() const override { return true; }
  Result<state::StateSnapshot> SnapshotState() const override;
  Status RestoreState(const state::StateSnapshot& snapshot) override;

  static std::shared_ptr<arrow::DataType> WindowBoundType() {
    return arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  }

 private:
  struct Pane {
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
    int64_t bytes = 0;
  };

  Status Fire(exec::Timestamp start, exec::Emitter& out);
  void Late(const arrow::RecordBatch& batch, int64_t row, exec::Timestamp start);
  /// Registers the windows [s, s + size) covering the pane that starts at `start`: s a multiple
  /// of the slide, from the pane's last window back; those that fired already are not reopened.
  void RegisterWindows(exec::Timestamp start) {
    for (exec::Timestamp s = exec::FloorTo(start, window_.slide);
         s + window_.size >= start + pane_ && s + window_.size > watermark_; s -= window_.slide) {
      windows_.insert(s);
    }
  }

  std::unique_ptr<SqlQuery> query_;
  std::shared_ptr<arrow::Schema> input_;
  exec::ProcessorContext context_;
  SqlWindow window_;
  exec::Timestamp pane_;
  exec::Timestamp watermark_ = exec::kMinTimestamp;
  std::map<exec::Timestamp, Pane> panes_;
  /// The starts of the windows that hold rows and have not fired.
  std::set<exec::Timestamp> windows_;
  int64_t bytes_ = 0;
};

void WindowedSql::Late(const arrow::RecordBatch& batch, int64_t row, exec::Timestamp start) {
  if (context_.dead_letters == nullptr) return;
  context_.dead_letters->Add(
      exec::DeadLetter{fmt::format("late: window [{}, {}) has closed", exec::FormatTimestamp(start),
                                   exec::FormatTimestamp(start + window_.size)),
                       "sql", "", "", exec::RowToJson(batch, row), row});
}

Status WindowedSql::Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter& out) {
  const int64_t rows = batch->num_rows();
  if (rows == 0) return Status::OK();
  std::vector<exec::Timestamp> arrival;
  const exec::Timestamp* times = nullptr;
  if (window_.time_index < 0) {
    arrival.assign(static_cast<size_t>(rows), exec::WallClockNow());
    times = arrival.data();
  } else {
    const auto& column = *batch->column(window_.time_index);
    if (column.null_count() > 0) {
      // The driver dead-letters rows without an event time; an earlier stage may still make one.
      for (int64_t i = 0; i < rows; ++i) {
        if (column.IsNull(i) && context_.dead_letters != nullptr) {
          context_.dead_letters->Add(
              exec::DeadLetter{"no event time", "sql", "", "", exec::RowToJson(*batch, i), i});
        }
      }
      SLUICE_ASSIGN_OR_RAISE(auto valid,
                             arrow::compute::IsValid(batch->column(window_.time_index)));
      SLUICE_ASSIGN_OR_RAISE(arrow::Datum kept, arrow::compute::Filter(batch, valid));
      return Process(kept.record_batch(), out);
    }
    times = static_cast<const arrow::TimestampArray&>(column).raw_values();
  }

  const exec::LatenessWatermarks limits(context_, watermark_);
  // The rows of each pane, in input order.
  std::map<exec::Timestamp, std::vector<int64_t>> rows_of_pane;
  for (int64_t i = 0; i < rows; ++i) {
    const exec::Timestamp last_window = exec::FloorTo(times[i], window_.slide);
    const exec::Timestamp limit = limits[i];
    if (last_window + window_.size <= limit) {
      Late(*batch, i, last_window);
      continue;
    }
    // A sliding window's row counts in its open windows; the closed ones are not silent.
    int64_t windows = 0, closed = 0;
    for (exec::Timestamp s = last_window; s + window_.size > times[i]; s -= window_.slide) {
      ++windows;
      if (s + window_.size <= limit) ++closed;
    }
    if (closed > 0 && context_.dead_letters != nullptr) {
      context_.dead_letters->Add(exec::DeadLetter{
          fmt::format("late for {} of {} windows: counted only in the open ones", closed, windows),
          "sql", "", "", exec::RowToJson(*batch, i), i});
    }
    rows_of_pane[exec::FloorTo(times[i], pane_)].push_back(i);
  }
  for (auto& [start, indices] : rows_of_pane) {
    std::shared_ptr<arrow::RecordBatch> part;
    if (indices.back() - indices.front() + 1 == static_cast<int64_t>(indices.size())) {
      part = batch->Slice(indices.front(), static_cast<int64_t>(indices.size()));
    } else {
      arrow::Int64Builder builder;
      SLUICE_RETURN_NOT_OK(builder.AppendValues(indices));
      SLUICE_ASSIGN_OR_RAISE(auto positions, builder.Finish());
      SLUICE_ASSIGN_OR_RAISE(arrow::Datum taken, arrow::compute::Take(batch, positions));
      part = taken.record_batch();
    }
    Pane& pane = panes_[start];
    const int64_t bytes = BytesOf(*part);
    pane.bytes += bytes;
    bytes_ += bytes;
    pane.batches.push_back(std::move(part));
    RegisterWindows(start);
  }
  return Status::OK();
}

Status WindowedSql::OnWatermark(exec::Timestamp watermark, exec::Emitter& out) {
  if (window_.time_index < 0 && watermark != exec::kMaxTimestamp) watermark = exec::WallClockNow();
  if (watermark <= watermark_) return Status::OK();
  watermark_ = watermark;
  while (!windows_.empty() && *windows_.begin() + window_.size <= watermark) {
    const exec::Timestamp start = *windows_.begin();
    windows_.erase(windows_.begin());
    SLUICE_RETURN_NOT_OK(Fire(start, out));
  }
  // A pane goes once its last window has fired.
  while (!panes_.empty() &&
         exec::FloorTo(panes_.begin()->first, window_.slide) + window_.size <= watermark) {
    bytes_ -= panes_.begin()->second.bytes;
    panes_.erase(panes_.begin());
  }
  return Status::OK();
}

Status WindowedSql::Fire(exec::Timestamp start, exec::Emitter& out) {
  const exec::Timestamp end = start + window_.size;
  const auto type = WindowBoundType();
  std::vector<std::shared_ptr<arrow::RecordBatch>> window_rows;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  const auto schema = query_->input_schema();
  for (auto it = panes_.lower_bound(start); it != panes_.end() && it->first < end; ++it) {
    for (const auto& batch : it->second.batches) {
      const int64_t length = batch->num_rows();
      SLUICE_ASSIGN_OR_RAISE(
          auto starts, arrow::MakeArrayFromScalar(arrow::TimestampScalar(start, type), length));
      SLUICE_ASSIGN_OR_RAISE(auto ends,
                             arrow::MakeArrayFromScalar(arrow::TimestampScalar(end, type), length));
      std::vector<std::shared_ptr<arrow::Array>> columns = batch->columns();
      columns.push_back(std::move(starts));
      columns.push_back(std::move(ends));
      batches.push_back(arrow::RecordBatch::Make(schema, length, std::move(columns)));
      window_rows.push_back(batch);
    }
  }
  if (batches.empty()) return Status::OK();
  auto result = query_->Run(std::move(batches));
  if (!result.ok()) {
    return DeadLetterRows(
        context_, window_rows, result.status(),
        fmt::format("window [{}, {})", exec::FormatTimestamp(start), exec::FormatTimestamp(end)));
  }
  return EmitResult(std::move(*result), kResultBatchRows, out);
}

Result<state::StateSnapshot> WindowedSql::SnapshotState() const {
  state::StateSnapshot snapshot;
  snapshot.values["watermark"] = std::to_string(watermark_);
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  std::vector<exec::Timestamp> starts;
  std::vector<int64_t> lengths;
  for (const auto& [start, pane] : panes_) {
    for (const auto& batch : pane.batches) {
      batches.push_back(batch);
      starts.push_back(start);
      lengths.push_back(batch->num_rows());
    }
  }
  SLUICE_ASSIGN_OR_RAISE(auto rows, TableOf(input_, batches));
  const auto count = static_cast<int64_t>(starts.size());
  auto pane_starts = arrow::MakeArray(arrow::ArrayData::Make(
      WindowBoundType(), count, {nullptr, arrow::Buffer::FromVector(std::move(starts))}, 0));
  auto pane_lengths = arrow::MakeArray(arrow::ArrayData::Make(
      arrow::int64(), count, {nullptr, arrow::Buffer::FromVector(std::move(lengths))}, 0));
  auto schema = arrow::schema({arrow::field("pane_start", WindowBoundType(), false),
                               arrow::field("rows", arrow::int64(), false)});
  snapshot.tables.emplace_back("rows", std::move(rows));
  snapshot.tables.emplace_back(
      "panes", arrow::Table::Make(std::move(schema), {pane_starts, pane_lengths}, count));
  return snapshot;
}

Status WindowedSql::RestoreState(const state::StateSnapshot& snapshot) {
  SLUICE_ASSIGN_OR_RAISE(watermark_, SavedWatermark(snapshot));
  SLUICE_ASSIGN_OR_RAISE(auto rows, SavedTable(snapshot, "rows", *input_));
  auto panes = snapshot.Table("panes");
  if (panes == nullptr || panes->num_columns() != 2 ||
      !panes->column(0)->type()->Equals(*WindowBoundType()) ||
      panes->column(1)->type()->id() != arrow::Type::INT64) {
    return Damaged("it has no list of panes");
  }
  SLUICE_ASSIGN_OR_RAISE(auto index, panes->CombineChunksToBatch());
  const auto& starts = static_cast<const arrow::TimestampArray&>(*index->column(0));
  const auto& lengths = static_cast<const arrow::Int64Array&>(*index->column(1));
  if (starts.null_count() > 0 || lengths.null_count() > 0) return Damaged("a pane is unknown");
  int64_t offset = 0;
  for (int64_t i = 0; i < index->num_rows(); ++i) {
    const exec::Timestamp start = starts.Value(i);
    const int64_t length = lengths.Value(i);
    if (exec::FloorTo(start, pane_) != start) return Damaged("a pane starts between panes");
    if (length <= 0 || length > rows->num_rows() - offset) return Damaged("a pane's rows are cut");
    SLUICE_ASSIGN_OR_RAISE(auto batch, rows->Slice(offset, length)->CombineChunksToBatch());
    offset += length;
    Pane& pane = panes_[start];
    const int64_t bytes = BytesOf(*batch);
    pane.bytes += bytes;
    bytes_ += bytes;
    pane.batches.push_back(std::move(batch));
    RegisterWindows(start);
  }
  if (offset != rows->num_rows()) return Damaged("some rows belong to no pane");
  return Status::OK();
}

/// Reads `window: {tumbling | sliding}` and the time the windows are cut by: the input's event
/// time, or the rows' arrival without one.
Result<SqlWindow> ReadWindow(const exec::ProcessorContext& context, const config::Options& options,
                             const arrow::Schema& input) {
  const config::Options& section = options.GetSection("window");
  const bool tumbling = section.Has("tumbling"), sliding = section.Has("sliding");
  if (tumbling == sliding) {
    return config::ConfigError(
        tumbling ? section.LocationOf("sliding") : section.where(),
        tumbling ? "a window is tumbling or sliding, not both" : "a window needs its kind",
        "e.g. window: {tumbling: 1m} or window: {sliding: {size: 1m, slide: 10s}}");
  }
  SqlWindow window;
  if (tumbling) {
    SLUICE_RETURN_NOT_OK(ReadPositiveDuration(section, "tumbling", &window.size));
    window.slide = window.size;
  } else {
    SLUICE_RETURN_NOT_OK(ReadSliding(section.GetSection("sliding"), &window.size, &window.slide));
  }
  for (const char* name : {"window_start", "window_end"}) {
    if (input.GetFieldIndex(name) >= 0) {
      return config::ConfigError(
          options.LocationOf("window"),
          fmt::format("the input already has a field '{}', which the window would add", name),
          "rename or drop it in an earlier step");
    }
  }
  const std::string& event_time = context.event_time_field;
  if (event_time.empty()) return window;  // processing time
  window.time_index = input.GetFieldIndex(event_time);
  if (window.time_index < 0) {
    return config::ConfigError(
        options.LocationOf("window"),
        fmt::format("the window needs the event-time field '{}', which an earlier stage removed",
                    event_time),
        "keep it in select/drop");
  }
  const auto& type = *input.field(window.time_index)->type();
  if (type.id() != arrow::Type::TIMESTAMP ||
      static_cast<const arrow::TimestampType&>(type).unit() != arrow::TimeUnit::MICRO) {
    return config::ConfigError(options.LocationOf("window"),
                               fmt::format("the event-time field '{}' is {} here, not a timestamp",
                                           event_time, type.ToString()),
                               "do not cast the event-time field before a window");
  }
  return window;
}

Result<std::unique_ptr<exec::Processor>> MakeSql(const exec::ProcessorContext& context,
                                                 const config::Options& options,
                                                 const std::shared_ptr<arrow::Schema>& input) {
  const config::LocatedText text = options.GetText("query");
  const config::Location where = options.LocationOf("query");
  SLUICE_ASSIGN_OR_RAISE(AllowedFiles allowed, ReadAllowedFiles(options));
  if (options.Has("window")) {
    SLUICE_ASSIGN_OR_RAISE(SqlWindow window, ReadWindow(context, options, *input));
    auto bound = WindowedSql::WindowBoundType();
    SLUICE_ASSIGN_OR_RAISE(
        auto with_bounds,
        input->AddField(input->num_fields(), arrow::field("window_start", bound, false)));
    SLUICE_ASSIGN_OR_RAISE(
        with_bounds,
        with_bounds->AddField(with_bounds->num_fields(), arrow::field("window_end", bound, false)));
    SLUICE_ASSIGN_OR_RAISE(auto query, SqlQuery::Make(text, where, with_bounds, allowed));
    return std::make_unique<WindowedSql>(std::move(query), context, window, input);
  }
  SLUICE_ASSIGN_OR_RAISE(auto query, SqlQuery::Make(text, where, input, allowed));
  if (query->shape().row_wise) return std::make_unique<RowWiseSql>(std::move(query));
  if (!context.bounded) {
    return config::ConfigError(
        where,
        fmt::format("this statement needs the whole input ({}), but the input never ends",
                    query->shape().reason),
        "add window: {tumbling: 1m} (sql: {query: \"...\", window: {tumbling: 1m}}) to run it "
        "over each minute of event time");
  }
  return std::make_unique<WholeInputSql>(std::move(query), context);
}

}  // namespace

void RegisterSql(exec::Registry* registry) {
  config::PluginSpec spec;
  spec.name = "sql";
  spec.doc =
      "Runs a DuckDB SELECT over the table `input`: a row-wise statement (projections, filters, "
      "scalar functions) over each micro-batch; one that reads rows together (aggregates, "
      "DISTINCT, ORDER BY, LIMIT, OVER, set operations, self-joins) over each window's rows "
      "when the watermark passes its end, or over the whole of a bounded input at its end. It "
      "reads no file, URL or extension but the files listed in allow_files.";
  spec.value_option = "query";
  config::OptionSpec query = config::MakeOption(
      "query", config::OptionType::kString,
      "A DuckDB SELECT statement over the table `input`, checked against the input schema before "
      "the run.");
  query.required = true;
  config::OptionSpec window = config::MakeOption(
      "window", config::OptionType::kSection,
      "Run the statement over the rows of each event-time window (processing time without "
      "event_time) when the watermark passes its end; `input` then has the columns "
      "window_start and window_end, and the result's window_end is its event time. Rows of "
      "windows already fired are dead letters (late). Short form: window: 1m (tumbling).");
  window.short_field = "tumbling";
  window.fields = {TumblingOption(), SlidingOption()};
  config::OptionSpec allow_files = config::MakeOption(
      "allow_files", config::OptionType::kStringList,
      "Files and directories the statement may read (read_csv, read_parquet, ...), relative to "
      "the pipeline file or absolute; without it the statement reads only `input`: no file, "
      "URL or extension. The statement names a file by its absolute path or its path from the "
      "working directory.");
  spec.options = {query, window, allow_files};
  spec.example =
      "- sql:\n"
      "    query: \"SELECT symbol, window_end, max(ask) - min(bid) AS range FROM input GROUP BY "
      "ALL\"\n"
      "    window: {tumbling: 1m}";
  registry->AddProcessor(std::move(spec), MakeSql);
}

}  // namespace sluice::processors

