#pragma once

// The statement of an `sql` step, prepared in a sandboxed DuckDB database; the processors that
// run it per batch, per window or over the whole input are in sql.cc.

#include <arrow/api.h>

#include <memory>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/location.h"
#include "sluice/config/options.h"
#include "sluice/duckdb/connection.h"
#include "sluice/duckdb/database.h"
#include "sluice/processors/sql_shape.h"

namespace sluice::processors {

/// The files a statement may read besides `input` (`allow_files`), as DuckDB matches them: each
/// listed path both absolute and relative to the working directory, since a statement may name
/// a file either way.
struct AllowedFiles {
  std::vector<std::string> directories;  ///< each ending in '/'
  std::vector<std::string> files;
};

/// Reads `allow_files`: paths relative to the pipeline file, or absolute, of files or
/// directories that exist.
Result<AllowedFiles> ReadAllowedFiles(const config::Options& options);

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
                                                const AllowedFiles& allowed);

  const std::shared_ptr<arrow::Schema>& schema() const { return statement_->schema(); }
  /// The schema of `input`.
  const std::shared_ptr<arrow::Schema>& input_schema() const { return input_; }
  const StatementShape& shape() const { return shape_; }
  /// Where the statement stands in the pipeline file, for messages of the run.
  const config::Location& where() const { return where_; }

  /// Runs the statement with `input` holding `batches`; DuckDB answers in vectors of 2048 rows.
  Result<std::vector<std::shared_ptr<arrow::RecordBatch>>> Run(
      std::vector<std::shared_ptr<arrow::RecordBatch>> batches);

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
      duckdb::Connection* connection, const std::string& query);

  // Declared before the statement, which must be destroyed first.
  std::unique_ptr<duckdb::Connection> connection_;
  std::unique_ptr<duckdb::PreparedStatement> statement_;
  StatementShape shape_;
  std::shared_ptr<arrow::Schema> input_;
  config::Location where_;
};

}  // namespace sluice::processors
