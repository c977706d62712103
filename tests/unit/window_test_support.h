#pragma once

// What the window tests share: random event streams, running a pipeline in-process and
// collecting its output, and comparing two results as sets of rows. Test-only.

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/io/file.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <parquet/arrow/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "sluice/config/pipeline_config.h"
#include "sluice/exec/pipeline.h"
#include "sluice/exec/registry.h"

namespace sluice::testing {

constexpr int64_t kMicrosPerSecond = 1000000;
/// 2024-01-01T00:00:00Z: every stream starts here, on a boundary of every window size used.
constexpr int64_t kEpochStart = 1704067200LL * kMicrosPerSecond;

/// One row of a random event stream, in event-time order (`ts` strictly increasing).
struct Event {
  int64_t ts = 0;
  /// -1 for a null key.
  int key = 0;
  std::optional<double> v;
  /// Always positive when present (for geometric and harmonic means).
  std::optional<double> w;
};

/// A random stream: keys k0..k7 with skewed frequencies plus about 5% null keys; `v` in
/// [-20, 20] in steps of 0.5 (so values repeat) and `w` in (0, 100], each about 10% null.
/// Event times are strictly increasing by 1-20 ms (about 3% of them moved on to the next whole
/// second), with a pause of 1.5-5 s every 150 rows or so, so that session windows close and
/// reopen.
inline std::vector<Event> RandomEvents(uint32_t seed, int64_t rows) {
  std::mt19937 random(seed);
  auto percent = [&] { return std::uniform_int_distribution<int>(0, 99)(random); };
  std::discrete_distribution<int> key_pick({40, 20, 12, 8, 6, 5, 4, 2});
  std::vector<Event> events;
  int64_t ts = kEpochStart + std::uniform_int_distribution<int64_t>(0, 3000)(random) * 1000;
  for (int64_t row = 0; row < rows; ++row) {
    Event event;
    if (std::uniform_int_distribution<int>(0, 149)(random) == 0) {
      ts += std::uniform_int_distribution<int64_t>(1500, 5000)(random) * 1000;
    } else {
      ts += std::uniform_int_distribution<int64_t>(1, 20)(random) * 1000;
    }
    // Some rows fall on whole seconds, so that rows on window boundaries, and watermarks equal
    // to window ends, are common.
    if (percent() < 3) ts = (ts / kMicrosPerSecond + 1) * kMicrosPerSecond;
    event.ts = ts;
    event.key = percent() < 5 ? -1 : key_pick(random);
    if (percent() >= 10) event.v = std::uniform_int_distribution<int>(-40, 40)(random) * 0.5;
    if (percent() >= 10) event.w = std::uniform_int_distribution<int>(1, 400)(random) * 0.25;
    events.push_back(event);
  }
  return events;
}

/// An arrival order in which no row comes more than `delay_us` behind the latest event time
/// seen before it (so no row is ever late): rows sorted by event time plus a random jitter in
/// [0, delay_us). If row j precedes row i, ts_j + jitter_j <= ts_i + jitter_i, so
/// ts_i > ts_j - delay_us.
inline std::vector<int64_t> ShuffleWithinDelay(const std::vector<Event>& events, int64_t delay_us,
                                               uint32_t seed) {
  std::mt19937 random(seed);
  std::vector<std::pair<int64_t, int64_t>> keyed;
  for (int64_t i = 0; i < static_cast<int64_t>(events.size()); ++i) {
    keyed.emplace_back(
        events[i].ts + std::uniform_int_distribution<int64_t>(0, delay_us - 1)(random), i);
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<int64_t> order;
  for (const auto& [_, index] : keyed) order.push_back(index);
  return order;
}

/// An aggregate the oracle tests check, with the DuckDB SQL that computes it.
struct OracleAggregate {
  std::string field;
  std::string function;
  std::string sql;
};

/// The aggregates the oracle tests check on `v` and `w` (see EventBatch). first and last are
/// the non-null values at the least and greatest `order_by` (unique in these streams); zscore
/// and minmax normalise the last value.
inline std::vector<OracleAggregate> OracleAggregates(const std::string& order_by) {
  std::string first = fmt::format("arg_min(v, {}) FILTER (WHERE v IS NOT NULL)", order_by);
  std::string last = fmt::format("arg_max(v, {}) FILTER (WHERE v IS NOT NULL)", order_by);
  return {
      {"v", "count", "count(v)"},
      {"v", "sum", "sum(v)"},
      {"v", "min", "min(v)"},
      {"v", "max", "max(v)"},
      {"v", "avg", "avg(v)"},
      {"v", "count_distinct", "count(DISTINCT v)"},
      {"v", "stddev", "stddev_samp(v)"},
      {"v", "variance", "var_samp(v)"},
      {"v", "stddev_pop", "stddev_pop(v)"},
      {"v", "var_pop", "var_pop(v)"},
      {"v", "median", "quantile_cont(v, 0.5)"},
      {"v", "p95", "quantile_cont(v, 0.95)"},
      {"v", "first", first},
      {"v", "last", last},
      {"v", "zscore",
       fmt::format("CASE WHEN stddev_samp(v) > 0 THEN ({} - avg(v)) / stddev_samp(v) END", last)},
      {"v", "minmax",
       fmt::format("CASE WHEN max(v) > min(v) THEN ({} - min(v)) / (max(v) - min(v)) END", last)},
      {"w", "harmonic_mean", "count(w) / sum(1 / w)"},
      {"w", "geometric_mean", "exp(avg(ln(w)))"},
  };
}

/// The `aggregate` option that computes `aggregates`: {v: [count, sum, ...], w: [...]}.
inline std::string AggregateOption(const std::vector<OracleAggregate>& aggregates) {
  std::vector<std::pair<std::string, std::vector<std::string>>> fields;
  for (const auto& aggregate : aggregates) {
    auto it = std::find_if(fields.begin(), fields.end(),
                           [&](const auto& field) { return field.first == aggregate.field; });
    if (it == fields.end()) it = fields.insert(fields.end(), {aggregate.field, {}});
    it->second.push_back(aggregate.function);
  }
  std::string option;
  for (const auto& [field, functions] : fields) {
    option +=
        fmt::format("{}{}: [{}]", option.empty() ? "" : ", ", field, fmt::join(functions, ", "));
  }
  return "{" + option + "}";
}

/// The SELECT list that computes `aggregates` as columns <field>_<function>, and count(*).
inline std::string AggregateSelectList(const std::vector<OracleAggregate>& aggregates) {
  std::string sql;
  for (const auto& aggregate : aggregates) {
    sql += fmt::format("{} AS {}_{}, ", aggregate.sql, aggregate.field, aggregate.function);
  }
  return sql + "count(*) AS count";
}

/// Columns key (string), v, w (double), ts (timestamp[us, UTC]) of `events` in `order`.
inline std::shared_ptr<arrow::RecordBatch> EventBatch(const std::vector<Event>& events,
                                                      const std::vector<int64_t>& order) {
  arrow::StringBuilder key;
  arrow::DoubleBuilder v, w;
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                             arrow::default_memory_pool());
  for (int64_t index : order) {
    const Event& event = events[index];
    EXPECT_TRUE(
        (event.key < 0 ? key.AppendNull() : key.Append(fmt::format("k{}", event.key))).ok());
    EXPECT_TRUE((event.v ? v.Append(*event.v) : v.AppendNull()).ok());
    EXPECT_TRUE((event.w ? w.Append(*event.w) : w.AppendNull()).ok());
    EXPECT_TRUE(ts.Append(event.ts).ok());
  }
  auto schema =
      arrow::schema({arrow::field("key", arrow::utf8()), arrow::field("v", arrow::float64()),
                     arrow::field("w", arrow::float64()),
                     arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
  std::vector<std::shared_ptr<arrow::Array>> columns(4);
  EXPECT_TRUE(key.Finish(&columns[0]).ok());
  EXPECT_TRUE(v.Finish(&columns[1]).ok());
  EXPECT_TRUE(w.Finish(&columns[2]).ok());
  EXPECT_TRUE(ts.Finish(&columns[3]).ok());
  return arrow::RecordBatch::Make(schema, static_cast<int64_t>(order.size()), columns);
}

/// Writes `batch` as a Parquet file of one row group, so that a file source cuts it into
/// batches of exactly `batch_size` rows (the last one shorter).
inline Status WriteParquet(const std::string& path,
                           const std::shared_ptr<arrow::RecordBatch>& batch) {
  SLUICE_ASSIGN_OR_RAISE(auto table, arrow::Table::FromRecordBatches({batch}));
  SLUICE_ASSIGN_OR_RAISE(auto file, arrow::io::FileOutputStream::Open(path));
  return parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), file,
                                    std::max<int64_t>(1, batch->num_rows()));
}

/// What a pipeline run produced.
struct RunOutput {
  exec::RunSummary summary;
  std::shared_ptr<arrow::Table> table;
  /// What the `collect` dead-letter sink received (exec::DeadLetterSchema()).
  std::shared_ptr<arrow::Table> dead_letters;
};

/// Keeps what a pipeline writes, for the test to read when the run ends. Writes into a schema
/// and a vector the caller owns and keeps alive; called from the pipeline thread only.
class CollectingSink : public exec::Sink {
 public:
  CollectingSink(std::shared_ptr<arrow::Schema>* schema,
                 std::vector<std::shared_ptr<arrow::RecordBatch>>* batches)
      : schema_(schema), batches_(batches) {}
  Status Open(const std::shared_ptr<arrow::Schema>& schema) override {
    *schema_ = schema;
    return Status::OK();
  }
  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    batches_->push_back(batch);
    return Status::OK();
  }
  Status Close() override { return Status::OK(); }

 private:
  std::shared_ptr<arrow::Schema>* schema_;
  std::vector<std::shared_ptr<arrow::RecordBatch>>* batches_;
};

/// Builds the pipeline in `yaml` with the built-in plugins plus a `collect` sink, runs it to
/// the end of its bounded input, and returns the summary and everything the sink received.
/// A `collect` sink named as `dead_letters` keeps the dead letters apart from the output.
inline Result<RunOutput> RunPipeline(const std::string& yaml) {
  struct Collected {
    std::shared_ptr<arrow::Schema> schema;
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  };
  std::map<std::string, Collected> collected;
  exec::Registry registry = exec::BuiltinRegistry();
  registry.AddSink({config::PluginKind::kSink, "collect", "Keeps the output for the test.", {}},
                   [&](const exec::ConnectorContext& context,
                       const config::Options&) -> Result<std::unique_ptr<exec::Sink>> {
                     auto& into = collected[context.name];
                     return std::make_unique<CollectingSink>(&into.schema, &into.batches);
                   });
  SLUICE_ASSIGN_OR_RAISE(auto config, config::LoadPipelineText(yaml, "test.yaml", {}, registry));
  SLUICE_ASSIGN_OR_RAISE(auto pipeline, exec::Pipeline::Make(config, registry));
  RunOutput output;
  SLUICE_ASSIGN_OR_RAISE(output.summary, pipeline->Run());
  for (auto& [name, into] : collected) {
    SLUICE_ASSIGN_OR_RAISE(auto table, arrow::Table::FromRecordBatches(into.schema, into.batches));
    (name == "out" ? output.table : output.dead_letters) = table;
  }
  if (output.table == nullptr)
    return Status::Invalid("the pipeline has no `collect` sink named `out`");
  return output;
}

/// One value of a result row, normalised so that two engines' results compare: integers and
/// timestamps as int64 (microseconds), floating point as double, text as text.
struct Value {
  enum class Kind { kNull, kInteger, kReal, kText };
  Kind kind = Kind::kNull;
  int64_t integer = 0;
  double real = 0;
  std::string text;

  std::string ToString() const {
    switch (kind) {
      case Kind::kNull:
        return "null";
      case Kind::kInteger:
        return std::to_string(integer);
      case Kind::kReal:
        return fmt::format("{}", real);
      case Kind::kText:
        return "'" + text + "'";
    }
    return "?";
  }
};

/// Total order on the exact parts of a row (everything but doubles), to line two results up.
inline bool ExactLess(const std::vector<Value>& left, const std::vector<Value>& right) {
  for (size_t i = 0; i < left.size(); ++i) {
    const Value& a = left[i];
    const Value& b = right[i];
    if (a.kind == Value::Kind::kReal || b.kind == Value::Kind::kReal) continue;
    if (a.kind != b.kind) return a.kind < b.kind;
    if (a.kind == Value::Kind::kInteger && a.integer != b.integer) return a.integer < b.integer;
    if (a.kind == Value::Kind::kText && a.text != b.text) return a.text < b.text;
  }
  return false;
}

/// Equal values: doubles within a relative and absolute 1e-9 (NaN equals NaN).
inline bool Same(const Value& a, const Value& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Value::Kind::kNull:
      return true;
    case Value::Kind::kInteger:
      return a.integer == b.integer;
    case Value::Kind::kText:
      return a.text == b.text;
    case Value::Kind::kReal:
      if (std::isnan(a.real) || std::isnan(b.real)) return std::isnan(a.real) && std::isnan(b.real);
      if (std::isinf(a.real) || std::isinf(b.real)) return a.real == b.real;
      return std::fabs(a.real - b.real) <=
             1e-9 * std::max({1.0, std::fabs(a.real), std::fabs(b.real)});
  }
  return false;
}

/// A result as rows whose values follow `names`, sorted by their exact values.
inline std::vector<std::vector<Value>> SortedRows(const arrow::Table& table,
                                                  const std::vector<std::string>& names,
                                                  const std::vector<bool>& real) {
  std::vector<std::vector<Value>> rows(table.num_rows(), std::vector<Value>(names.size()));
  for (size_t c = 0; c < names.size(); ++c) {
    auto chunked = table.GetColumnByName(names[c]);
    EXPECT_NE(chunked, nullptr) << names[c];
    if (chunked == nullptr) continue;
    auto type = chunked->type();
    std::shared_ptr<arrow::DataType> target =
        real[c] ? arrow::float64()
                : (arrow::is_string(type->id()) ? arrow::utf8() : arrow::int64());
    std::shared_ptr<arrow::Array> column = chunked->num_chunks() == 0
                                               ? *arrow::MakeEmptyArray(type)
                                               : *arrow::Concatenate(chunked->chunks());
    if (type->id() == arrow::Type::TIMESTAMP) {
      column = *column->View(arrow::int64());
    }
    auto cast = arrow::compute::Cast(*column, target);
    EXPECT_TRUE(cast.ok()) << names[c] << ": " << cast.status().ToString();
    if (!cast.ok()) continue;
    column = *cast;
    for (int64_t r = 0; r < column->length(); ++r) {
      Value& value = rows[r][c];
      if (column->IsNull(r)) continue;
      if (real[c]) {
        value.kind = Value::Kind::kReal;
        value.real = static_cast<const arrow::DoubleArray&>(*column).Value(r);
      } else if (target->id() == arrow::Type::STRING) {
        value.kind = Value::Kind::kText;
        value.text = std::string(static_cast<const arrow::StringArray&>(*column).GetView(r));
      } else {
        value.kind = Value::Kind::kInteger;
        value.integer = static_cast<const arrow::Int64Array&>(*column).Value(r);
      }
    }
  }
  std::stable_sort(rows.begin(), rows.end(), ExactLess);
  return rows;
}

inline bool IsFloating(const arrow::DataType& type) {
  return type.id() == arrow::Type::DOUBLE || type.id() == arrow::Type::FLOAT ||
         type.id() == arrow::Type::HALF_FLOAT || type.id() == arrow::Type::DECIMAL128;
}

/// Compares two results as sets of rows: the same column names (in any order) and the same
/// rows, doubles within a tiny tolerance. Returns a description of the first differences, or
/// an empty string when they agree.
inline std::string DescribeDifferences(const arrow::Table& expected, const arrow::Table& actual) {
  std::vector<std::string> names = expected.schema()->field_names();
  std::vector<std::string> actual_names = actual.schema()->field_names();
  std::vector<std::string> sorted_expected = names, sorted_actual = actual_names;
  std::sort(sorted_expected.begin(), sorted_expected.end());
  std::sort(sorted_actual.begin(), sorted_actual.end());
  if (sorted_expected != sorted_actual) {
    return fmt::format("columns differ: expected [{}], actual [{}]", fmt::join(names, ", "),
                       fmt::join(actual_names, ", "));
  }
  std::vector<bool> real;
  for (const auto& name : names) {
    real.push_back(IsFloating(*expected.GetColumnByName(name)->type()) ||
                   IsFloating(*actual.GetColumnByName(name)->type()));
  }
  auto want = SortedRows(expected, names, real);
  auto got = SortedRows(actual, names, real);
  auto render = [&](const std::vector<Value>& row) {
    std::string text;
    for (size_t c = 0; c < names.size(); ++c)
      text += fmt::format("{}{}={}", c ? ", " : "", names[c], row[c].ToString());
    return text;
  };
  std::ostringstream out;
  int shown = 0;
  size_t i = 0, j = 0;
  while ((i < want.size() || j < got.size()) && shown < 8) {
    if (j == got.size() || (i < want.size() && ExactLess(want[i], got[j]))) {
      out << "  missing:    " << render(want[i++]) << "\n";
      ++shown;
    } else if (i == want.size() || ExactLess(got[j], want[i])) {
      out << "  unexpected: " << render(got[j++]) << "\n";
      ++shown;
    } else {
      for (size_t c = 0; c < names.size(); ++c) {
        if (!Same(want[i][c], got[j][c])) {
          out << "  row " << render(want[i]) << "\n    " << names[c] << ": expected "
              << want[i][c].ToString() << ", actual " << got[j][c].ToString() << "\n";
          ++shown;
          break;
        }
      }
      ++i;
      ++j;
    }
  }
  if (shown == 0) return "";
  return fmt::format("{} rows expected, {} actual; first differences:\n{}", want.size(), got.size(),
                     out.str());
}

}  // namespace sluice::testing
