// The aggregate functions by name, the input types each takes, the types they make, and the
// input columns prepared for the accumulators (declared in accumulator.h).

#include "sluice/processors/aggregates/accumulator.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::processors::aggregates {
namespace {

struct NamedFunction {
  const char* name;
  Function function;
};

// Aliases map to the same function; the output column keeps the name the user wrote.
constexpr NamedFunction kFunctions[] = {
    {"count", Function::kCount},
    {"sum", Function::kSum},
    {"min", Function::kMin},
    {"max", Function::kMax},
    {"avg", Function::kAvg},
    {"mean", Function::kAvg},
    {"first", Function::kFirst},
    {"last", Function::kLast},
    {"variance", Function::kVarianceSample},
    {"var_samp", Function::kVarianceSample},
    {"var_pop", Function::kVariancePopulation},
    {"variance_pop", Function::kVariancePopulation},
    {"stddev", Function::kStddevSample},
    {"stddev_samp", Function::kStddevSample},
    {"stddev_pop", Function::kStddevPopulation},
    {"median", Function::kPercentile},
    {"count_distinct", Function::kCountDistinct},
    {"approx_count_distinct", Function::kApproxCountDistinct},
    {"harmonic_mean", Function::kHarmonicMean},
    {"geometric_mean", Function::kGeometricMean},
    {"ema", Function::kEma},
    {"zscore", Function::kZScore},
    {"minmax", Function::kMinMax},
};

bool IsIntegerLike(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::BOOL:
    case arrow::Type::INT8:
    case arrow::Type::INT16:
    case arrow::Type::INT32:
    case arrow::Type::INT64:
    case arrow::Type::UINT8:
    case arrow::Type::UINT16:
    case arrow::Type::UINT32:
    case arrow::Type::UINT64:
    case arrow::Type::TIMESTAMP:
    case arrow::Type::DATE32:
    case arrow::Type::DATE64:
    case arrow::Type::TIME32:
    case arrow::Type::TIME64:
    case arrow::Type::DURATION:
      return true;
    default:
      return false;
  }
}

bool IsNumber(const arrow::DataType& type) {
  return arrow::is_integer(type.id()) || arrow::is_floating(type.id());
}

bool IsString(const arrow::DataType& type) {
  return type.id() == arrow::Type::STRING || type.id() == arrow::Type::LARGE_STRING;
}

/// Whether values of the type have a storage (min, max, first, last, distinct counts).
bool HasStorage(const arrow::DataType& type) {
  return IsIntegerLike(type) || arrow::is_floating(type.id()) || IsString(type);
}

/// The physical integer width of a temporal type: View() reinterprets, Cast() widens.
Result<std::shared_ptr<arrow::Array>> ToInt64(const std::shared_ptr<arrow::Array>& column) {
  const auto& type = *column->type();
  if (type.id() == arrow::Type::INT64) return column;
  if (type.id() == arrow::Type::TIMESTAMP || type.id() == arrow::Type::DATE64 ||
      type.id() == arrow::Type::TIME64 || type.id() == arrow::Type::DURATION) {
    return column->View(arrow::int64());
  }
  if (type.id() == arrow::Type::DATE32 || type.id() == arrow::Type::TIME32) {
    SLUICE_ASSIGN_OR_RAISE(auto narrow, column->View(arrow::int32()));
    return arrow::compute::Cast(*narrow, arrow::int64());
  }
  return arrow::compute::Cast(*column, arrow::int64());
}

}  // namespace

const std::vector<std::string>& FunctionNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all;
    for (const auto& entry : kFunctions) all.emplace_back(entry.name);
    for (const char* percentile : {"p25", "p75", "p90", "p95", "p99"}) all.emplace_back(percentile);
    return all;
  }();
  return names;
}

std::optional<Aggregate> ParseFunction(std::string_view name) {
  for (const auto& entry : kFunctions) {
    if (name == entry.name) {
      Aggregate aggregate{entry.function, std::string(name)};
      if (entry.function == Function::kPercentile) aggregate.quantile = 0.5;
      return aggregate;
    }
  }
  // p<N>: N a whole percentage from 0 to 100 (p95 is the 0.95 quantile).
  if (name.size() >= 2 && name.size() <= 4 && name[0] == 'p' &&
      std::all_of(name.begin() + 1, name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int percent = std::stoi(std::string(name.substr(1)));
    if (percent > 100 || (name.size() > 2 && name[1] == '0')) return std::nullopt;
    return Aggregate{Function::kPercentile, std::string(name), percent / 100.0};
  }
  return std::nullopt;
}

Storage StorageOf(const arrow::DataType& type) {
  if (IsString(type)) return Storage::kString;
  if (IsIntegerLike(type)) return Storage::kInteger;
  return Storage::kDouble;
}

std::optional<std::string> CheckInputType(const Aggregate& aggregate, const arrow::DataType& type) {
  switch (aggregate.function) {
    case Function::kCount:
      return std::nullopt;
    case Function::kMin:
    case Function::kMax:
    case Function::kFirst:
    case Function::kLast:
    case Function::kCountDistinct:
    case Function::kApproxCountDistinct:
      if (HasStorage(type)) return std::nullopt;
      return aggregate.name + " takes numbers, strings, booleans or times, not " + type.ToString();
    default:
      if (IsNumber(type)) return std::nullopt;
      return aggregate.name + " takes numbers, not " + type.ToString();
  }
}

std::shared_ptr<arrow::DataType> OutputType(const Aggregate& aggregate,
                                            const std::shared_ptr<arrow::DataType>& input) {
  switch (aggregate.function) {
    case Function::kCount:
    case Function::kCountDistinct:
    case Function::kApproxCountDistinct:
      return arrow::int64();
    case Function::kSum:
      return arrow::is_integer(input->id()) ? arrow::int64() : arrow::float64();
    case Function::kMin:
    case Function::kMax:
    case Function::kFirst:
    case Function::kLast:
      return input;
    default:
      return arrow::float64();
  }
}

Result<ValueColumn> PrepareColumn(const std::shared_ptr<arrow::Array>& column, bool needs_doubles) {
  ValueColumn prepared;
  prepared.length = column->length();
  if (column->null_count() > 0) {
    prepared.validity = column->null_bitmap_data();
    prepared.validity_offset = column->offset();
  }
  prepared.owned.push_back(column);
  const auto& type = *column->type();
  Storage storage = StorageOf(type);
  if (storage == Storage::kString) {
    std::shared_ptr<arrow::Array> strings = column;
    if (type.id() != arrow::Type::STRING) {
      SLUICE_ASSIGN_OR_RAISE(strings, arrow::compute::Cast(*column, arrow::utf8()));
      prepared.owned.push_back(strings);
    }
    prepared.strings = static_cast<const arrow::StringArray*>(strings.get());
    return prepared;
  }
  if (storage == Storage::kInteger) {
    SLUICE_ASSIGN_OR_RAISE(auto integers, ToInt64(column));
    prepared.integers = static_cast<const arrow::Int64Array&>(*integers).raw_values();
    prepared.owned.push_back(std::move(integers));
  }
  if ((needs_doubles || storage == Storage::kDouble) &&
      (IsNumber(type) || arrow::is_floating(type.id()))) {
    std::shared_ptr<arrow::Array> doubles = column;
    if (type.id() != arrow::Type::DOUBLE) {
      SLUICE_ASSIGN_OR_RAISE(doubles, arrow::compute::Cast(*column, arrow::float64()));
    }
    prepared.doubles = static_cast<const arrow::DoubleArray&>(*doubles).raw_values();
    prepared.owned.push_back(std::move(doubles));
  }
  return prepared;
}

}  // namespace sluice::processors::aggregates
