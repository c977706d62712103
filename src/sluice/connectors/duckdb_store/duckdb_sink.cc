#include "sluice/connectors/duckdb_store/duckdb_sink.h"

#include <arrow/array.h>
#include <arrow/scalar.h>
#include <arrow/table.h>
#include <arrow/type.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/common/spelling.h"
#include "sluice/config/location.h"
#include "sluice/connectors/duckdb_store/duckdb_dialect.h"
#include "sluice/connectors/duckdb_store/store_database.h"
#include "sluice/connectors/duckdb_store/table_writer.h"
#include "sluice/connectors/sql/table_options.h"
#include "sluice/duckdb/connection.h"
#include "sluice/exec/dead_letter.h"

namespace sluice::connectors {
namespace {

using duckdb_store::DuckDbDialect;
using duckdb_store::TableWriter;

/// The table that records, per pipeline and sink, the last checkpoint whose rows were committed.
constexpr std::string_view kCommitsTable = "sluice_commits";

struct DuckDbSinkSettings {
  std::string name;
  std::string pipeline;
  std::string path;
  sql::TableOptions table;
  /// Rows whose time_field is older than the latest event time seen minus this are deleted at
  /// each commit; zero keeps every row.
  std::chrono::nanoseconds retention{0};
  std::string time_field;
  config::Location where;
  /// Whether checkpoints decide the transactions (CheckpointRole::kDeciding).
  bool checkpoints = false;
};

/// Microseconds per unit of a timestamp column.
Result<std::pair<int64_t, int64_t>> UnitRatio(arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND:
      return std::pair<int64_t, int64_t>{1000000, 1};
    case arrow::TimeUnit::MILLI:
      return std::pair<int64_t, int64_t>{1000, 1};
    case arrow::TimeUnit::MICRO:
      return std::pair<int64_t, int64_t>{1, 1};
    case arrow::TimeUnit::NANO:
      return std::pair<int64_t, int64_t>{1, 1000};
  }
  return Status::Invalid("unknown time unit");
}

/// The `duckdb` sink. Pipeline thread only.
///
/// Without checkpoints each input batch is one transaction (Commit()): at-least-once, a batch
/// committed before a crash is written again after it (idempotent in upsert mode). With
/// checkpoints each checkpoint is one transaction, committed by CommitCheckpoint() together
/// with the checkpoint's id in `sluice_commits`, which LastCommittedCheckpoint() reads after a
/// crash (CheckpointRole::kDeciding): exactly-once. DuckDB runs one transaction per connection
/// at a time, so batches written between PrepareCheckpoint(N) and CommitCheckpoint(N) (the
/// moments the checkpoint is being saved) are held, by reference, and written into checkpoint
/// N + 1's transaction once N is committed.
class DuckDbSink final : public exec::Sink {
 public:
  DuckDbSink(DuckDbSinkSettings settings, exec::DeadLetterQueue* dead_letters)
      : settings_(std::move(settings)), dead_letters_(dead_letters) {}

  exec::CheckpointRole checkpoint_role() const override {
    return settings_.checkpoints ? exec::CheckpointRole::kDeciding
                                 : exec::CheckpointRole::kAtLeastOnce;
  }

  Status Open(const std::shared_ptr<arrow::Schema>& schema) override {
    SLUICE_ASSIGN_OR_RAISE(database_, duckdb_store::OpenStore(settings_.path, false));
    SLUICE_ASSIGN_OR_RAISE(connection_, duckdb::Connection::Open(database_));
    if (settings_.checkpoints) {
      SLUICE_RETURN_NOT_OK(connection_->Execute(fmt::format(
          "CREATE TABLE IF NOT EXISTS {} (pipeline VARCHAR, sink VARCHAR, checkpoint BIGINT NOT "
          "NULL, committed_at TIMESTAMPTZ, PRIMARY KEY (pipeline, sink))",
          kCommitsTable)));
    }
    auto writer = TableWriter::Make(connection_.get(), schema, settings_.table);
    if (!writer.ok()) {
      return writer.status().WithMessage("sink '", settings_.name, "' (", settings_.path,
                                         "): ", writer.status().message());
    }
    writer_ = std::move(*writer);
    if (settings_.retention.count() > 0) SLUICE_RETURN_NOT_OK(OpenRetention(*schema));
    return Status::OK();
  }

  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    if (prepared_) {
      // Checkpoint N is being saved; this batch belongs to N + 1.
      held_.push_back(batch);
      return Status::OK();
    }
    return WriteNow(batch);
  }

  Status Commit(const exec::InputDone& done) override {
    (void)done;
    // With checkpoints the transactions follow checkpoints (CommitCheckpoint()).
    if (settings_.checkpoints) return Status::OK();
    std::string retention = RetentionSql();
    if (!writer_->in_transaction() && retention.empty()) return Status::OK();
    return CommitWith(std::move(retention));
  }

  Result<std::string> PrepareCheckpoint(int64_t id) override {
    if (prepared_) {
      return Status::Invalid(fmt::format(
          "duckdb sink: checkpoint {} prepared while checkpoint {} is not committed", id,
          *prepared_));
    }
    prepared_ = id;
    return fmt::format(R"({{"checkpoint":{}}})", id);
  }

  Status CommitCheckpoint(int64_t id, const std::string& pending) override {
    (void)pending;
    if (!prepared_) {
      // Recovery: the pipeline restores only a checkpoint this sink committed (it asked
      // LastCommittedCheckpoint()); nothing is left to do.
      return Status::OK();
    }
    if (*prepared_ != id) {
      return Status::Invalid(fmt::format(
          "duckdb sink: checkpoint {} committed while checkpoint {} is prepared", id, *prepared_));
    }
    const DuckDbDialect dialect;
    std::string statements = RetentionSql();
    statements += fmt::format(
        "INSERT OR REPLACE INTO {} VALUES ({}, {}, {}, now());", kCommitsTable,
        dialect.QuoteLiteral(settings_.pipeline), dialect.QuoteLiteral(settings_.name), id);
    SLUICE_RETURN_NOT_OK(CommitWith(std::move(statements)));
    prepared_.reset();
    // The batches held while the checkpoint was saved begin the next transaction.
    std::vector<std::shared_ptr<arrow::RecordBatch>> held = std::move(held_);
    held_.clear();
    for (const auto& batch : held) SLUICE_RETURN_NOT_OK(WriteNow(batch));
    return Status::OK();
  }

  Status AbortCheckpoint(int64_t id, const std::string& pending) override {
    // The killed run's transaction died with it: DuckDB keeps only committed transactions.
    (void)id;
    (void)pending;
    return Status::OK();
  }

  Result<int64_t> LastCommittedCheckpoint() override {
    if (!settings_.checkpoints || connection_ == nullptr) return -1;
    const DuckDbDialect dialect;
    SLUICE_ASSIGN_OR_RAISE(
        auto table, connection_->Query(fmt::format(
                        "SELECT max(checkpoint) FROM {} WHERE pipeline = {} AND sink = {}",
                        kCommitsTable, dialect.QuoteLiteral(settings_.pipeline),
                        dialect.QuoteLiteral(settings_.name))));
    return FirstInteger(*table, -1);
  }

  Status Close() override {
    if (writer_ == nullptr) return Status::OK();
    if (settings_.checkpoints && (writer_->in_transaction() || !held_.empty() || prepared_)) {
      // The pipeline commits a last checkpoint before Close(): rows left over would be lost.
      return Status::Invalid(
          "duckdb sink: rows written after the last checkpoint were never committed");
    }
    if (writer_->in_transaction()) SLUICE_RETURN_NOT_OK(CommitWith(RetentionSql()));
    Release();
    return Status::OK();
  }

  void Abort() override {
    held_.clear();
    prepared_.reset();
    Release();
  }

 private:
  static Result<int64_t> FirstInteger(const arrow::Table& table, int64_t if_none) {
    if (table.num_rows() == 0 || table.num_columns() == 0) return if_none;
    SLUICE_ASSIGN_OR_RAISE(auto scalar, table.column(0)->GetScalar(0));
    if (!scalar->is_valid) return if_none;
    SLUICE_ASSIGN_OR_RAISE(auto cast, scalar->CastTo(arrow::int64()));
    return std::static_pointer_cast<arrow::Int64Scalar>(cast)->value;
  }

  /// Releases the table, the connection and the database (which DuckDB then checkpoints into
  /// its file), rolling back whatever was not committed.
  void Release() {
    writer_.reset();
    connection_.reset();
    database_.reset();
  }

  Status OpenRetention(const arrow::Schema& schema) {
    time_index_ = schema.GetFieldIndex(settings_.time_field);
    if (time_index_ < 0 || schema.field(time_index_)->type()->id() != arrow::Type::TIMESTAMP) {
      return config::ConfigError(
          settings_.where,
          fmt::format("time_field '{}' must be a timestamp field of the stream",
                      settings_.time_field),
          SpellingHint(settings_.time_field, schema.field_names()));
    }
    const auto& type = static_cast<const arrow::TimestampType&>(*schema.field(time_index_)->type());
    SLUICE_ASSIGN_OR_RAISE(unit_ratio_, UnitRatio(type.unit()));
    // The latest event time already in the table, so that a restarted run goes on from it.
    const DuckDbDialect dialect;
    SLUICE_ASSIGN_OR_RAISE(
        auto table,
        connection_->Query(fmt::format("SELECT epoch_us(max({})) FROM {}",
                                       dialect.QuoteIdentifier(settings_.time_field),
                                       writer_->quoted_table())));
    SLUICE_ASSIGN_OR_RAISE(int64_t latest,
                           FirstInteger(*table, std::numeric_limits<int64_t>::min()));
    if (latest != std::numeric_limits<int64_t>::min()) latest_micros_ = latest;
    return Status::OK();
  }

  /// Notes the latest event time of `batch`.
  void SeeTimes(const arrow::RecordBatch& batch) {
    if (time_index_ < 0) return;
    const auto& times = static_cast<const arrow::TimestampArray&>(*batch.column(time_index_));
    const auto [multiply, divide] = unit_ratio_;
    for (int64_t row = 0; row < times.length(); ++row) {
      if (times.IsNull(row)) continue;
      const int64_t micros = times.Value(row) * multiply / divide;
      if (!latest_micros_ || micros > *latest_micros_) latest_micros_ = micros;
    }
  }

  /// The DELETE that keeps the retention window, when the window has moved since the last one.
  std::string RetentionSql() {
    if (time_index_ < 0 || !latest_micros_) return {};
    const int64_t retention_micros =
        std::chrono::duration_cast<std::chrono::microseconds>(settings_.retention).count();
    const int64_t cutoff = *latest_micros_ - retention_micros;
    if (deleted_before_ && cutoff <= *deleted_before_) return {};
    pending_cutoff_ = cutoff;
    const DuckDbDialect dialect;
    return fmt::format("DELETE FROM {} WHERE {} < make_timestamp({}::BIGINT);",
                       writer_->quoted_table(), dialect.QuoteIdentifier(settings_.time_field),
                       cutoff);
  }

  Status CommitWith(std::string statements) {
    Status committed = writer_->Commit(statements);
    if (!committed.ok()) {
      return committed.WithMessage("sink '", settings_.name, "' (", settings_.path,
                                   "): ", committed.message());
    }
    if (pending_cutoff_) deleted_before_ = pending_cutoff_;
    pending_cutoff_.reset();
    return Status::OK();
  }

  Status WriteNow(const std::shared_ptr<arrow::RecordBatch>& batch) {
    SeeTimes(*batch);
    auto rejected = writer_->Write(batch);
    if (!rejected.ok()) {
      return rejected.status().WithMessage("sink '", settings_.name, "' (", settings_.path,
                                           "): ", rejected.status().message());
    }
    for (const auto& row : *rejected) {
      std::string reason = fmt::format("table '{}' refused the row: {}", settings_.table.table,
                                       row.reason.substr(row.reason.rfind("DuckDB: ", 0) == 0
                                                             ? 8
                                                             : 0));
      if (dead_letters_ == nullptr) {
        return Status::Invalid("sink '", settings_.name, "': ", reason);
      }
      dead_letters_->Add(exec::DeadLetter{std::move(reason), "sink:" + settings_.name, "", "",
                                          exec::RowToJson(*batch, row.row)});
    }
    return Status::OK();
  }

  const DuckDbSinkSettings settings_;
  exec::DeadLetterQueue* dead_letters_;
  std::shared_ptr<duckdb::Database> database_;
  std::unique_ptr<duckdb::Connection> connection_;
  // Destroyed before the connection (declared after it).
  std::unique_ptr<TableWriter> writer_;
  /// The checkpoint prepared and not committed yet.
  std::optional<int64_t> prepared_;
  /// Batches written while `prepared_` is being saved.
  std::vector<std::shared_ptr<arrow::RecordBatch>> held_;
  // Retention: the time field's index (-1 without retention), its unit as a fraction of
  // microseconds, the latest event time seen and the cutoff of the last DELETE committed.
  int time_index_ = -1;
  std::pair<int64_t, int64_t> unit_ratio_{1, 1};
  std::optional<int64_t> latest_micros_;
  std::optional<int64_t> deleted_before_;
  std::optional<int64_t> pending_cutoff_;
};

Result<std::unique_ptr<exec::Sink>> MakeDuckDbSink(const exec::ConnectorContext& context,
                                                   const config::Options& options) {
  DuckDbSinkSettings settings;
  settings.name = context.name;
  settings.pipeline = context.pipeline_name;
  settings.path = options.GetString("path");
  settings.where = options.where();
  settings.checkpoints = context.checkpoints;
  if (settings.path.empty() || settings.path == ":memory:") {
    return config::ConfigError(options.LocationOf("path"),
                               "the duckdb sink needs a database file, not an in-memory database",
                               "e.g. path: store.duckdb");
  }
  SLUICE_ASSIGN_OR_RAISE(settings.table,
                         sql::TableOptionsFromConfig(options, context.input_schema));
  if (options.Has("retention")) {
    settings.retention = options.GetDuration("retention");
    if (!options.Has("time_field")) {
      return config::ConfigError(options.LocationOf("retention"),
                                 "retention needs time_field: the timestamp field whose age "
                                 "decides which rows are deleted",
                                 "e.g. time_field: ts");
    }
  }
  if (options.Has("time_field")) {
    settings.time_field = options.GetString("time_field");
    if (!options.Has("retention")) {
      return config::ConfigError(options.LocationOf("time_field"),
                                 "time_field is used only with retention", "add retention: 7d");
    }
    const auto& schema = context.input_schema;
    if (schema != nullptr) {
      auto field = schema->GetFieldByName(settings.time_field);
      if (field == nullptr || field->type()->id() != arrow::Type::TIMESTAMP) {
        return config::ConfigError(
            options.LocationOf("time_field"),
            fmt::format("time_field '{}' must be a timestamp field of the stream",
                        settings.time_field),
            SpellingHint(settings.time_field, schema->field_names()));
      }
    }
  }
  if (context.input_schema != nullptr && settings.table.create_table) {
    // A field without a column type is a configuration error, found before the run.
    const DuckDbDialect dialect;
    auto create = sql::CreateTableSql(dialect, settings.table.table, *context.input_schema,
                                      settings.table.key);
    if (!create.ok()) {
      return config::ConfigError(options.LocationOf("create_table"), create.status().message());
    }
  }
  return std::make_unique<DuckDbSink>(std::move(settings), context.dead_letters);
}

config::PluginSpec DuckDbSinkSpec() {
  using config::OptionSpec;
  using config::OptionType;
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSink;
  spec.name = "duckdb";
  spec.doc =
      "Appends or upserts rows into a table of a DuckDB database file, in bulk through DuckDB's "
      "Arrow scan. One transaction per input batch (at-least-once), or per checkpoint with "
      "checkpoint: (exactly-once: the checkpoint's id is committed in sluice_commits with its "
      "rows). Rows the database refuses (a constraint, a value that does not fit) become dead "
      "letters with DuckDB's message; the rest of the batch is written. One process at a time "
      "may write a database file.";
  OptionSpec path = config::MakeOption("path", OptionType::kString,
                                       "The DuckDB database file; created when missing.");
  path.required = true;
  spec.options.push_back(path);
  for (auto& option : sql::TableOptionSpecs()) spec.options.push_back(std::move(option));
  OptionSpec retention = config::MakeOption(
      "retention", OptionType::kDuration,
      "Keep only rows whose time_field is within this much of the latest event time written: "
      "older ones are deleted with each commit (e.g. 7d). Every row is kept when left out.");
  retention.min = 1;
  spec.options.push_back(retention);
  spec.options.push_back(config::MakeOption(
      "time_field", OptionType::kString,
      "With retention: the timestamp field whose age decides which rows are deleted."));
  spec.example =
      "sinks:\n"
      "  store:\n"
      "    connector: duckdb\n"
      "    path: store.duckdb\n"
      "    table: quotes\n"
      "    create_table: true\n"
      "    retention: 7d\n"
      "    time_field: ts\n";
  return spec;
}

}  // namespace

void RegisterDuckDbSink(exec::Registry* registry) {
  registry->AddSink(DuckDbSinkSpec(), MakeDuckDbSink);
}

}  // namespace sluice::connectors
