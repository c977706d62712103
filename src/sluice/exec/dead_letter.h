#pragma once

#include <arrow/record_batch.h>
#include <arrow/type.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::exec {

/// A record the pipeline could not process, kept with why and where it came from, so that no
/// input is ever lost silently.
struct DeadLetter {
  /// Why the record was rejected, e.g. "invalid JSON: missing comma at byte 14".
  std::string reason;
  /// The stage that rejected it: "source", a processor name ("derive"), or "sink:<name>".
  std::string stage;
  /// The source the record came from.
  std::string source;
  /// Where in the source: "data/quotes.csv:17" (file and line), "row 17", or an offset.
  std::string origin;
  /// The record itself: the raw text for undecodable input, a JSON object for decoded rows.
  std::string record;
  /// For a row a processor rejects: its index in the batch the processor was given. The
  /// pipeline, which knows where that batch's rows came from, then fills `source` and `origin`.
  int64_t row = -1;
  /// For damaged input skipped as a whole (a span a decoder could not resynchronise within, a
  /// corrupt row group): the rows it held, when the format knows them, and its bytes. Both are
  /// 0 for a dead letter that is itself the one rejected record.
  int64_t skipped_rows = 0;
  int64_t skipped_bytes = 0;
};

/// The schema of the dead-letter output: one row per DeadLetter plus the time it was rejected.
std::shared_ptr<arrow::Schema> DeadLetterSchema();

/// Converts dead letters to a batch of DeadLetterSchema(). Every column is valid UTF-8, so the
/// dead-letter output opens in every reader: in `stage`, `source`, `origin` and `reason` each
/// byte that is not valid UTF-8 becomes U+FFFD; a `record` that is not valid UTF-8 (raw input
/// that could not be decoded) is written with each such byte as \xNN and each backslash as
/// \\, which loses nothing, and its reason says so.
Result<std::shared_ptr<arrow::RecordBatch>> DeadLettersToBatch(
    const std::vector<DeadLetter>& letters);

/// Renders row `row` of `batch` as a one-line JSON object, for the `record` field. Strings that
/// are not valid UTF-8 keep their bytes; DeadLettersToBatch escapes the record then.
std::string RowToJson(const arrow::RecordBatch& batch, int64_t row);

/// Collects dead letters from every stage. Thread-safe: sources run on their own threads.
class DeadLetterQueue {
 public:
  void Add(DeadLetter letter);
  /// Moves out everything collected so far.
  std::vector<DeadLetter> Drain();
  /// How many dead letters are waiting to be drained.
  size_t pending() const;
  /// Calls `locate` on each waiting dead letter from the `first`-th on (an earlier pending()),
  /// so that the caller can fill in where its rows came from.
  void Locate(size_t first, const std::function<void(DeadLetter&)>& locate);
  /// All dead letters ever added.
  int64_t total() const;
  /// Those of them rejected as late (reason "late ...").
  int64_t late() const;
  /// The rows and bytes of damaged input skipped (DeadLetter::skipped_rows, skipped_bytes).
  int64_t skipped_rows() const;
  int64_t skipped_bytes() const;

 private:
  mutable std::mutex mutex_;
  std::vector<DeadLetter> pending_;
  int64_t total_ = 0;
  int64_t late_ = 0;
  int64_t skipped_rows_ = 0;
  int64_t skipped_bytes_ = 0;
};

}  // namespace sluice::exec
