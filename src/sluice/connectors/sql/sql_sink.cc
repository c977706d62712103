#include "sluice/connectors/sql/sql_sink.h"

#include <arrow/type.h>
#include <fmt/format.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "sluice/common/logging.h"
#include "sluice/common/spelling.h"
#include "sluice/connectors/sql/reject_isolation.h"
#include "sluice/exec/dead_letter.h"

namespace sluice::connectors::sql {
namespace {

using Clock = std::chrono::steady_clock;

/// The table recording, per pipeline and sink, the last checkpoint whose transaction committed.
constexpr std::string_view kCommitsTable = "sluice_commits";

/// A batch written into the open transaction, kept until it commits so that it can be written
/// again on a new connection, with the rows the database refused (already dead letters).
struct Uncommitted {
  std::shared_ptr<arrow::RecordBatch> batch;
  std::vector<int64_t> rejected;
};

class SqlSink final : public exec::Sink {
 public:
  SqlSink(SqlSinkSettings settings, SessionFactory sessions, exec::DeadLetterQueue* dead_letters)
      : settings_(std::move(settings)),
        sessions_(std::move(sessions)),
        dead_letters_(dead_letters),
        logger_(ComponentLogger("sink " + settings_.sink_name)) {}

  exec::CheckpointRole checkpoint_role() const override {
    return settings_.exactly_once ? exec::CheckpointRole::kDeciding
                                  : exec::CheckpointRole::kAtLeastOnce;
  }

  Status Open(const std::shared_ptr<arrow::Schema>& schema) override {
    schema_ = schema;
    SLUICE_ASSIGN_OR_RAISE(session_, sessions_());
    return Setup();
  }

  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    if (batch->num_rows() == 0) return Status::OK();
    // Rows after a prepared checkpoint belong to the next one: they wait until its
    // transaction has committed.
    if (prepared_ >= 0) {
      held_.push_back(batch);
      return Status::OK();
    }
    return WriteNow(batch);
  }

  Status Commit(const exec::InputDone& done) override {
    (void)done;
    return CommitOpen(-1);
  }

  Result<std::string> PrepareCheckpoint(int64_t id) override {
    if (!settings_.exactly_once) {
      // At-least-once with checkpoints: what the checkpoint covers is committed now.
      SLUICE_RETURN_NOT_OK(CommitOpen(-1));
      return std::string("{}");
    }
    SLUICE_RETURN_NOT_OK(Retrying([&] { return BeginIfNeeded(); }));
    prepared_ = id;
    SLUICE_RETURN_NOT_OK(Retrying([&] { return session_->Execute(MarkSql(id)); }));
    return std::string("{}");
  }

  Status CommitCheckpoint(int64_t id, const std::string& pending) override {
    (void)pending;
    if (!settings_.exactly_once || prepared_ != id) return Status::OK();
    SLUICE_RETURN_NOT_OK(CommitOpen(id));
    prepared_ = -1;
    std::vector<std::shared_ptr<arrow::RecordBatch>> held = std::move(held_);
    held_.clear();
    for (const auto& batch : held) SLUICE_RETURN_NOT_OK(WriteNow(batch));
    return Status::OK();
  }

  Result<int64_t> LastCommittedCheckpoint() override {
    return session_->QueryInteger(
        fmt::format("SELECT checkpoint FROM {} WHERE pipeline = {} AND sink = {}",
                    dialect().QuoteIdentifier(kCommitsTable),
                    dialect().QuoteLiteral(settings_.pipeline_name),
                    dialect().QuoteLiteral(settings_.sink_name)),
        -1);
  }

  Status Close() override {
    if (settings_.exactly_once) {
      // The run's last checkpoint committed everything; an open transaction holds nothing.
      if (in_transaction_ && uncommitted_.empty()) return session_->Rollback();
      if (!uncommitted_.empty() || !held_.empty()) {
        return Status::Invalid("sink '", settings_.sink_name,
                               "': rows written after the last checkpoint were not committed");
      }
      return Status::OK();
    }
    return CommitOpen(-1);
  }

  void Abort() override {
    if (session_ != nullptr && in_transaction_) (void)session_->Rollback();
    in_transaction_ = false;
    uncommitted_.clear();
    held_.clear();
  }

 private:
  const sql::Dialect& dialect() const { return session_->dialect(); }

  /// Creates or checks the table (and `sluice_commits`) and prepares the writes, on a new
  /// session.
  Status Setup() {
    const TableOptions& table = settings_.table;
    SLUICE_ASSIGN_OR_RAISE(auto columns, session_->TableColumns(table.table));
    if (columns.empty()) {
      if (!table.create_table) {
        return Status::Invalid("table '", table.table, "' does not exist in the ",
                               dialect().name(),
                               " database; create it, or set create_table: true to create it "
                               "from the stream's schema");
      }
      SLUICE_ASSIGN_OR_RAISE(auto create,
                             CreateTableSql(dialect(), table.table, *schema_, table.key));
      SLUICE_RETURN_NOT_OK(session_->Execute(create));
    } else {
      for (const auto& field : schema_->fields()) {
        if (std::find(columns.begin(), columns.end(), field->name()) != columns.end()) continue;
        return Status::Invalid("table '", table.table, "' has no column '", field->name(),
                               "' for the stream's field of that name",
                               SpellingHint(field->name(), columns),
                               "; add the column, or select the fields the table holds");
      }
    }
    if (settings_.exactly_once) SLUICE_RETURN_NOT_OK(SetupCommits());
    return session_->PrepareWrites(*schema_, table);
  }

  /// Creates `sluice_commits` and this sink's row in it when missing.
  Status SetupCommits() {
    auto schema = arrow::schema({arrow::field("pipeline", arrow::utf8()),
                                 arrow::field("sink", arrow::utf8()),
                                 arrow::field("checkpoint", arrow::int64())});
    SLUICE_ASSIGN_OR_RAISE(auto existing, session_->TableColumns(kCommitsTable));
    if (existing.empty()) {
      SLUICE_ASSIGN_OR_RAISE(
          auto create, CreateTableSql(dialect(), kCommitsTable, *schema, {"pipeline", "sink"}));
      SLUICE_RETURN_NOT_OK(session_->Execute(create));
    }
    SLUICE_ASSIGN_OR_RAISE(int64_t rows,
                           session_->QueryInteger(
                               fmt::format("SELECT COUNT(*) FROM {} WHERE pipeline = {} AND "
                                           "sink = {}",
                                           dialect().QuoteIdentifier(kCommitsTable),
                                           dialect().QuoteLiteral(settings_.pipeline_name),
                                           dialect().QuoteLiteral(settings_.sink_name)),
                               0));
    if (rows > 0) return Status::OK();
    return session_->Execute(fmt::format(
        "INSERT INTO {} (pipeline, sink, checkpoint) VALUES ({}, {}, -1)",
        dialect().QuoteIdentifier(kCommitsTable), dialect().QuoteLiteral(settings_.pipeline_name),
        dialect().QuoteLiteral(settings_.sink_name)));
  }

  /// The statement that records checkpoint `id` as this sink's last, inside its transaction.
  std::string MarkSql(int64_t id) const {
    return fmt::format("UPDATE {} SET checkpoint = {} WHERE pipeline = {} AND sink = {}",
                       dialect().QuoteIdentifier(kCommitsTable), id,
                       dialect().QuoteLiteral(settings_.pipeline_name),
                       dialect().QuoteLiteral(settings_.sink_name));
  }

  Status BeginIfNeeded() {
    if (in_transaction_) return Status::OK();
    SLUICE_RETURN_NOT_OK(session_->Begin());
    in_transaction_ = true;
    return Status::OK();
  }

  Status WriteNow(const std::shared_ptr<arrow::RecordBatch>& batch) {
    uncommitted_.push_back(Uncommitted{batch, {}});
    return Retrying([&] {
      SLUICE_RETURN_NOT_OK(BeginIfNeeded());
      return WriteBatch(&uncommitted_.back());
    });
  }

  /// Writes one batch into the open transaction, slice by slice; rows the database refuses
  /// become dead letters (once: a batch written again after a reconnect reports only rows it
  /// had not reported).
  Status WriteBatch(Uncommitted* entry) {
    const arrow::RecordBatch& batch = *entry->batch;
    const int64_t step = std::max<int64_t>(1, settings_.max_rows_per_write);
    for (int64_t start = 0; start < batch.num_rows(); start += step) {
      const int64_t length = std::min(step, batch.num_rows() - start);
      SLUICE_ASSIGN_OR_RAISE(
          auto rejected,
          WriteIsolatingRejects(
              length,
              [&](int64_t offset, int64_t count) {
                return session_->WriteSlice(batch, start + offset, count);
              },
              [&](const Status& status) { return session_->IsRowError(status); }));
      for (const auto& row : rejected) {
        const int64_t index = start + row.row;
        if (std::find(entry->rejected.begin(), entry->rejected.end(), index) !=
            entry->rejected.end()) {
          continue;
        }
        entry->rejected.push_back(index);
        SLUICE_RETURN_NOT_OK(Reject(batch, index, row.reason));
      }
    }
    return Status::OK();
  }

  Status Reject(const arrow::RecordBatch& batch, int64_t row, const std::string& message) {
    // "PostgreSQL error: [22001] value too long ..." -> "rejected by PostgreSQL: [22001] ...".
    std::string_view text = message;
    const std::string prefix = fmt::format("{} error: ", dialect().name());
    if (text.substr(0, prefix.size()) == prefix) text.remove_prefix(prefix.size());
    std::string reason = fmt::format("rejected by {}: {}", dialect().name(), text);
    if (dead_letters_ == nullptr) {
      return Status::Invalid("sink '", settings_.sink_name, "': ", reason);
    }
    dead_letters_->Add(exec::DeadLetter{std::move(reason), "sink:" + settings_.sink_name, "", "",
                                        exec::RowToJson(batch, row)});
    return Status::OK();
  }

  /// Commits the open transaction. `checkpoint` is the checkpoint it records (exactly-once),
  /// or -1. A commit whose answer was lost with the connection is looked up afterwards: when
  /// `sluice_commits` shows the checkpoint, it happened; otherwise everything is written again
  /// and committed on a new connection. Without a checkpoint the outcome cannot be known, and
  /// the transaction is written again (at-least-once).
  Status CommitOpen(int64_t checkpoint) {
    if (!in_transaction_) {
      uncommitted_.clear();
      return Status::OK();
    }
    Status status = session_->Commit();
    in_transaction_ = false;
    if (!status.ok()) {
      if (!session_->IsConnectionLost(status)) return Failed("commit", status);
      SLUICE_RETURN_NOT_OK(Reconnect(status));
      bool committed = false;
      if (checkpoint >= 0) {
        SLUICE_ASSIGN_OR_RAISE(int64_t last, LastCommittedCheckpoint());
        committed = last >= checkpoint;
      }
      if (!committed) {
        SLUICE_RETURN_NOT_OK(Retrying([&] {
          SLUICE_RETURN_NOT_OK(BeginIfNeeded());
          SLUICE_RETURN_NOT_OK(Replay());
          SLUICE_RETURN_NOT_OK(session_->Commit());
          in_transaction_ = false;
          return Status::OK();
        }));
      }
    }
    uncommitted_.clear();
    return Status::OK();
  }

  /// Writes everything of the lost transaction again, in a new one.
  Status Replay() {
    for (auto& entry : uncommitted_) SLUICE_RETURN_NOT_OK(WriteBatch(&entry));
    if (prepared_ >= 0) SLUICE_RETURN_NOT_OK(session_->Execute(MarkSql(prepared_)));
    return Status::OK();
  }

  /// Runs `step`; when the connection is lost, reconnects, writes the lost transaction again
  /// and runs `step` once more, until reconnect_timeout.
  template <typename Step>
  Status Retrying(Step&& step) {
    for (;;) {
      Status status = step();
      if (status.ok()) return status;
      if (!session_->IsConnectionLost(status)) return Failed("write", status);
      SLUICE_RETURN_NOT_OK(Reconnect(status));
      if (uncommitted_.empty() && prepared_ < 0) continue;
      // The last entry is the batch `step` was writing: Replay() covers it.
      status = [&] {
        SLUICE_RETURN_NOT_OK(BeginIfNeeded());
        return Replay();
      }();
      if (status.ok()) return status;
      if (!session_->IsConnectionLost(status)) return Failed("write", status);
    }
  }

  /// Opens a new session after `lost`, with backoff, until reconnect_timeout has passed.
  Status Reconnect(const Status& lost) {
    in_transaction_ = false;
    const auto deadline = Clock::now() + settings_.reconnect_timeout;
    auto backoff = std::chrono::milliseconds(100);
    Status last = lost;
    logger_->warn("lost the connection to {} ({}); reconnecting", dialect().name(),
                  lost.message());
    while (Clock::now() < deadline) {
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      auto session = sessions_();
      if (!session.ok()) {
        last = session.status();
        continue;
      }
      session_ = std::move(*session);
      Status setup = Setup();
      if (setup.ok()) {
        logger_->info("reconnected to {}", dialect().name());
        return Status::OK();
      }
      last = setup;
      if (!session_->IsConnectionLost(setup)) return Failed("reconnect", setup);
    }
    return Status::IOError("sink '", settings_.sink_name, "': lost the connection to ",
                           dialect().name(), " and could not reconnect within ",
                           std::chrono::duration_cast<std::chrono::seconds>(
                               settings_.reconnect_timeout)
                               .count(),
                           " s: ", last.message());
  }

  Status Failed(std::string_view what, const Status& status) const {
    return status.WithMessage("sink '", settings_.sink_name, "': ", what, " failed: ",
                              status.message());
  }

  SqlSinkSettings settings_;
  SessionFactory sessions_;
  exec::DeadLetterQueue* dead_letters_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<arrow::Schema> schema_;
  std::unique_ptr<Session> session_;
  bool in_transaction_ = false;
  std::vector<Uncommitted> uncommitted_;
  /// The checkpoint prepared and not yet committed, or -1.
  int64_t prepared_ = -1;
  /// Batches written after checkpoint `prepared_` was prepared.
  std::vector<std::shared_ptr<arrow::RecordBatch>> held_;
};

}  // namespace

std::unique_ptr<exec::Sink> MakeSqlSink(SqlSinkSettings settings, SessionFactory sessions,
                                        exec::DeadLetterQueue* dead_letters) {
  return std::make_unique<SqlSink>(std::move(settings), std::move(sessions), dead_letters);
}

}  // namespace sluice::connectors::sql
