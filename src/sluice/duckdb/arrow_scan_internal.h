#pragma once

#include <arrow/record_batch.h>
#include <arrow/type_fwd.h>
#include <duckdb.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/duckdb/result_internal.h"

// How Arrow data registered on a Connection becomes a DuckDB table without being copied.
//
// Each Connection registers one table function, `sluice_arrow_scan_<n>(name)`, and for every
// registered name a temporary view `name` over it. The function hands DuckDB the registered
// record batches in slices of one DuckDB vector (2048 rows): each slice is exported through the
// Arrow C Data Interface and wrapped by duckdb_data_chunk_from_arrow, whose vectors point into
// the Arrow buffers: fixed-width values (integers, doubles, dates, timestamps) are not copied
// (duckdb_bridge_test checks the pointers), while strings and booleans are translated to
// DuckDB's layout one vector at a time. The function's output vectors then reference those
// vectors, so nothing is materialised per registered batch.
//
// The deprecated duckdb_arrow_scan is not used: it declares filter pushdown to DuckDB's
// optimiser but its C stream producer cannot apply the pushed filters, so in DuckDB 1.4 a
// `WHERE` over such a view silently returns unfiltered rows. A C API table function declares
// no filter pushdown, so DuckDB evaluates every filter itself.
namespace sluice::duckdb::internal {

/// What is registered under one name: a schema and either batches that can be scanned any
/// number of times, or a reader that can be scanned once.
///
/// Shared between the Connection's registry and DuckDB's bind data (a prepared statement keeps
/// its sources alive). Thread-safe: DuckDB may scan from a worker thread.
class ArrowScanSource {
 public:
  /// Checks that DuckDB can read `schema` and derives the DuckDB column types.
  static Result<std::shared_ptr<ArrowScanSource>> Make(duckdb_connection conversion,
                                                       std::shared_ptr<arrow::Schema> schema);

  const std::shared_ptr<arrow::Schema>& schema() const { return schema_; }
  const std::vector<LogicalType>& types() const { return types_; }

  /// Replaces the data with `batches`, which must have this source's schema.
  Status SetBatches(std::vector<std::shared_ptr<arrow::RecordBatch>> batches);
  /// Replaces the data with a reader, consumed by the first scan.
  Status SetReader(std::shared_ptr<arrow::RecordBatchReader> reader);

  /// What one scan reads: the current batches, or the reader (taken, so that a second scan
  /// of a consumed reader fails instead of reading nothing).
  struct Snapshot {
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
    std::shared_ptr<arrow::RecordBatchReader> reader;
  };
  Result<Snapshot> TakeSnapshot();

 private:
  ArrowScanSource(std::shared_ptr<arrow::Schema> schema, std::vector<LogicalType> types)
      : schema_(std::move(schema)), types_(std::move(types)) {}

  const std::shared_ptr<arrow::Schema> schema_;
  const std::vector<LogicalType> types_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches_;
  std::shared_ptr<arrow::RecordBatchReader> reader_;
  bool reader_mode_ = false;
};

/// The registered names of one Connection and the connection used for Arrow conversions.
///
/// Shared by the Connection and by the table function's extra info, which DuckDB keeps until
/// the database closes; Close() cuts it off from the Connection's handles before they go.
/// Thread-safe.
class ArrowScanRegistry {
 public:
  explicit ArrowScanRegistry(duckdb_connection conversion) : conversion_(conversion) {}

  void Add(const std::string& name, std::shared_ptr<ArrowScanSource> source);
  void Remove(const std::string& name);
  std::shared_ptr<ArrowScanSource> Find(const std::string& name) const;
  /// Forgets every source and the conversion connection; later scans fail cleanly.
  void Close();

  /// Runs `body` with the conversion connection (null once closed), serialised with Close().
  template <typename Body>
  auto WithConversion(Body&& body) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return body(conversion_);
  }

 private:
  mutable std::mutex mutex_;
  duckdb_connection conversion_;
  std::map<std::string, std::shared_ptr<ArrowScanSource>, std::less<>> sources_;
};

/// Registers a new `sluice_arrow_scan_<n>` table function on `connection`, reading from
/// `registry`, and returns its name.
Result<std::string> RegisterArrowScanFunction(duckdb_connection connection,
                                              std::shared_ptr<ArrowScanRegistry> registry);

}  // namespace sluice::duckdb::internal
