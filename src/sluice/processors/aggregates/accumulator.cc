#include "sluice/processors/aggregates/accumulator.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <iterator>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>

#include "sluice/processors/aggregates/hyper_log_log.h"

namespace sluice::processors::aggregates {
namespace {

/// The inverse of PrepareColumn()'s integers, for min, max, first and last of integer-like
/// input.
Result<std::shared_ptr<arrow::Array>> FromInt64(const std::shared_ptr<arrow::Array>& values,
                                                const std::shared_ptr<arrow::DataType>& type) {
  switch (type->id()) {
    case arrow::Type::INT64:
      return values;
    case arrow::Type::TIMESTAMP:
    case arrow::Type::DATE64:
    case arrow::Type::TIME64:
    case arrow::Type::DURATION:
      return values->View(type);
    case arrow::Type::DATE32:
    case arrow::Type::TIME32: {
      SLUICE_ASSIGN_OR_RAISE(auto narrow, arrow::compute::Cast(*values, arrow::int32()));
      return narrow->View(type);
    }
    default:
      return arrow::compute::Cast(*values, type);
  }
}

Result<std::shared_ptr<arrow::Array>> BuildDoubles(const std::vector<double>& values,
                                                   const std::vector<bool>& valid) {
  arrow::DoubleBuilder builder;
  SLUICE_RETURN_NOT_OK(builder.AppendValues(values, valid));
  return builder.Finish();
}

Result<std::shared_ptr<arrow::Array>> BuildIntegers(const std::vector<int64_t>& values,
                                                    const std::vector<bool>& valid) {
  arrow::Int64Builder builder;
  SLUICE_RETURN_NOT_OK(builder.AppendValues(values, valid));
  return builder.Finish();
}

using StateColumns = std::vector<std::shared_ptr<arrow::Array>>;
using StateFieldList = std::vector<std::shared_ptr<arrow::Field>>;

/// Finishes each builder, in order, into the columns Save() returns.
Result<StateColumns> FinishState(const std::vector<arrow::ArrayBuilder*>& builders) {
  StateColumns columns;
  for (arrow::ArrayBuilder* builder : builders) {
    std::shared_ptr<arrow::Array> column;
    SLUICE_RETURN_NOT_OK(builder->Finish(&column));
    columns.push_back(std::move(column));
  }
  return columns;
}

/// Checks `columns` against `fields` before a Load(): as many, of the same types, of one
/// length. A state from a damaged or foreign checkpoint fails here instead of in a cast.
Status CheckState(const StateColumns& columns, const StateFieldList& fields) {
  if (columns.size() != fields.size()) {
    return Status::IOError("an aggregate's state has ", columns.size(), " columns, not ",
                           fields.size());
  }
  for (size_t i = 0; i < columns.size(); ++i) {
    if (!columns[i]->type()->Equals(*fields[i]->type()) ||
        columns[i]->length() != columns[0]->length()) {
      return Status::IOError("the aggregate state column '", fields[i]->name(), "' is ",
                             columns[i]->type()->ToString(), " of ", columns[i]->length(),
                             " rows, not ", fields[i]->type()->ToString(), " of ",
                             columns[0]->length());
    }
  }
  return Status::OK();
}

/// A slot's values in a list column: the list builder and the builder of its values.
template <typename ValueBuilder>
struct ListState {
  std::shared_ptr<ValueBuilder> values = std::make_shared<ValueBuilder>();
  arrow::ListBuilder lists{arrow::default_memory_pool(), values};
};

/// The values of row `row` of a list column, as [begin, end) indices into `values`.
inline std::pair<int64_t, int64_t> ListRange(const arrow::ListArray& lists, int64_t row) {
  return {lists.value_offset(row), lists.value_offset(row) + lists.value_length(row)};
}

/// Value access and output for the three storages.
template <typename T>
struct Stored;

template <>
struct Stored<double> {
  static double Get(const ValueColumn& column, int64_t row) { return column.doubles[row]; }
  /// NaN sorts above every number, as in DuckDB.
  static bool Less(double a, double b) { return !std::isnan(a) && (std::isnan(b) || a < b); }
  static Result<std::shared_ptr<arrow::Array>> Build(const std::vector<double>& values,
                                                     const std::vector<bool>& valid,
                                                     const std::shared_ptr<arrow::DataType>& type) {
    SLUICE_ASSIGN_OR_RAISE(auto array, BuildDoubles(values, valid));
    if (type->id() == arrow::Type::DOUBLE) return array;
    return arrow::compute::Cast(*array, type);
  }
  static int64_t Bytes(const double&) { return 0; }
  /// How checkpoints keep values of this storage.
  using StateBuilder = arrow::DoubleBuilder;
  using StateArray = arrow::DoubleArray;
  static std::shared_ptr<arrow::DataType> StateType() { return arrow::float64(); }
};

template <>
struct Stored<int64_t> {
  static int64_t Get(const ValueColumn& column, int64_t row) { return column.integers[row]; }
  static bool Less(int64_t a, int64_t b) { return a < b; }
  static Result<std::shared_ptr<arrow::Array>> Build(const std::vector<int64_t>& values,
                                                     const std::vector<bool>& valid,
                                                     const std::shared_ptr<arrow::DataType>& type) {
    SLUICE_ASSIGN_OR_RAISE(auto array, BuildIntegers(values, valid));
    return FromInt64(array, type);
  }
  static int64_t Bytes(const int64_t&) { return 0; }
  using StateBuilder = arrow::Int64Builder;
  using StateArray = arrow::Int64Array;
  static std::shared_ptr<arrow::DataType> StateType() { return arrow::int64(); }
};

template <>
struct Stored<std::string> {
  static std::string_view Get(const ValueColumn& column, int64_t row) {
    return column.strings->GetView(row);
  }
  static bool Less(std::string_view a, std::string_view b) { return a < b; }
  static Result<std::shared_ptr<arrow::Array>> Build(const std::vector<std::string>& values,
                                                     const std::vector<bool>& valid,
                                                     const std::shared_ptr<arrow::DataType>& type) {
    arrow::StringBuilder builder;
    for (size_t i = 0; i < values.size(); ++i) {
      SLUICE_RETURN_NOT_OK(valid[i] ? builder.Append(values[i]) : builder.AppendNull());
    }
    SLUICE_ASSIGN_OR_RAISE(auto array, builder.Finish());
    if (type->id() == arrow::Type::STRING) return array;
    return arrow::compute::Cast(*array, type);
  }
  static int64_t Bytes(const std::string& value) { return static_cast<int64_t>(value.capacity()); }
  /// Large strings: the values of many slots may pass 2 GiB together.
  using StateBuilder = arrow::LargeStringBuilder;
  using StateArray = arrow::LargeStringArray;
  static std::shared_ptr<arrow::DataType> StateType() { return arrow::large_utf8(); }
};

/// The non-null count of the values.
class CountAccumulator final : public Accumulator {
 public:
  void Resize(uint32_t slots) override { counts_.resize(slots, 0); }
  void Consume(const ValueColumn& values, const exec::Timestamp*, const uint32_t* slots,
               int64_t rows) override {
    for (int64_t i = 0; i < rows; ++i) {
      if (slots[i] != kNoSlot && values.IsValid(i)) ++counts_[slots[i]];
    }
  }
  void Merge(const uint32_t* from, const uint32_t* into, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) counts_[into[i]] += counts_[from[i]];
  }
  void Reset(const uint32_t* slots, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) counts_[slots[i]] = 0;
  }
  void Clear() override { std::vector<int64_t>().swap(counts_); }
  Result<std::shared_ptr<arrow::Array>> Finalize(const uint32_t* slots,
                                                 int64_t count) const override {
    std::vector<int64_t> values(count);
    for (int64_t i = 0; i < count; ++i) values[i] = counts_[slots[i]];
    return BuildIntegers(values, std::vector<bool>(count, true));
  }
  int64_t state_bytes() const override {
    return static_cast<int64_t>(counts_.capacity() * sizeof(int64_t));
  }
  StateFieldList StateFields() const override { return {arrow::field("count", arrow::int64())}; }
  Result<StateColumns> Save(const uint32_t* slots, int64_t count) const override {
    arrow::Int64Builder counts;
    SLUICE_RETURN_NOT_OK(counts.Reserve(count));
    for (int64_t i = 0; i < count; ++i) counts.UnsafeAppend(counts_[slots[i]]);
    return FinishState({&counts});
  }
  Status Load(const StateColumns& columns, const uint32_t* slots) override {
    SLUICE_RETURN_NOT_OK(CheckState(columns, StateFields()));
    const auto& counts = static_cast<const arrow::Int64Array&>(*columns[0]);
    for (int64_t i = 0; i < counts.length(); ++i) counts_[slots[i]] = counts.Value(i);
    return Status::OK();
  }

 private:
  std::vector<int64_t> counts_;
};

/// sum, min, max, first and last: one value per slot, folded with `Fold`.
template <typename T, typename Fold>
class ValueAccumulator final : public Accumulator {
 public:
  explicit ValueAccumulator(std::shared_ptr<arrow::DataType> output) : output_(std::move(output)) {}

  void Resize(uint32_t slots) override {
    values_.resize(slots);
    times_.resize(slots);
    seen_.resize(slots, 0);
  }
  void Consume(const ValueColumn& values, const exec::Timestamp* times, const uint32_t* slots,
               int64_t rows) override {
    for (int64_t i = 0; i < rows; ++i) {
      uint32_t slot = slots[i];
      if (slot == kNoSlot || !values.IsValid(i)) continue;
      if (!seen_[slot]) {
        values_[slot] = T(Stored<T>::Get(values, i));
        times_[slot] = times[i];
        seen_[slot] = 1;
      } else {
        Fold::Add(&values_[slot], &times_[slot], Stored<T>::Get(values, i), times[i]);
      }
    }
  }
  void Merge(const uint32_t* from, const uint32_t* into, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) {
      uint32_t source = from[i], target = into[i];
      if (!seen_[source]) continue;
      if (!seen_[target]) {
        values_[target] = values_[source];
        times_[target] = times_[source];
        seen_[target] = 1;
      } else {
        Fold::Add(&values_[target], &times_[target], values_[source], times_[source]);
      }
    }
  }
  void Reset(const uint32_t* slots, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) {
      seen_[slots[i]] = 0;
      if constexpr (std::is_same_v<T, std::string>) std::string().swap(values_[slots[i]]);
    }
  }
  void Clear() override {
    std::vector<T>().swap(values_);
    std::vector<exec::Timestamp>().swap(times_);
    std::vector<uint8_t>().swap(seen_);
  }
  Result<std::shared_ptr<arrow::Array>> Finalize(const uint32_t* slots,
                                                 int64_t count) const override {
    std::vector<T> values(count);
    std::vector<bool> valid(count);
    for (int64_t i = 0; i < count; ++i) {
      valid[i] = seen_[slots[i]] != 0;
      if (valid[i]) values[i] = values_[slots[i]];
    }
    return Stored<T>::Build(values, valid, output_);
  }
  int64_t state_bytes() const override {
    int64_t bytes =
        static_cast<int64_t>(values_.capacity() * sizeof(T) +
                             times_.capacity() * sizeof(exec::Timestamp) + seen_.capacity());
    if constexpr (std::is_same_v<T, std::string>) {
      for (const auto& value : values_) bytes += Stored<T>::Bytes(value);
    }
    return bytes;
  }
  /// The kept value (null when the slot has none yet) and its event time.
  StateFieldList StateFields() const override {
    return {arrow::field("value", Stored<T>::StateType()), arrow::field("time", arrow::int64())};
  }
  Result<StateColumns> Save(const uint32_t* slots, int64_t count) const override {
    typename Stored<T>::StateBuilder values;
    arrow::Int64Builder times;
    SLUICE_RETURN_NOT_OK(values.Reserve(count));
    SLUICE_RETURN_NOT_OK(times.Reserve(count));
    for (int64_t i = 0; i < count; ++i) {
      const uint32_t slot = slots[i];
      SLUICE_RETURN_NOT_OK(seen_[slot] ? values.Append(values_[slot]) : values.AppendNull());
      times.UnsafeAppend(times_[slot]);
    }
    return FinishState({&values, &times});
  }
  Status Load(const StateColumns& columns, const uint32_t* slots) override {
    SLUICE_RETURN_NOT_OK(CheckState(columns, StateFields()));
    const auto& values = static_cast<const typename Stored<T>::StateArray&>(*columns[0]);
    const auto& times = static_cast<const arrow::Int64Array&>(*columns[1]);
    for (int64_t i = 0; i < values.length(); ++i) {
      const uint32_t slot = slots[i];
      seen_[slot] = values.IsValid(i) ? 1 : 0;
      if (seen_[slot]) values_[slot] = T(values.GetView(i));
      times_[slot] = times.Value(i);
    }
    return Status::OK();
  }

 private:
  std::shared_ptr<arrow::DataType> output_;
  std::vector<T> values_;
  /// The event time of the kept value (first, last).
  std::vector<exec::Timestamp> times_;
  std::vector<uint8_t> seen_;
};

template <typename T>
struct SumFold {
  template <typename V>
  static void Add(T* sum, exec::Timestamp*, const V& value, exec::Timestamp) {
    if constexpr (std::is_same_v<T, int64_t>) {
      // Wraps on overflow rather than invoking undefined behaviour.
      *sum = static_cast<int64_t>(static_cast<uint64_t>(*sum) + static_cast<uint64_t>(value));
    } else {
      *sum += value;
    }
  }
};

template <typename T, bool kMax>
struct ExtremeFold {
  template <typename V>
  static void Add(T* kept, exec::Timestamp*, const V& value, exec::Timestamp) {
    if (kMax ? Stored<T>::Less(*kept, value) : Stored<T>::Less(value, *kept)) *kept = T(value);
  }
};

/// first keeps the earliest event time (the earliest arrival on ties); last the latest event
/// time (the latest arrival on ties).
template <typename T, bool kLast>
struct PositionFold {
  template <typename V>
  static void Add(T* kept, exec::Timestamp* kept_time, const V& value, exec::Timestamp time) {
    if (kLast ? time >= *kept_time : time < *kept_time) {
      *kept = T(value);
      *kept_time = time;
    }
  }
};

/// avg, variance and standard deviation (Welford's running mean and squared deviations,
/// merged with Chan's formula), z-score and min-max normalisation of the last value.
class MomentsAccumulator final : public Accumulator {
 public:
  explicit MomentsAccumulator(Function function) : function_(function) {}

  void Resize(uint32_t slots) override { state_.resize(slots); }
  void Consume(const ValueColumn& values, const exec::Timestamp* times, const uint32_t* slots,
               int64_t rows) override {
    const bool track_last = function_ == Function::kZScore || function_ == Function::kMinMax;
    for (int64_t i = 0; i < rows; ++i) {
      uint32_t slot = slots[i];
      if (slot == kNoSlot || !values.IsValid(i)) continue;
      State& state = state_[slot];
      double value = values.doubles[i];
      state.count += 1;
      double delta = value - state.mean;
      state.mean += delta / state.count;
      state.m2 += delta * (value - state.mean);
      if (track_last) {
        if (state.count == 1 || value < state.min) state.min = value;
        if (state.count == 1 || value > state.max) state.max = value;
        if (state.count == 1 || times[i] >= state.last_time) {
          state.last = value;
          state.last_time = times[i];
        }
      }
    }
  }
  void Merge(const uint32_t* from, const uint32_t* into, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) {
      const State& source = state_[from[i]];
      State& target = state_[into[i]];
      if (source.count == 0) continue;
      if (target.count == 0) {
        target = source;
        continue;
      }
      double total = target.count + source.count;
      double delta = source.mean - target.mean;
      target.m2 += source.m2 + delta * delta * target.count * source.count / total;
      target.mean += delta * source.count / total;
      target.count = total;
      target.min = std::min(target.min, source.min);
      target.max = std::max(target.max, source.max);
      if (source.last_time >= target.last_time) {
        target.last = source.last;
        target.last_time = source.last_time;
      }
    }
  }
  void Reset(const uint32_t* slots, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) state_[slots[i]] = State();
  }
  void Clear() override { std::vector<State>().swap(state_); }
  Result<std::shared_ptr<arrow::Array>> Finalize(const uint32_t* slots,
                                                 int64_t count) const override {
    std::vector<double> values(count);
    std::vector<bool> valid(count);
    for (int64_t i = 0; i < count; ++i) {
      const State& state = state_[slots[i]];
      double n = state.count;
      double sample_variance = n > 1 ? std::max(0.0, state.m2) / (n - 1) : NAN;
      switch (function_) {
        case Function::kAvg:
          valid[i] = n > 0;
          values[i] = state.mean;
          break;
        case Function::kVarianceSample:
          valid[i] = n > 1;
          values[i] = sample_variance;
          break;
        case Function::kStddevSample:
          valid[i] = n > 1;
          values[i] = std::sqrt(sample_variance);
          break;
        case Function::kVariancePopulation:
          valid[i] = n > 0;
          values[i] = std::max(0.0, state.m2) / n;
          break;
        case Function::kStddevPopulation:
          valid[i] = n > 0;
          values[i] = std::sqrt(std::max(0.0, state.m2) / n);
          break;
        case Function::kZScore: {
          double deviation = std::sqrt(sample_variance);
          valid[i] = n > 1 && deviation > 0;
          values[i] = (state.last - state.mean) / deviation;
          break;
        }
        case Function::kMinMax:
          valid[i] = n > 0 && state.max > state.min;
          values[i] = (state.last - state.min) / (state.max - state.min);
          break;
        default:
          valid[i] = false;
      }
      if (!valid[i]) values[i] = 0;
    }
    return BuildDoubles(values, valid);
  }
  int64_t state_bytes() const override {
    return static_cast<int64_t>(state_.capacity() * sizeof(State));
  }
  StateFieldList StateFields() const override {
    StateFieldList fields;
    for (const auto& member : kDoubleMembers)
      fields.push_back(arrow::field(member.first, arrow::float64()));
    fields.push_back(arrow::field("last_time", arrow::int64()));
    return fields;
  }
  Result<StateColumns> Save(const uint32_t* slots, int64_t count) const override {
    std::array<arrow::DoubleBuilder, std::size(kDoubleMembers)> doubles;
    arrow::Int64Builder last_times;
    for (auto& builder : doubles) SLUICE_RETURN_NOT_OK(builder.Reserve(count));
    SLUICE_RETURN_NOT_OK(last_times.Reserve(count));
    for (int64_t i = 0; i < count; ++i) {
      const State& state = state_[slots[i]];
      for (size_t m = 0; m < doubles.size(); ++m)
        doubles[m].UnsafeAppend(state.*(kDoubleMembers[m].second));
      last_times.UnsafeAppend(state.last_time);
    }
    std::vector<arrow::ArrayBuilder*> builders;
    for (auto& builder : doubles) builders.push_back(&builder);
    builders.push_back(&last_times);
    return FinishState(builders);
  }
  Status Load(const StateColumns& columns, const uint32_t* slots) override {
    SLUICE_RETURN_NOT_OK(CheckState(columns, StateFields()));
    const auto& last_times = static_cast<const arrow::Int64Array&>(*columns.back());
    for (size_t m = 0; m < std::size(kDoubleMembers); ++m) {
      const auto& values = static_cast<const arrow::DoubleArray&>(*columns[m]);
      for (int64_t i = 0; i < values.length(); ++i)
        state_[slots[i]].*(kDoubleMembers[m].second) = values.Value(i);
    }
    for (int64_t i = 0; i < last_times.length(); ++i)
      state_[slots[i]].last_time = last_times.Value(i);
    return Status::OK();
  }

 private:
  struct State {
    double count = 0;
    double mean = 0;
    double m2 = 0;
    double min = 0;
    double max = 0;
    double last = 0;
    exec::Timestamp last_time = 0;
  };
  /// The double members of State, by the names of their state columns.
  static constexpr std::pair<const char*, double State::*> kDoubleMembers[] = {
      {"count", &State::count}, {"mean", &State::mean}, {"m2", &State::m2},
      {"min", &State::min},     {"max", &State::max},   {"last", &State::last}};
  Function function_;
  std::vector<State> state_;
};

/// harmonic_mean (n / Σ 1/x) and geometric_mean (exp(Σ ln x / n)).
class MeanOfTransformAccumulator final : public Accumulator {
 public:
  explicit MeanOfTransformAccumulator(Function function)
      : harmonic_(function == Function::kHarmonicMean) {}

  void Resize(uint32_t slots) override {
    sums_.resize(slots, 0);
    counts_.resize(slots, 0);
  }
  void Consume(const ValueColumn& values, const exec::Timestamp*, const uint32_t* slots,
               int64_t rows) override {
    for (int64_t i = 0; i < rows; ++i) {
      uint32_t slot = slots[i];
      if (slot == kNoSlot || !values.IsValid(i)) continue;
      double value = values.doubles[i];
      sums_[slot] += harmonic_ ? 1.0 / value : std::log(value);
      counts_[slot] += 1;
    }
  }
  void Merge(const uint32_t* from, const uint32_t* into, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) {
      sums_[into[i]] += sums_[from[i]];
      counts_[into[i]] += counts_[from[i]];
    }
  }
  void Reset(const uint32_t* slots, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) sums_[slots[i]] = 0, counts_[slots[i]] = 0;
  }
  void Clear() override {
    std::vector<double>().swap(sums_);
    std::vector<int64_t>().swap(counts_);
  }
  Result<std::shared_ptr<arrow::Array>> Finalize(const uint32_t* slots,
                                                 int64_t count) const override {
    std::vector<double> values(count);
    std::vector<bool> valid(count);
    for (int64_t i = 0; i < count; ++i) {
      double sum = sums_[slots[i]];
      auto n = static_cast<double>(counts_[slots[i]]);
      valid[i] = n > 0;
      values[i] = !valid[i] ? 0 : harmonic_ ? n / sum : std::exp(sum / n);
    }
    return BuildDoubles(values, valid);
  }
  int64_t state_bytes() const override {
    return static_cast<int64_t>((sums_.capacity() + counts_.capacity()) * 8);
  }
  StateFieldList StateFields() const override {
    return {arrow::field("sum", arrow::float64()), arrow::field("count", arrow::int64())};
  }
  Result<StateColumns> Save(const uint32_t* slots, int64_t count) const override {
    arrow::DoubleBuilder sums;
    arrow::Int64Builder counts;
    SLUICE_RETURN_NOT_OK(sums.Reserve(count));
    SLUICE_RETURN_NOT_OK(counts.Reserve(count));
    for (int64_t i = 0; i < count; ++i) {
      sums.UnsafeAppend(sums_[slots[i]]);
      counts.UnsafeAppend(counts_[slots[i]]);
    }
    return FinishState({&sums, &counts});
  }
  Status Load(const StateColumns& columns, const uint32_t* slots) override {
    SLUICE_RETURN_NOT_OK(CheckState(columns, StateFields()));
    const auto& sums = static_cast<const arrow::DoubleArray&>(*columns[0]);
    const auto& counts = static_cast<const arrow::Int64Array&>(*columns[1]);
    for (int64_t i = 0; i < sums.length(); ++i) {
      sums_[slots[i]] = sums.Value(i);
      counts_[slots[i]] = counts.Value(i);
    }
    return Status::OK();
  }

 private:
  bool harmonic_;
  std::vector<double> sums_;
  std::vector<int64_t> counts_;
};

/// median, p<N> and ema keep every value of a slot: exact results, memory linear in the rows
/// of the open windows.
class BufferAccumulator final : public Accumulator {
 public:
  explicit BufferAccumulator(Aggregate aggregate) : aggregate_(std::move(aggregate)) {}

  void Resize(uint32_t slots) override { buffers_.resize(slots); }
  void Consume(const ValueColumn& values, const exec::Timestamp* times, const uint32_t* slots,
               int64_t rows) override {
    for (int64_t i = 0; i < rows; ++i) {
      uint32_t slot = slots[i];
      if (slot == kNoSlot || !values.IsValid(i)) continue;
      buffers_[slot].push_back({times[i], values.doubles[i]});
      held_ += 1;
    }
  }
  void Merge(const uint32_t* from, const uint32_t* into, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) {
      const auto& source = buffers_[from[i]];
      auto& target = buffers_[into[i]];
      target.insert(target.end(), source.begin(), source.end());
      held_ += static_cast<int64_t>(source.size());
    }
  }
  void Reset(const uint32_t* slots, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) {
      held_ -= static_cast<int64_t>(buffers_[slots[i]].size());
      std::vector<Entry>().swap(buffers_[slots[i]]);
    }
  }
  void Clear() override {
    std::vector<std::vector<Entry>>().swap(buffers_);
    held_ = 0;
  }
  Result<std::shared_ptr<arrow::Array>> Finalize(const uint32_t* slots,
                                                 int64_t count) const override {
    std::vector<double> values(count, 0);
    std::vector<bool> valid(count, false);
    std::vector<Entry> scratch;
    std::vector<double> numbers;
    for (int64_t i = 0; i < count; ++i) {
      const auto& buffer = buffers_[slots[i]];
      if (buffer.empty()) continue;
      valid[i] = true;
      if (aggregate_.function == Function::kEma) {
        scratch.assign(buffer.begin(), buffer.end());
        // Stable: rows with equal event times stay in arrival order.
        std::stable_sort(scratch.begin(), scratch.end(),
                         [](const Entry& a, const Entry& b) { return a.time < b.time; });
        double alpha = 2.0 / (static_cast<double>(scratch.size()) + 1.0);
        double ema = scratch[0].value;
        for (size_t j = 1; j < scratch.size(); ++j)
          ema = alpha * scratch[j].value + (1 - alpha) * ema;
        values[i] = ema;
      } else {
        numbers.resize(buffer.size());
        for (size_t j = 0; j < buffer.size(); ++j) numbers[j] = buffer[j].value;
        values[i] = Quantile(&numbers, aggregate_.quantile);
      }
    }
    return BuildDoubles(values, valid);
  }
  int64_t state_bytes() const override {
    return static_cast<int64_t>(buffers_.capacity() * sizeof(std::vector<Entry>)) +
           held_ * int64_t{sizeof(Entry)};
  }
  /// Each slot's values and their event times, in arrival order (ema breaks time ties by it).
  StateFieldList StateFields() const override {
    return {arrow::field("times", arrow::list(arrow::int64())),
            arrow::field("values", arrow::list(arrow::float64()))};
  }
  Result<StateColumns> Save(const uint32_t* slots, int64_t count) const override {
    ListState<arrow::Int64Builder> times;
    ListState<arrow::DoubleBuilder> values;
    for (int64_t i = 0; i < count; ++i) {
      const auto& buffer = buffers_[slots[i]];
      SLUICE_RETURN_NOT_OK(times.lists.Append());
      SLUICE_RETURN_NOT_OK(values.lists.Append());
      SLUICE_RETURN_NOT_OK(times.values->Reserve(static_cast<int64_t>(buffer.size())));
      SLUICE_RETURN_NOT_OK(values.values->Reserve(static_cast<int64_t>(buffer.size())));
      for (const Entry& entry : buffer) {
        times.values->UnsafeAppend(entry.time);
        values.values->UnsafeAppend(entry.value);
      }
    }
    return FinishState({&times.lists, &values.lists});
  }
  Status Load(const StateColumns& columns, const uint32_t* slots) override {
    SLUICE_RETURN_NOT_OK(CheckState(columns, StateFields()));
    const auto& time_lists = static_cast<const arrow::ListArray&>(*columns[0]);
    const auto& value_lists = static_cast<const arrow::ListArray&>(*columns[1]);
    const auto& times = static_cast<const arrow::Int64Array&>(*time_lists.values());
    const auto& values = static_cast<const arrow::DoubleArray&>(*value_lists.values());
    for (int64_t i = 0; i < time_lists.length(); ++i) {
      auto [begin, end] = ListRange(time_lists, i);
      if (value_lists.value_length(i) != end - begin) {
        return Status::IOError("an aggregate's state has ", end - begin, " times but ",
                               value_lists.value_length(i), " values");
      }
      auto& buffer = buffers_[slots[i]];
      buffer.reserve(static_cast<size_t>(end - begin));
      for (int64_t j = begin, k = value_lists.value_offset(i); j < end; ++j, ++k)
        buffer.push_back({times.Value(j), values.Value(k)});
      held_ += end - begin;
    }
    return Status::OK();
  }

  /// The continuous quantile (linear interpolation between the closest ranks, as DuckDB's
  /// quantile_cont and median): position q·(n−1) in the sorted values.
  static double Quantile(std::vector<double>* numbers, double quantile) {
    auto less = [](double a, double b) { return Stored<double>::Less(a, b); };
    double position = quantile * static_cast<double>(numbers->size() - 1);
    auto lower = static_cast<size_t>(std::floor(position));
    auto upper = static_cast<size_t>(std::ceil(position));
    std::nth_element(numbers->begin(), numbers->begin() + lower, numbers->end(), less);
    double low = (*numbers)[lower];
    if (upper == lower) return low;
    double high = *std::min_element(numbers->begin() + lower + 1, numbers->end(), less);
    return low + (position - static_cast<double>(lower)) * (high - low);
  }

 private:
  struct Entry {
    exec::Timestamp time;
    double value;
  };
  Aggregate aggregate_;
  std::vector<std::vector<Entry>> buffers_;
  int64_t held_ = 0;
};

/// The bits that identify a value for distinct counting: integers as themselves, doubles by
/// their bit pattern with -0.0 folded into 0.0 and every NaN into one.
inline int64_t DistinctBits(const ValueColumn& values, int64_t row, Storage storage) {
  if (storage == Storage::kInteger) return values.integers[row];
  double value = values.doubles[row];
  if (value == 0) value = 0;
  if (std::isnan(value)) value = NAN;
  int64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

/// count_distinct: exact, with a hash set per slot.
class DistinctAccumulator final : public Accumulator {
 public:
  explicit DistinctAccumulator(Storage storage) : storage_(storage) {}

  void Resize(uint32_t slots) override {
    if (storage_ == Storage::kString) {
      strings_.resize(slots);
    } else {
      numbers_.resize(slots);
    }
  }
  void Consume(const ValueColumn& values, const exec::Timestamp*, const uint32_t* slots,
               int64_t rows) override {
    for (int64_t i = 0; i < rows; ++i) {
      uint32_t slot = slots[i];
      if (slot == kNoSlot || !values.IsValid(i)) continue;
      if (storage_ == Storage::kString) {
        strings_[slot].emplace(values.strings->GetView(i));
      } else {
        numbers_[slot].insert(DistinctBits(values, i, storage_));
      }
    }
  }
  void Merge(const uint32_t* from, const uint32_t* into, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) {
      if (storage_ == Storage::kString) {
        strings_[into[i]].insert(strings_[from[i]].begin(), strings_[from[i]].end());
      } else {
        numbers_[into[i]].insert(numbers_[from[i]].begin(), numbers_[from[i]].end());
      }
    }
  }
  void Reset(const uint32_t* slots, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) {
      if (storage_ == Storage::kString) {
        std::unordered_set<std::string>().swap(strings_[slots[i]]);
      } else {
        std::unordered_set<int64_t>().swap(numbers_[slots[i]]);
      }
    }
  }
  void Clear() override {
    std::vector<std::unordered_set<int64_t>>().swap(numbers_);
    std::vector<std::unordered_set<std::string>>().swap(strings_);
  }
  Result<std::shared_ptr<arrow::Array>> Finalize(const uint32_t* slots,
                                                 int64_t count) const override {
    std::vector<int64_t> values(count);
    for (int64_t i = 0; i < count; ++i) {
      values[i] = static_cast<int64_t>(storage_ == Storage::kString ? strings_[slots[i]].size()
                                                                    : numbers_[slots[i]].size());
    }
    return BuildIntegers(values, std::vector<bool>(count, true));
  }
  int64_t state_bytes() const override {
    // About two words of bucket and node overhead per entry.
    int64_t bytes = static_cast<int64_t>((numbers_.capacity() + strings_.capacity()) * 56);
    for (const auto& set : numbers_) bytes += static_cast<int64_t>(set.size()) * 32;
    for (const auto& set : strings_) {
      for (const auto& value : set) bytes += 48 + static_cast<int64_t>(value.capacity());
    }
    return bytes;
  }
  /// Each slot's distinct values (numbers as their DistinctBits()), in no particular order.
  StateFieldList StateFields() const override {
    return {arrow::field("values", arrow::list(storage_ == Storage::kString ? arrow::large_utf8()
                                                                            : arrow::int64()))};
  }
  Result<StateColumns> Save(const uint32_t* slots, int64_t count) const override {
    if (storage_ == Storage::kString)
      return SaveSets<arrow::LargeStringBuilder>(strings_, slots, count);
    return SaveSets<arrow::Int64Builder>(numbers_, slots, count);
  }
  Status Load(const StateColumns& columns, const uint32_t* slots) override {
    SLUICE_RETURN_NOT_OK(CheckState(columns, StateFields()));
    const auto& lists = static_cast<const arrow::ListArray&>(*columns[0]);
    for (int64_t i = 0; i < lists.length(); ++i) {
      auto [begin, end] = ListRange(lists, i);
      if (storage_ == Storage::kString) {
        const auto& values = static_cast<const arrow::LargeStringArray&>(*lists.values());
        for (int64_t j = begin; j < end; ++j) strings_[slots[i]].emplace(values.GetView(j));
      } else {
        const auto& values = static_cast<const arrow::Int64Array&>(*lists.values());
        for (int64_t j = begin; j < end; ++j) numbers_[slots[i]].insert(values.Value(j));
      }
    }
    return Status::OK();
  }

 private:
  template <typename ValueBuilder, typename Set>
  static Result<StateColumns> SaveSets(const std::vector<Set>& sets, const uint32_t* slots,
                                       int64_t count) {
    ListState<ValueBuilder> state;
    for (int64_t i = 0; i < count; ++i) {
      SLUICE_RETURN_NOT_OK(state.lists.Append());
      for (const auto& value : sets[slots[i]]) SLUICE_RETURN_NOT_OK(state.values->Append(value));
    }
    return FinishState({&state.lists});
  }

  Storage storage_;
  std::vector<std::unordered_set<int64_t>> numbers_;
  std::vector<std::unordered_set<std::string>> strings_;
};

/// approx_count_distinct: a HyperLogLog sketch per slot, allocated on the slot's first value.
class ApproxDistinctAccumulator final : public Accumulator {
 public:
  explicit ApproxDistinctAccumulator(Storage storage) : storage_(storage) {}

  void Resize(uint32_t slots) override { sketches_.resize(slots); }
  void Consume(const ValueColumn& values, const exec::Timestamp*, const uint32_t* slots,
               int64_t rows) override {
    for (int64_t i = 0; i < rows; ++i) {
      uint32_t slot = slots[i];
      if (slot == kNoSlot || !values.IsValid(i)) continue;
      uint64_t hash = storage_ == Storage::kString
                          ? HashBytes(values.strings->GetView(i))
                          : HashInteger(static_cast<uint64_t>(DistinctBits(values, i, storage_)));
      Sketch(slot).AddHash(hash);
    }
  }
  void Merge(const uint32_t* from, const uint32_t* into, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) {
      if (sketches_[from[i]] != nullptr) Sketch(into[i]).Merge(*sketches_[from[i]]);
    }
  }
  void Reset(const uint32_t* slots, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) {
      if (sketches_[slots[i]] != nullptr) --allocated_;
      sketches_[slots[i]].reset();
    }
  }
  void Clear() override {
    std::vector<std::unique_ptr<HyperLogLog>>().swap(sketches_);
    allocated_ = 0;
  }
  Result<std::shared_ptr<arrow::Array>> Finalize(const uint32_t* slots,
                                                 int64_t count) const override {
    std::vector<int64_t> values(count, 0);
    for (int64_t i = 0; i < count; ++i) {
      if (sketches_[slots[i]] != nullptr) values[i] = sketches_[slots[i]]->Estimate();
    }
    return BuildIntegers(values, std::vector<bool>(count, true));
  }
  int64_t state_bytes() const override {
    return static_cast<int64_t>(sketches_.capacity() * sizeof(void*)) +
           allocated_ * int64_t{sizeof(HyperLogLog)};
  }
  /// Each slot's sketch as its registers (null when the slot has no value yet).
  StateFieldList StateFields() const override {
    return {arrow::field("registers", arrow::binary())};
  }
  Result<StateColumns> Save(const uint32_t* slots, int64_t count) const override {
    arrow::BinaryBuilder registers;
    SLUICE_RETURN_NOT_OK(registers.Reserve(count));
    for (int64_t i = 0; i < count; ++i) {
      const HyperLogLog* sketch = sketches_[slots[i]].get();
      SLUICE_RETURN_NOT_OK(sketch == nullptr
                               ? registers.AppendNull()
                               : registers.Append(reinterpret_cast<const uint8_t*>(sketch),
                                                  sizeof(HyperLogLog)));
    }
    return FinishState({&registers});
  }
  Status Load(const StateColumns& columns, const uint32_t* slots) override {
    SLUICE_RETURN_NOT_OK(CheckState(columns, StateFields()));
    const auto& registers = static_cast<const arrow::BinaryArray&>(*columns[0]);
    for (int64_t i = 0; i < registers.length(); ++i) {
      if (registers.IsNull(i)) continue;
      std::string_view bytes = registers.GetView(i);
      if (bytes.size() != sizeof(HyperLogLog)) {
        return Status::IOError("a HyperLogLog sketch in the state has ", bytes.size(),
                               " bytes, not ", sizeof(HyperLogLog));
      }
      std::memcpy(static_cast<void*>(&Sketch(slots[i])), bytes.data(), bytes.size());
    }
    return Status::OK();
  }

 private:
  HyperLogLog& Sketch(uint32_t slot) {
    if (sketches_[slot] == nullptr) {
      sketches_[slot] = std::make_unique<HyperLogLog>();
      ++allocated_;
    }
    return *sketches_[slot];
  }
  // Save() and Load() copy a sketch as its bytes: its registers and nothing else.
  static_assert(std::is_trivially_copyable_v<HyperLogLog> &&
                sizeof(HyperLogLog) == HyperLogLog::kRegisters);

  Storage storage_;
  std::vector<std::unique_ptr<HyperLogLog>> sketches_;
  int64_t allocated_ = 0;
};

template <template <typename> class Make>
std::unique_ptr<Accumulator> ForStorage(Storage storage,
                                        const std::shared_ptr<arrow::DataType>& output) {
  switch (storage) {
    case Storage::kDouble:
      return Make<double>::New(output);
    case Storage::kInteger:
      return Make<int64_t>::New(output);
    case Storage::kString:
      return Make<std::string>::New(output);
  }
  return nullptr;
}

template <bool kMax>
struct MakeExtreme {
  template <typename T>
  struct For {
    static std::unique_ptr<Accumulator> New(const std::shared_ptr<arrow::DataType>& output) {
      return std::make_unique<ValueAccumulator<T, ExtremeFold<T, kMax>>>(output);
    }
  };
};

template <bool kLast>
struct MakePosition {
  template <typename T>
  struct For {
    static std::unique_ptr<Accumulator> New(const std::shared_ptr<arrow::DataType>& output) {
      return std::make_unique<ValueAccumulator<T, PositionFold<T, kLast>>>(output);
    }
  };
};

}  // namespace

std::unique_ptr<Accumulator> MakeAccumulator(const Aggregate& aggregate,
                                             const std::shared_ptr<arrow::DataType>& input) {
  Storage storage = StorageOf(*input);
  std::shared_ptr<arrow::DataType> output = OutputType(aggregate, input);
  switch (aggregate.function) {
    case Function::kCount:
      return std::make_unique<CountAccumulator>();
    case Function::kSum:
      if (arrow::is_integer(input->id()))
        return std::make_unique<ValueAccumulator<int64_t, SumFold<int64_t>>>(output);
      return std::make_unique<ValueAccumulator<double, SumFold<double>>>(output);
    case Function::kMin:
      return ForStorage<MakeExtreme<false>::For>(storage, output);
    case Function::kMax:
      return ForStorage<MakeExtreme<true>::For>(storage, output);
    case Function::kFirst:
      return ForStorage<MakePosition<false>::For>(storage, output);
    case Function::kLast:
      return ForStorage<MakePosition<true>::For>(storage, output);
    case Function::kAvg:
    case Function::kVarianceSample:
    case Function::kVariancePopulation:
    case Function::kStddevSample:
    case Function::kStddevPopulation:
    case Function::kZScore:
    case Function::kMinMax:
      return std::make_unique<MomentsAccumulator>(aggregate.function);
    case Function::kHarmonicMean:
    case Function::kGeometricMean:
      return std::make_unique<MeanOfTransformAccumulator>(aggregate.function);
    case Function::kPercentile:
    case Function::kEma:
      return std::make_unique<BufferAccumulator>(aggregate);
    case Function::kCountDistinct:
      return std::make_unique<DistinctAccumulator>(storage);
    case Function::kApproxCountDistinct:
      return std::make_unique<ApproxDistinctAccumulator>(storage);
  }
  return nullptr;
}

}  // namespace sluice::processors::aggregates
