#include "sluice/processors/sql.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/util/byte_size.h>
#include <fmt/format.h>

#include <filesystem>
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

#include "sluice/config/location.h"
#include "sluice/duckdb/connection.h"
#include "sluice/duckdb/database.h"
#include "sluice/exec/dead_letter.h"
#include "sluice/exec/time.h"
#include "sluice/processors/sql_shape.h"
#include "sluice/processors/window.h"

namespace sluice::processors {
namespace {

/// The name under which the rows are visible to the query.
constexpr const char* kInputTable = "input";

/// The query without trailing blanks and semicolons, which DuckDB accepts but which would break
/// the query when it is wrapped in another.
std::string TrimStatement(std::string_view query) {
  while (!query.empty() && (query.back() == ';' || query.back() == ' ' || query.back() == '\t' ||
                            query.back() == '\n' || query.back() == '\r')) {
    query.remove_suffix(1);
  }
  return std::string(query);
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

/// A DuckDB error message split into what a configuration error shows: the first line, the
/// remaining explanation (e.g. "Candidate bindings: ...") as a hint, and the file position of
/// the caret DuckDB draws under the query, when it can be mapped back.
struct QueryError {
  std::string message;
  std::string hint;
  config::Location where;
};

QueryError DescribeQueryError(const config::LocatedText& query, const config::Location& fallback,
                              std::string_view duckdb_message) {
  constexpr std::string_view kPrefix = "DuckDB: ";
  if (duckdb_message.substr(0, kPrefix.size()) == kPrefix)
    duckdb_message.remove_prefix(kPrefix.size());
  QueryError error;
  error.where = fallback;
  std::vector<std::string_view> lines = SplitLines(duckdb_message);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (i == 0) {
      error.message = std::string(line);
      continue;
    }
    if (line.substr(0, 5) == "LINE ") {
      // "LINE 1: <part of the query>" with a caret line below it.
      const size_t colon = line.find(": ");
      if (colon != std::string_view::npos && i + 1 < lines.size() &&
          line.substr(5, colon - 5) == "1" && query.text.find('\n') == std::string::npos) {
        std::string_view context = line.substr(colon + 2);
        const size_t caret = lines[i + 1].find('^');
        if (caret != std::string_view::npos && caret >= colon + 2) {
          size_t offset = caret - (colon + 2);
          if (context.substr(0, 3) == "...") {
            context.remove_prefix(3);
            offset = offset >= 3 ? offset - 3 : 0;
          }
          if (context.size() >= 3 && context.substr(context.size() - 3) == "...")
            context.remove_suffix(3);
          const size_t found = query.text.find(context);
          if (found != std::string::npos && query.where.known())
            error.where = query.At(found + offset);
        }
      }
      ++i;  // the caret line
      continue;
    }
    if (line.empty()) continue;
    if (!error.hint.empty()) error.hint += "; ";
    error.hint += std::string(line);
  }
  return error;
}

/// The files a statement may read besides `input` (`allow_files`), as DuckDB matches them: each
/// listed path both absolute and relative to the working directory, since a statement may name
/// a file either way.
struct AllowedFiles {
  std::vector<std::string> directories;  ///< each ending in '/'
  std::vector<std::string> files;
};

/// Reads `allow_files`: paths relative to the pipeline file, or absolute, of files or
/// directories that exist.
Result<AllowedFiles> ReadAllowedFiles(const config::Options& options) {
  AllowedFiles allowed;
  if (!options.Has("allow_files")) return allowed;
  const config::Location where = options.LocationOf("allow_files");
  const std::filesystem::path base = std::filesystem::path(where.file).parent_path();
  std::error_code error;
  const std::filesystem::path working = std::filesystem::current_path(error);
  for (const std::string& entry : options.GetStringList("allow_files")) {
    std::filesystem::path path(entry);
    if (entry.empty()) return config::ConfigError(where, "allow_files lists an empty path");
    if (path.is_relative()) path = base / path;
    path = std::filesystem::absolute(path, error).lexically_normal();
    const bool directory = std::filesystem::is_directory(path, error);
    if (!directory && !std::filesystem::is_regular_file(path, error)) {
      return config::ConfigError(
          where,
          fmt::format("allow_files lists '{}', which is no file or directory ({})", entry,
                      path.string()),
          "paths are relative to the pipeline file, or absolute, and must exist at the start");
    }
    std::vector<std::string> forms = {path.string()};
    if (!working.empty()) {
      const std::string relative = path.lexically_relative(working).string();
      if (!relative.empty() && relative != ".") forms.push_back(relative);
    }
    for (std::string form : forms) {
      while (form.size() > 1 && form.back() == '/') form.pop_back();
      if (directory) {
        allowed.directories.push_back(form + "/");
      } else {
        allowed.files.push_back(form);
      }
    }
  }
  return allowed;
}

/// The hint of a statement refused for reaching outside `input`.
constexpr const char* kSandboxHint =
    "the sql step reads only the table `input`: no file, URL or extension, unless the file or "
    "its directory is listed in allow_files (sql: {query: \"...\", allow_files: [data/ref/]})";

/// A statement prepared over the table `input` on a DuckDB database of its own.
///
/// Owns an in-memory database with one thread and a connection to it. The schema of `input` is
/// registered at configuration time and the statement prepared against it, so a statement that
/// does not fit the data fails before the run with DuckDB's message, and the output schema is
/// known. Run() hands batches to DuckDB in place (see duckdb/connection.h) and re-runs the
/// prepared statement over them. Used from one thread at a time.
///
/// The database is closed to the outside before the statement is bound: it reads no file but
/// those listed in `allowed`, fetches nothing from the network and loads no extension; its
/// configuration is then locked, so nothing the statement does can lift that.
class SqlQuery {
 public:
  static Result<std::unique_ptr<SqlQuery>> Make(const config::LocatedText& text,
                                                const config::Location& where,
                                                const std::shared_ptr<arrow::Schema>& input,
                                                const AllowedFiles& allowed) {
    const std::string query = TrimStatement(text.text);
    if (query.find_first_not_of(" \t\r\n") == std::string::npos) {
      return config::ConfigError(where, "the sql query is empty",
                                 "e.g. sql: \"SELECT * FROM input WHERE volume > 0\"");
    }
    duckdb::DatabaseOptions database_options;
    database_options.threads = 1;
    SLUICE_ASSIGN_OR_RAISE(auto database, duckdb::Database::Open(":memory:", database_options));
    SLUICE_ASSIGN_OR_RAISE(auto connection, duckdb::Connection::Open(std::move(database)));
    Status registered = connection->RegisterBatches(kInputTable, input, {});
    if (!registered.ok()) {
      return config::ConfigError(where, "DuckDB cannot read this processor's input " +
                                            input->ToString() + ": " + registered.message());
    }
    SLUICE_RETURN_NOT_OK(connection->RestrictExternalAccess(allowed.directories, allowed.files));
    auto statement = connection->Prepare(query);
    if (!statement.ok()) {
      QueryError error = DescribeQueryError(text, where, statement.status().message());
      if (error.message.rfind("Permission Error", 0) == 0) error.hint = kSandboxHint;
      return config::ConfigError(error.where, error.message, error.hint);
    }
    if (!(*statement)->is_query()) {
      return config::ConfigError(
          where, "the sql processor runs a query (SELECT ...) over its input, not a command",
          kSandboxHint);
    }
    SLUICE_ASSIGN_OR_RAISE(duckdb::PlanNode plan, connection->LogicalPlan(query));
    StatementShape shape = ShapeOf(plan);
    SLUICE_ASSIGN_OR_RAISE(auto narrowed, NarrowHugeIntegers(connection.get(), query));
    if (narrowed != nullptr) statement = std::move(narrowed);
    SLUICE_RETURN_NOT_OK(connection->LockConfiguration());
    return std::unique_ptr<SqlQuery>(
        new SqlQuery(std::move(connection), std::move(*statement), std::move(shape), input, where));
  }

  const std::shared_ptr<arrow::Schema>& schema() const { return statement_->schema(); }
  /// The schema of `input`.
  const std::shared_ptr<arrow::Schema>& input_schema() const { return input_; }
  const StatementShape& shape() const { return shape_; }
  /// Where the statement stands in the pipeline file, for messages of the run.
  const config::Location& where() const { return where_; }

  /// Runs the statement with `input` holding `batches`; DuckDB answers in vectors of 2048 rows.
  Result<std::vector<std::shared_ptr<arrow::RecordBatch>>> Run(
      std::vector<std::shared_ptr<arrow::RecordBatch>> batches) {
    SLUICE_RETURN_NOT_OK(connection_->SetBatches(kInputTable, std::move(batches)));
    auto result = statement_->Execute();
    // Let go of the batches now rather than at the next run.
    SLUICE_RETURN_NOT_OK(connection_->SetBatches(kInputTable, {}));
    // DuckDB's message goes on with the query and a caret under it, which a data error's
    // message (a dead letter's reason) does without.
    if (!result.ok()) {
      const std::string& message = result.status().message();
      return result.status().WithMessage("sql: ", message.substr(0, message.find('\n')));
    }
    return result;
  }

 private:
  SqlQuery(std::unique_ptr<duckdb::Connection> connection,
           std::unique_ptr<duckdb::PreparedStatement> statement, StatementShape shape,
           std::shared_ptr<arrow::Schema> input, config::Location where)
      : connection_(std::move(connection)),
        statement_(std::move(statement)),
        shape_(std::move(shape)),
        input_(std::move(input)),
        where_(std::move(where)) {}

  /// DuckDB sums and counts integers into HUGEINT (128 bits), which Arrow can only carry as
  /// decimal128(38, 0). Pipelines expect int64 (DESIGN.md types), so such columns are cast to
  /// BIGINT (UHUGEINT to UBIGINT); a value out of range then fails its batch as a data error.
  /// Returns null when no column needs it, or when the wrapped query does not prepare (e.g.
  /// duplicate column names), in which case the decimal is kept.
  static Result<std::unique_ptr<duckdb::PreparedStatement>> NarrowHugeIntegers(
      duckdb::Connection* connection, const std::string& query) {
    auto description = connection->Query("DESCRIBE " + query);
    if (!description.ok()) return nullptr;
    auto names = (*description)->GetColumnByName("column_name");
    auto types = (*description)->GetColumnByName("column_type");
    if (names == nullptr || types == nullptr) return nullptr;
    std::string replacements;
    for (int64_t row = 0; row < (*description)->num_rows(); ++row) {
      SLUICE_ASSIGN_OR_RAISE(auto name, names->GetScalar(row));
      SLUICE_ASSIGN_OR_RAISE(auto type, types->GetScalar(row));
      if (!name->is_valid || !type->is_valid) continue;
      const std::string type_name = type->ToString();
      const char* narrow = type_name == "HUGEINT"    ? "BIGINT"
                           : type_name == "UHUGEINT" ? "UBIGINT"
                                                     : nullptr;
      if (narrow == nullptr) continue;
      std::string quoted = "\"";
      for (char c : name->ToString()) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
      quoted += '"';
      if (!replacements.empty()) replacements += ", ";
      replacements += "CAST(" + quoted + " AS " + narrow + ") AS " + quoted;
    }
    if (replacements.empty()) return nullptr;
    // The newlines keep a trailing `-- comment` in the user's query from swallowing the ')'.
    auto wrapped =
        connection->Prepare("SELECT * REPLACE (" + replacements + ") FROM (\n" + query + "\n)");
    if (!wrapped.ok()) return nullptr;
    return std::move(*wrapped);
  }

  // Declared before the statement, which must be destroyed first.
  std::unique_ptr<duckdb::Connection> connection_;
  std::unique_ptr<duckdb::PreparedStatement> statement_;
  StatementShape shape_;
  std::shared_ptr<arrow::Schema> input_;
  config::Location where_;
};

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
  WindowedSql(std::unique_ptr<SqlQuery> query, exec::ProcessorContext context, SqlWindow window)
      : query_(std::move(query)),
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

  std::unique_ptr<SqlQuery> query_;
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
    // The windows [s, s + size) covering the pane: s a multiple of the slide, from the pane's
    // last window back; those that fired already are not reopened.
    for (exec::Timestamp s = exec::FloorTo(start, window_.slide);
         s + window_.size >= start + pane_ && s + window_.size > watermark_; s -= window_.slide) {
      windows_.insert(s);
    }
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
    return std::make_unique<WindowedSql>(std::move(query), context, window);
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
