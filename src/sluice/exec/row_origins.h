#pragma once

#include <arrow/array.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice::exec {

/// Where the rows of a batch on its way through the pipeline came from: the i-th row is row
/// RowOf(i) (0-based) of `name` — a file of a glob, or a source's stream. Stages that keep rows
/// in place pass the origins on unchanged; a filter adds the mask of the rows it kept, which is
/// resolved only when a dead letter asks for a row (rarely), so the common path costs nothing.
///
/// It also carries, for rows that were behind the rows before them in their source partition,
/// that partition's watermark (WithWatermarks()), which stateful stages judge lateness against.
///
/// A value type: copies share their (immutable) masks. Not thread-safe; used on the pipeline
/// thread.
class RowOrigins {
 public:
  /// Nothing is known: dead letters name only their stage.
  RowOrigins() = default;
  /// The name only (rows unknown, e.g. after a join): dead letters name it without a row.
  explicit RowOrigins(std::string name) : name_(std::move(name)) {}
  /// Row i of the batch is row `first_row + i` of `name`.
  RowOrigins(std::string name, int64_t first_row)
      : name_(std::move(name)), rows_known_(true), first_row_(first_row) {}
  /// Row i of the batch is at `offsets[i]` of partition `partitions[i]`, named in `names`
  /// (which the caller keeps alive): `orders/3@1234`.
  RowOrigins(std::shared_ptr<arrow::Int32Array> partitions,
             std::shared_ptr<arrow::Int64Array> offsets,
             const std::map<int32_t, std::string>* names)
      : rows_known_(true),
        partitions_(std::move(partitions)),
        offsets_(std::move(offsets)),
        partition_names_(names) {}

  const std::string& name() const { return name_; }
  bool rows_known() const { return rows_known_; }

  /// The origins of the rows a filter kept, where `kept` (a boolean array as long as this batch)
  /// is true; null and false rows were dropped.
  RowOrigins Select(std::shared_ptr<arrow::Array> kept) const;
  /// The origins of the rows from `offset` on (a slice of the batch).
  RowOrigins Slice(int64_t offset) const;
  /// The origins with the rows forgotten (the name stays).
  RowOrigins WithoutRows() const { return RowOrigins(name_); }
  /// The same origins, with `watermarks[i]` the watermark of the partition of this batch's row i
  /// when that row is behind it (kMinTimestamp otherwise).
  RowOrigins WithWatermarks(const std::vector<int64_t>& watermarks) const;
  /// The partition watermarks of the batch's `rows` rows, or empty when none is behind.
  std::vector<int64_t> RowWatermarks(int64_t rows) const;

  /// The 0-based row of `name()` that the batch's row `index` came from, when known.
  std::optional<int64_t> RowOf(int64_t index) const;
  /// "data/quotes.csv row 18" (1-based), or "" when the row is unknown.
  std::string Describe(int64_t index) const;

 private:
  /// What was done to the rows since they left the source, in order.
  struct Step {
    std::shared_ptr<arrow::Array> kept;  ///< a filter's mask, or null for a slice
    int64_t offset = 0;                  ///< a slice's offset
  };

  std::string name_;
  bool rows_known_ = false;
  int64_t first_row_ = 0;
  std::vector<Step> steps_;
  /// Every row's position in the source batch, built from steps_ when first needed.
  const std::vector<int64_t>& Resolved() const;
  /// The position in the source batch of the batch's row `index`, or -1.
  int64_t PositionOf(int64_t index) const;

  /// A slice before any mask, folded in: the batch's row 0 is the source batch's row `shift_`.
  int64_t shift_ = 0;
  /// By position in the source batch, from watermarks_base_ on.
  std::shared_ptr<const std::vector<int64_t>> watermarks_;
  int64_t watermarks_base_ = 0;
  /// For a partitioned source with offsets: each source row's partition and offset.
  std::shared_ptr<arrow::Int32Array> partitions_;
  std::shared_ptr<arrow::Int64Array> offsets_;
  const std::map<int32_t, std::string>* partition_names_ = nullptr;
  mutable std::shared_ptr<std::vector<int64_t>> resolved_;
};

}  // namespace sluice::exec
