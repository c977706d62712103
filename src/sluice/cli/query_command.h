#pragma once

#include <iosfwd>
#include <string>

namespace sluice::cli {

/// What `sluice query FILE.duckdb "SELECT ..." [--format table|jsonl|csv]` was given.
struct QueryArguments {
  /// The DuckDB database file, opened read only.
  std::string database;
  std::string sql;
  /// table (aligned text), jsonl (one JSON object per row) or csv (with a header).
  std::string format = "table";
};

/// Runs the query and prints its result to `out`, errors to `err`. Returns the exit status: 0,
/// 1 when the query fails while it runs or the file cannot be opened (locked, damaged), 2 when
/// the file does not exist or the SQL does not parse or bind (DuckDB's message), 141 when the
/// reader of `out` went away.
int RunQuery(const QueryArguments& arguments, std::ostream& out, std::ostream& err);

}  // namespace sluice::cli
