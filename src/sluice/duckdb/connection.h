#pragma once

#include <arrow/record_batch.h>
#include <arrow/type_fwd.h>
#include <duckdb.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/duckdb/database.h"
#include "sluice/duckdb/plan.h"
#include "sluice/duckdb/prepared_statement.h"

namespace sluice::duckdb {

namespace internal {
class ArrowScanRegistry;
}  // namespace internal

class QueryStream;

/// A session on a Database: runs SQL, returns results as Arrow, and lets queries read Arrow
/// data in place.
///
/// Arrow data registered under a name (RegisterBatch, RegisterBatches, RegisterTable,
/// RegisterReader) becomes a temporary view of that name, visible to this connection only.
/// DuckDB reads the registered buffers where they are, through the Arrow C Data Interface,
/// without copying fixed-width columns (see arrow_scan_internal.h for what is and is not
/// copied). Results come back through DuckDB's Arrow conversion, which writes new buffers.
///
/// The session time zone is UTC, so `timestamp[tz=UTC]` columns keep their zone both ways.
///
/// Owns its duckdb_connection handles and keeps its Database alive. One thread at a time;
/// open one Connection per thread. Prepared statements must be destroyed before it.
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> Open(std::shared_ptr<Database> database);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one or more statements and discards their results.
  Status Execute(std::string_view sql);

  /// Runs a statement and returns its whole result. Several statements may be given; the
  /// result is the last one's.
  Result<std::shared_ptr<arrow::Table>> Query(std::string_view sql);

  /// Runs a query and hands its result over piece by piece, as DuckDB produces it, so that a
  /// result larger than memory can be read (see query_stream.h).
  Result<std::unique_ptr<QueryStream>> Stream(std::string_view sql);

  /// The schema a statement's result would have, found by binding it, without running it.
  /// A statement that refers to an unknown table or column fails here with DuckDB's message.
  Result<std::shared_ptr<arrow::Schema>> Describe(std::string_view sql);

  /// The logical plan of one statement, bound but not optimised (see PlanNode), found with
  /// `EXPLAIN (FORMAT json)` and without running the statement.
  Result<PlanNode> LogicalPlan(std::string_view sql);

  /// Binds and plans one statement once, for running many times (see PreparedStatement).
  Result<std::unique_ptr<PreparedStatement>> Prepare(std::string_view sql);

  /// Makes `batch` readable as the table `name`, any number of times, until it is replaced or
  /// unregistered. The batch stays shared, not copied.
  Status RegisterBatch(const std::string& name, std::shared_ptr<arrow::RecordBatch> batch);
  /// As RegisterBatch, for any number of batches of `schema` (possibly none).
  Status RegisterBatches(const std::string& name, std::shared_ptr<arrow::Schema> schema,
                         std::vector<std::shared_ptr<arrow::RecordBatch>> batches);
  /// As RegisterBatch, for each chunk of `table`.
  Status RegisterTable(const std::string& name, const std::shared_ptr<arrow::Table>& table);
  /// Makes a stream readable as the table `name`. A stream can be read once: the first query
  /// that scans it consumes it, and scanning it again is an error.
  Status RegisterReader(const std::string& name, std::shared_ptr<arrow::RecordBatchReader> reader);

  /// Replaces the batches registered as `name`, which must have the registered schema. Views
  /// and prepared statements over `name` stay bound, so this costs no catalog change: it is
  /// how a prepared statement is run over one micro-batch after another.
  Status SetBatches(const std::string& name,
                    std::vector<std::shared_ptr<arrow::RecordBatch>> batches);

  /// Drops the view `name` and releases the data registered under it.
  Status Unregister(const std::string& name);

  /// Shuts the whole database off from the outside for every statement from now on: no file is
  /// read or written, no URL fetched, no extension installed or loaded (DuckDB's
  /// `enable_external_access = false`), except the files in `files` and under `directories`
  /// (DuckDB's `allowed_paths` and `allowed_directories`). DuckDB matches the paths as the
  /// statements spell them, by prefix, refusing `..` after a listed directory; it follows
  /// symbolic links found under one. Arrow data registered here stays readable.
  Status RestrictExternalAccess(const std::vector<std::string>& directories,
                                const std::vector<std::string>& files);

  /// Forbids any further change of the database's settings (DuckDB's `lock_configuration`),
  /// after the caller's own setup, so that no statement can undo RestrictExternalAccess().
  /// LogicalPlan() needs a setting changed, so it fails from now on.
  Status LockConfiguration();

 private:
  Connection(std::shared_ptr<Database> database, duckdb_connection connection,
             duckdb_connection conversion);

  Status RegisterSource(const std::string& name, std::shared_ptr<arrow::Schema> schema,
                        std::vector<std::shared_ptr<arrow::RecordBatch>> batches,
                        std::shared_ptr<arrow::RecordBatchReader> reader);

  std::shared_ptr<Database> database_;
  duckdb_connection connection_ = nullptr;
  /// A second session used only to convert Arrow data inside scans, so that conversions
  /// never re-enter the session that is running the query.
  duckdb_connection conversion_ = nullptr;
  std::shared_ptr<internal::ArrowScanRegistry> registry_;
  std::string scan_function_;
};

}  // namespace sluice::duckdb
