#pragma once

#include <arrow/record_batch.h>
#include <arrow/type_fwd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/connectors/http/http_sink_options.h"
#include "sluice/formats/message_codec.h"

namespace sluice::connectors::http {

/// What a body adds around its rows: `prefix`, the rows separated by `separator`, `suffix`.
struct Framing {
  std::string prefix;
  std::string separator;
  std::string suffix;
};

/// How many of the encoded rows [begin, ends.size()) go in the next request: at most
/// `max_rows`, and as many as keep the framed body within `max_bytes`, but at least one (a row
/// larger than `max_bytes` goes alone). Row i is [ends[i-1], ends[i]) of the encoded text.
size_t RowsThatFit(const std::vector<int64_t>& ends, size_t begin, const Framing& framing,
                   int64_t max_rows, int64_t max_bytes);

/// One request's body and the pending rows it holds.
struct RequestBody {
  std::string body;
  /// Pending rows [begin, begin + num_rows).
  size_t begin = 0;
  size_t num_rows = 0;
  /// Whether a limit (rows or bytes) closed the request before the pending rows ran out; a
  /// request that is not full may wait for more rows.
  bool full = false;
};

/// The rows a sink has taken and not yet sent, encoded in the body format once, and the
/// batches they came from (for dead letters). Not thread-safe.
class PendingRows {
 public:
  /// For rows of `schema`; the json, jsonl and csv rows are encoded by formats::PayloadEncoder,
  /// arrow bodies by PayloadEncoder::EncodeBatch().
  static Result<std::unique_ptr<PendingRows>> Make(BodyFormat format,
                                                   const std::shared_ptr<arrow::Schema>& schema);

  /// Takes every row of `batch`.
  Status Add(const std::shared_ptr<arrow::RecordBatch>& batch);

  size_t num_rows() const { return origins_.size(); }

  /// The body of a request of the pending rows from `begin` on, as many as fit `max_rows` and
  /// `max_bytes` (one row at least). Call only with begin < num_rows().
  Result<RequestBody> Next(size_t begin, int64_t max_rows, int64_t max_bytes) const;

  /// Drops the first `count` pending rows (sent, or dead letters).
  void Drop(size_t count);

  /// Pending row `index` as a JSON object, for its dead letter.
  std::string RowRecord(size_t index) const;

 private:
  PendingRows(std::unique_ptr<formats::PayloadEncoder> encoder, Framing framing)
      : encoder_(std::move(encoder)), framing_(std::move(framing)) {}

  /// Pending rows [begin, begin + count) as one batch.
  Result<std::shared_ptr<arrow::RecordBatch>> Gather(size_t begin, size_t count) const;

  /// Row formats: the encoder of one row; null for arrow.
  std::unique_ptr<formats::PayloadEncoder> encoder_;
  Framing framing_;
  /// Row formats: the encoded rows, row i being text_[ends_[i-1], ends_[i]).
  std::string text_;
  std::vector<int64_t> ends_;
  /// The batch (index into batches_) and row of each pending row.
  std::vector<std::pair<uint32_t, int64_t>> origins_;
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches_;
};

}  // namespace sluice::connectors::http
