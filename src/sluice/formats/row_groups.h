#pragma once

// Reading an input made of groups of rows that its footer describes (Parquet row groups, ORC
// stripes): group by group, in batches, with a group that cannot be decoded skipped whole.
// Not part of the public API.

#include <arrow/record_batch.h>

#include <memory>
#include <string>
#include <vector>

#include "sluice/formats/record_reader.h"

namespace sluice::formats::internal {

/// Reads the groups of one input in order. A group that cannot be opened or read is damaged
/// input: the rows of it not read yet are reported with ReportDamage (the footer counts them)
/// and the groups after it are read. Subclasses say how many groups there are, what each holds
/// and how to read one. Used from one thread at a time.
class RowGroupReader {
 public:
  virtual ~RowGroupReader() = default;

  /// The next batch, or nullptr at the end; the BatchSourceReader's NextBatch.
  Result<std::shared_ptr<arrow::RecordBatch>> Next(std::vector<exec::DeadLetter>* rejected);

  /// Bytes consumed, estimated from the groups done and the rows read of the current one.
  int64_t BytesRead() const;

 protected:
  /// `noun` names a group in messages ("row group", "stripe").
  RowGroupReader(std::string name, std::string noun, const ReadOptions& options)
      : name_(std::move(name)), noun_(std::move(noun)), options_(options) {}

  virtual int64_t num_groups() const = 0;
  virtual int64_t GroupRows(int64_t group) const = 0;
  virtual int64_t GroupBytes(int64_t group) const = 0;
  /// Batches of at most options.batch_rows rows of one group; may throw (it is guarded).
  virtual Result<std::shared_ptr<arrow::RecordBatchReader>> OpenGroup(int64_t group) = 0;

 private:
  Status SkipGroup(const Status& error, std::vector<exec::DeadLetter>* rejected);

  std::string name_;
  std::string noun_;
  ReadOptions options_;
  std::shared_ptr<arrow::RecordBatchReader> batches_;
  int64_t group_ = 0;
  int64_t group_rows_read_ = 0;
  int64_t rows_done_ = 0;
  int64_t bytes_done_ = 0;
};

}  // namespace sluice::formats::internal
