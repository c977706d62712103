#pragma once

#include <arrow/record_batch.h>
#include <arrow/type_fwd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/connectors/sql/dialect.h"
#include "sluice/connectors/sql/table_options.h"
#include "sluice/exec/registry.h"

namespace sluice::connectors::sql {

/// One connection to a database, as the SQL sink core drives it. A driver (PostgreSQL, MySQL)
/// implements it over its client library. Errors carry the database's own message; the core
/// asks the driver how to classify them.
class Session {
 public:
  virtual ~Session() = default;

  virtual const Dialect& dialect() const = 0;

  /// Runs statements that return no rows.
  virtual Status Execute(std::string_view sql) = 0;
  /// Runs a query and answers the integer in its first row and column, or `if_none` when it
  /// returns no row or a null.
  virtual Result<int64_t> QueryInteger(std::string_view sql, int64_t if_none) = 0;

  /// Whether `table` exists, and its column names in order when it does.
  virtual Result<std::vector<std::string>> TableColumns(std::string_view table) = 0;

  /// Prepares the writes of rows of `schema` into the table described by `options`
  /// (statements, a staging table for upserts). Called once per connection, after the table
  /// exists, outside a transaction.
  virtual Status PrepareWrites(const arrow::Schema& schema, const TableOptions& options) = 0;

  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  /// Rolls back the open transaction, if any; never fails for lack of one.
  virtual Status Rollback() = 0;

  /// Writes rows [offset, offset + length) of `batch` inside the open transaction, atomically:
  /// on error nothing of the slice stays and the transaction remains usable (a savepoint).
  /// Uses the bulk path (COPY, multi-row statements), inserting or upserting as prepared.
  virtual Status WriteSlice(const arrow::RecordBatch& batch, int64_t offset, int64_t length) = 0;

  /// Whether `status` (from WriteSlice) was caused by the rows written: a constraint
  /// violation, a value out of range or too long. Such rows become dead letters.
  virtual bool IsRowError(const Status& status) const = 0;
  /// Whether `status` means the connection is gone (server restart, network): the core then
  /// reconnects with backoff and writes again what was not committed.
  virtual bool IsConnectionLost(const Status& status) const = 0;
};

/// Opens a session; called again after a lost connection.
using SessionFactory = std::function<Result<std::unique_ptr<Session>>()>;

/// What the core needs besides the session.
struct SqlSinkSettings {
  /// The sink's user-facing name and the pipeline's, which identify its row in
  /// `sluice_commits`.
  std::string sink_name;
  std::string pipeline_name;
  TableOptions table;
  /// Rows per WriteSlice at most: a pipeline batch larger than this is written in slices.
  int64_t max_rows_per_write = 65536;
  /// How long to keep trying to reconnect after a lost connection before the run fails.
  std::chrono::nanoseconds reconnect_timeout = std::chrono::seconds(60);
  /// Whether checkpoints decide the transactions (exactly-once with `sluice_commits`); else
  /// each input batch is one transaction (at-least-once across a crash: a batch committed
  /// before the source acknowledged it is written again).
  bool exactly_once = false;
};

/// The sink every SQL database shares: creates the table, writes each batch in a transaction
/// through the Session's bulk path, turns rows the database refuses into dead letters (the rest
/// of the batch is written), reconnects with backoff after a lost connection and writes again
/// what was not committed, and, with checkpoints, commits one transaction per checkpoint that
/// also records the checkpoint's id in `sluice_commits` (a kDeciding sink: recovery neither
/// loses nor repeats a batch).
std::unique_ptr<exec::Sink> MakeSqlSink(SqlSinkSettings settings, SessionFactory sessions,
                                        exec::DeadLetterQueue* dead_letters);

}  // namespace sluice::connectors::sql
