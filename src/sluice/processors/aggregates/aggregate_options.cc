#include "sluice/processors/aggregates/aggregate_options.h"

#include <arrow/api.h>
#include <fmt/format.h>

#include <map>

#include "sluice/common/spelling.h"

namespace sluice::processors::aggregates {

config::OptionSpec GroupByOption(std::string doc) {
  return config::MakeOption("group_by", config::OptionType::kStringList, std::move(doc), "[]");
}

config::OptionSpec AggregateOption() {
  return config::MakeOption(
      "aggregate", config::OptionType::kAny,
      "A map from field to functions, each giving a column <field>_<function>: count, sum, min, "
      "max, "
      "avg, first, last, variance (stddev, var_samp, stddev_samp: sample), var_pop, stddev_pop, "
      "median, "
      "p<N> (exact), count_distinct, approx_count_distinct (HyperLogLog, ~1.6%), harmonic_mean, "
      "geometric_mean, ema, zscore, minmax. Nulls are ignored.");
}

Status ColumnNames::Claim(const std::string& name, const config::Location& where) {
  if (!names_.insert(name).second) {
    return config::ConfigError(
        where, fmt::format("the {} would produce two columns named '{}'", stage_, name),
        "rename the field first, or drop the duplicate");
  }
  return Status::OK();
}

Result<std::vector<int>> ReadGroupBy(const config::Options& options, const arrow::Schema& input,
                                     ColumnNames* names) {
  std::vector<int> indices;
  for (const auto& name : options.GetStringList("group_by")) {
    int index = input.GetFieldIndex(name);
    if (index < 0) {
      return config::ConfigError(options.LocationOf("group_by"),
                                 fmt::format("unknown field '{}' in group_by", name),
                                 SpellingHint(name, input.field_names()));
    }
    indices.push_back(index);
    SLUICE_RETURN_NOT_OK(names->Claim(name, options.LocationOf("group_by")));
  }
  return indices;
}

Result<std::vector<AggregateColumn>> ReadAggregates(const config::Options& options,
                                                    const arrow::Schema& input,
                                                    ColumnNames* names) {
  std::vector<AggregateColumn> columns;
  if (!options.Has("aggregate")) return columns;
  const std::string& file = options.where().file;
  YAML::Node node = options.GetNode("aggregate");
  if (!node.IsMap()) {
    return config::ConfigError(options.LocationOf("aggregate"),
                               "aggregate must map fields to lists of functions",
                               "e.g. aggregate: {ask: [min, max], volume: [sum]}");
  }
  for (const auto& entry : node) {
    std::string field = entry.first.Scalar();
    int index = input.GetFieldIndex(field);
    if (index < 0) {
      return config::ConfigError(config::LocationOfNode(entry.first, file),
                                 fmt::format("unknown field '{}' in aggregate", field),
                                 SpellingHint(field, input.field_names()));
    }
    std::vector<YAML::Node> functions;
    if (entry.second.IsSequence()) {
      for (const auto& function : entry.second) functions.push_back(function);
    } else {
      functions.push_back(entry.second);
    }
    for (const auto& function : functions) {
      config::Location where = config::LocationOfNode(function, file);
      if (!function.IsScalar()) {
        return config::ConfigError(where, fmt::format("the functions of '{}' must be names", field),
                                   "e.g. [min, max, avg]");
      }
      std::string name = function.Scalar();
      auto aggregate = ParseFunction(name);
      if (!aggregate) {
        return config::ConfigError(where, fmt::format("unknown aggregate function '{}'", name),
                                   SpellingHint(name, FunctionNames()));
      }
      if (auto problem = CheckInputType(*aggregate, *input.field(index)->type())) {
        return config::ConfigError(
            where,
            fmt::format("'{}' is {}: {}", field, input.field(index)->type()->ToString(), *problem));
      }
      AggregateColumn column{index, *aggregate, field + "_" + name};
      SLUICE_RETURN_NOT_OK(names->Claim(column.output_name, where));
      columns.push_back(std::move(column));
    }
  }
  return columns;
}

std::vector<std::shared_ptr<arrow::Field>> AggregateFields(
    const std::vector<AggregateColumn>& columns, const arrow::Schema& input) {
  std::vector<std::shared_ptr<arrow::Field>> fields;
  for (const auto& column : columns) {
    fields.push_back(arrow::field(
        column.output_name, OutputType(column.aggregate, input.field(column.field_index)->type())));
  }
  return fields;
}

bool NeedsDoubles(Function function) {
  switch (function) {
    case Function::kCount:
    case Function::kSum:
    case Function::kMin:
    case Function::kMax:
    case Function::kFirst:
    case Function::kLast:
    case Function::kCountDistinct:
    case Function::kApproxCountDistinct:
      return false;
    default:
      return true;
  }
}

Status ConsumeBatch(const std::vector<AggregateColumn>& columns,
                    const std::vector<std::unique_ptr<Accumulator>>& accumulators,
                    const arrow::RecordBatch& batch, const exec::Timestamp* times,
                    const uint32_t* slots) {
  std::map<int, ValueColumn> prepared;
  for (size_t a = 0; a < columns.size(); ++a) {
    const AggregateColumn& column = columns[a];
    auto it = prepared.find(column.field_index);
    if (it == prepared.end()) {
      bool needs_doubles = false;
      for (const auto& other : columns) {
        if (other.field_index == column.field_index)
          needs_doubles = needs_doubles || NeedsDoubles(other.aggregate.function);
      }
      SLUICE_ASSIGN_OR_RAISE(auto values,
                             PrepareColumn(batch.column(column.field_index), needs_doubles));
      it = prepared.emplace(column.field_index, std::move(values)).first;
    }
    accumulators[a]->Consume(it->second, times, slots, batch.num_rows());
  }
  return Status::OK();
}

}  // namespace sluice::processors::aggregates
