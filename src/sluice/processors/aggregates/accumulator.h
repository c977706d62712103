#pragma once

#include <arrow/array.h>
#include <arrow/type.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/exec/time.h"

namespace sluice::processors::aggregates {

/// The aggregate functions a window computes, by their YAML names (see FunctionNames()).
enum class Function {
  kCount,
  kSum,
  kMin,
  kMax,
  kAvg,
  kFirst,
  kLast,
  kVarianceSample,
  kVariancePopulation,
  kStddevSample,
  kStddevPopulation,
  kPercentile,  ///< median and p<N>, with Aggregate::quantile
  kCountDistinct,
  kApproxCountDistinct,
  kHarmonicMean,
  kGeometricMean,
  kEma,
  kZScore,
  kMinMax,
};

/// One aggregate of one field, as named in the `aggregate` option.
struct Aggregate {
  Function function = Function::kCount;
  /// The name the user wrote ("stddev", "p95"): the output column is `<field>_<name>`.
  std::string name;
  /// For kPercentile: the quantile in [0, 1].
  double quantile = 0.5;
};

/// Every function name the `aggregate` option accepts (percentiles appear as "median" and
/// "p<N>"), for "did you mean" hints and the reference documentation.
const std::vector<std::string>& FunctionNames();

/// Parses a function name ("avg", "stddev_samp", "p99"); nullopt when it is not one.
std::optional<Aggregate> ParseFunction(std::string_view name);

/// Whether `function` can aggregate values of `type`; when not, the reason, for the
/// configuration error.
std::optional<std::string> CheckInputType(const Aggregate& aggregate, const arrow::DataType& type);

/// The type of the column an aggregate of `input` produces.
std::shared_ptr<arrow::DataType> OutputType(const Aggregate& aggregate,
                                            const std::shared_ptr<arrow::DataType>& input);

/// The representations of one input column an accumulator may read, prepared once per batch
/// by PrepareColumn() so that accumulators run tight loops over plain buffers.
struct ValueColumn {
  int64_t length = 0;
  /// The validity bitmap and its bit offset; null when every value is valid.
  const uint8_t* validity = nullptr;
  int64_t validity_offset = 0;
  /// The values as doubles (numeric input), as 64-bit integers (integer-like input: ints, bool,
  /// timestamps, dates) and as strings (string input); unset representations are null.
  const double* doubles = nullptr;
  const int64_t* integers = nullptr;
  const arrow::StringArray* strings = nullptr;

  bool IsValid(int64_t row) const {
    return validity == nullptr ||
           ((validity[(validity_offset + row) >> 3] >> ((validity_offset + row) & 7)) & 1) != 0;
  }

  /// Keeps the converted arrays alive.
  std::vector<std::shared_ptr<arrow::Array>> owned;
};

/// How an input type is stored inside accumulators.
enum class Storage { kDouble, kInteger, kString };

/// The storage used for values of `type` by min, max, first, last and the distinct counts.
Storage StorageOf(const arrow::DataType& type);

/// Converts `column` into the representations `needs_doubles` / StorageOf(type) ask for.
Result<ValueColumn> PrepareColumn(const std::shared_ptr<arrow::Array>& column, bool needs_doubles);

/// A slot that Consume() skips: the row is late or belongs to no window.
constexpr uint32_t kNoSlot = UINT32_MAX;

/// The running state of one aggregate for many groups at once. A group's state lives in a
/// numbered slot; the window processor maps (window, key) pairs to slots, so one accumulator
/// serves every open window and Consume() runs once per batch in a typed loop — no per-row
/// virtual calls. Slots can be merged (sliding-window panes, merging sessions) and reset for
/// reuse. Not thread-safe; owned by one window processor.
class Accumulator {
 public:
  virtual ~Accumulator() = default;

  /// Makes room for slots [0, slots); new slots are empty.
  virtual void Resize(uint32_t slots) = 0;
  /// Adds row i of `values` (with event time times[i]) to slot slots[i], for each i < rows;
  /// nulls and kNoSlot rows are skipped. Rows arrive in arrival order, which breaks event-time
  /// ties for first, last and ema.
  virtual void Consume(const ValueColumn& values, const exec::Timestamp* times,
                       const uint32_t* slots, int64_t rows) = 0;
  /// Folds slot from[i] into slot into[i]; `from` holds rows that arrived after (or, for
  /// panes, lie later in time than) those of `into` only as far as first/last ties go.
  virtual void Merge(const uint32_t* from, const uint32_t* into, int64_t count) = 0;
  /// Empties the given slots, releasing what they hold.
  virtual void Reset(const uint32_t* slots, int64_t count) = 0;
  /// Releases every slot and all memory.
  virtual void Clear() = 0;
  /// The results of the given slots, in order, as one array of OutputType(). Does not change
  /// the state (windows fire early and again after late updates).
  virtual Result<std::shared_ptr<arrow::Array>> Finalize(const uint32_t* slots,
                                                         int64_t count) const = 0;
  /// Approximate bytes held.
  virtual int64_t state_bytes() const = 0;

  // Checkpoints: the state of some slots as Arrow columns, and back. Only checkpoints call
  // these, never the per-batch path.

  /// The columns Save() makes, by name and type: everything a slot holds, so that a loaded slot
  /// goes on exactly (bit for bit) as the saved one would have.
  virtual std::vector<std::shared_ptr<arrow::Field>> StateFields() const = 0;
  /// The state of slots[0..count), one row per slot in that order, as new arrays of
  /// StateFields(): they share no buffer with the accumulator, so that a checkpoint can write
  /// them on another thread while the accumulator goes on.
  virtual Result<std::vector<std::shared_ptr<arrow::Array>>> Save(const uint32_t* slots,
                                                                  int64_t count) const = 0;
  /// Puts row i of `columns` (made by Save() of an accumulator of the same aggregate and input
  /// type) into slot slots[i], for every row; those slots exist (Resize()) and are empty.
  /// Columns that do not match StateFields() are an error, never a crash.
  virtual Status Load(const std::vector<std::shared_ptr<arrow::Array>>& columns,
                      const uint32_t* slots) = 0;
};

/// The accumulator of `aggregate` over a column of `input` type (checked by CheckInputType).
std::unique_ptr<Accumulator> MakeAccumulator(const Aggregate& aggregate,
                                             const std::shared_ptr<arrow::DataType>& input);

}  // namespace sluice::processors::aggregates
