#include "sluice/processors/window.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "sluice/config/options.h"
#include "sluice/exec/dead_letter.h"
#include "sluice/testing/processor_from_yaml.h"

namespace sluice::processors {
namespace {

constexpr int64_t kSecond = 1000000;

std::shared_ptr<arrow::DataType> TimeType() {
  return arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
}

std::shared_ptr<arrow::Schema> InputSchema() {
  return arrow::schema({arrow::field("key", arrow::utf8()), arrow::field("v", arrow::float64()),
                        arrow::field("n", arrow::int64()), arrow::field("ts", TimeType())});
}

struct Row {
  std::string key;
  std::optional<double> v;
  std::optional<int64_t> n;
  int64_t ts;
};

std::shared_ptr<arrow::RecordBatch> MakeBatch(const std::vector<Row>& rows) {
  arrow::StringBuilder keys;
  arrow::DoubleBuilder values;
  arrow::Int64Builder numbers;
  arrow::TimestampBuilder times(TimeType(), arrow::default_memory_pool());
  for (const auto& row : rows) {
    EXPECT_TRUE(keys.Append(row.key).ok());
    EXPECT_TRUE((row.v ? values.Append(*row.v) : values.AppendNull()).ok());
    EXPECT_TRUE((row.n ? numbers.Append(*row.n) : numbers.AppendNull()).ok());
    EXPECT_TRUE(times.Append(row.ts).ok());
  }
  return arrow::RecordBatch::Make(InputSchema(), static_cast<int64_t>(rows.size()),
                                  {keys.Finish().ValueOrDie(), values.Finish().ValueOrDie(),
                                   numbers.Finish().ValueOrDie(), times.Finish().ValueOrDie()});
}

/// A window processor built from a pipeline step written as YAML (`window: {...}`), so that
/// configuration errors carry real positions.
struct Harness {
  exec::DeadLetterQueue dead_letters;
  std::unique_ptr<exec::Processor> processor;
  exec::CollectingEmitter out;

  Status Make(const std::string& step, const std::string& event_time = "ts") {
    SLUICE_ASSIGN_OR_RAISE(processor,
                           testing::ProcessorFromYaml("window", step, InputSchema(),
                                                      {"test", &dead_letters, event_time}));
    return Status::OK();
  }

  void Process(const std::vector<Row>& rows) {
    Status status = processor->Process(MakeBatch(rows), out);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }
  void Watermark(int64_t watermark) {
    Status status = processor->OnWatermark(watermark, out);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }
  void End() {
    Watermark(exec::kMaxTimestamp);
    Status status = processor->Finish(out);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }
  /// Every emitted row as one JSON line, and the batches then forgotten.
  std::vector<std::string> Take() {
    std::vector<std::string> lines;
    for (const auto& batch : out.batches()) {
      EXPECT_TRUE(batch->schema()->Equals(*processor->output_schema(), false));
      for (int64_t i = 0; i < batch->num_rows(); ++i) lines.push_back(exec::RowToJson(*batch, i));
    }
    out.batches().clear();
    return lines;
  }
  std::shared_ptr<arrow::RecordBatch> TakeAll() {
    auto table =
        arrow::Table::FromRecordBatches(processor->output_schema(), out.batches()).ValueOrDie();
    out.batches().clear();
    return table->CombineChunksToBatch().ValueOrDie();
  }
};

std::string ErrorOf(const std::string& step) {
  Harness harness;
  Status status = harness.Make(step);
  return status.ok() ? "(no error)" : status.message();
}

TEST(WindowTest, TumblingFiresOnceWhenTheWatermarkPassesTheEnd) {
  Harness h;
  ASSERT_TRUE(
      h.Make("window: {tumbling: 10s, group_by: [key], aggregate: {v: [sum, min], n: [max]}}")
          .ok());
  EXPECT_EQ(h.processor->output_schema()->ToString(),
            "key: string\nwindow_start: timestamp[us, tz=UTC] not null\nwindow_end: timestamp[us, "
            "tz=UTC] not null\n"
            "v_sum: double\nv_min: double\nn_max: int64\ncount: int64 not null");
  h.Process({{"b", 1.5, 7, 1 * kSecond},
             {"a", 2, 3, 2 * kSecond},
             {"b", std::nullopt, 9, 9 * kSecond},
             {"a", 4, std::nullopt, 12 * kSecond}});
  h.Watermark(9 * kSecond);
  EXPECT_TRUE(h.Take().empty());
  h.Watermark(10 * kSecond);
  std::vector<std::string> expected = {
      R"({"key":"a","window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:10Z","v_sum":2.0,"v_min":2.0,"n_max":3,"count":1})",
      R"({"key":"b","window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:10Z","v_sum":1.5,"v_min":1.5,"n_max":9,"count":2})"};
  EXPECT_EQ(h.Take(), expected);
  h.Watermark(11 * kSecond);
  EXPECT_TRUE(h.Take().empty());
  h.End();
  std::vector<std::string> last = {
      R"({"key":"a","window_start":"1970-01-01T00:00:10Z","window_end":"1970-01-01T00:00:20Z","v_sum":4.0,"v_min":4.0,"n_max":null,"count":1})"};
  EXPECT_EQ(h.Take(), last);
  EXPECT_EQ(h.processor->state_bytes(), 0);
}

/// Plain reference implementations of every aggregate over one group's rows (in arrival order).
double Reference(const std::string& function, const std::vector<std::pair<int64_t, double>>& rows,
                 bool* valid) {
  std::vector<double> values;
  for (const auto& row : rows) values.push_back(row.second);
  const double n = static_cast<double>(values.size());
  *valid = !values.empty();
  if (values.empty()) return 0;
  double sum = 0;
  for (double v : values) sum += v;
  double mean = sum / n;
  double squares = 0;
  for (double v : values) squares += (v - mean) * (v - mean);
  auto by_time = rows;
  std::stable_sort(by_time.begin(), by_time.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  double first = by_time.front().second, last = by_time.back().second;
  double min = *std::min_element(values.begin(), values.end());
  double max = *std::max_element(values.begin(), values.end());
  auto quantile = [&](double q) {
    auto sorted = values;
    std::sort(sorted.begin(), sorted.end());
    double position = q * (n - 1);
    size_t low = static_cast<size_t>(std::floor(position)),
           high = static_cast<size_t>(std::ceil(position));
    return sorted[low] + (position - static_cast<double>(low)) * (sorted[high] - sorted[low]);
  };
  if (function == "count") return n;
  if (function == "sum") return sum;
  if (function == "min") return min;
  if (function == "max") return max;
  if (function == "avg") return mean;
  if (function == "first") return first;
  if (function == "last") return last;
  if (function == "variance" || function == "stddev") {
    *valid = n > 1;
    double variance = n > 1 ? squares / (n - 1) : 0;
    return function == "variance" ? variance : std::sqrt(variance);
  }
  if (function == "var_pop") return squares / n;
  if (function == "stddev_pop") return std::sqrt(squares / n);
  if (function == "median") return quantile(0.5);
  if (function == "p90") return quantile(0.9);
  if (function == "count_distinct" || function == "approx_count_distinct") {
    std::set<double> distinct(values.begin(), values.end());
    return static_cast<double>(distinct.size());
  }
  if (function == "harmonic_mean") {
    double inverse = 0;
    for (double v : values) inverse += 1 / v;
    return n / inverse;
  }
  if (function == "geometric_mean") {
    double logs = 0;
    for (double v : values) logs += std::log(v);
    return std::exp(logs / n);
  }
  if (function == "ema") {
    double alpha = 2 / (n + 1), ema = by_time[0].second;
    for (size_t i = 1; i < by_time.size(); ++i) ema = alpha * by_time[i].second + (1 - alpha) * ema;
    return ema;
  }
  if (function == "zscore") {
    double deviation = n > 1 ? std::sqrt(squares / (n - 1)) : 0;
    *valid = deviation > 0;
    return (last - mean) / deviation;
  }
  if (function == "minmax") {
    *valid = max > min;
    return (last - min) / (max - min);
  }
  ADD_FAILURE() << "no reference for " << function;
  return 0;
}

const std::vector<std::string> kFunctions = {"count",
                                             "sum",
                                             "min",
                                             "max",
                                             "avg",
                                             "first",
                                             "last",
                                             "variance",
                                             "stddev",
                                             "var_pop",
                                             "stddev_pop",
                                             "median",
                                             "p90",
                                             "count_distinct",
                                             "approx_count_distinct",
                                             "harmonic_mean",
                                             "geometric_mean",
                                             "ema",
                                             "zscore",
                                             "minmax"};

/// Runs `window_kind` over random rows (nulls, out-of-order times within the watermark delay,
/// small value domain so that ties and distinct counts matter) and compares every aggregate
/// with the reference, per (window, key). `windows_of` lists the [start, end) windows a time
/// falls in.
void CheckAgainstReference(
    const std::string& window_kind,
    const std::function<std::vector<std::pair<int64_t, int64_t>>(int64_t)>& windows_of,
    uint32_t seed) {
  std::string functions;
  for (const auto& name : kFunctions) functions += (functions.empty() ? "" : ", ") + name;
  Harness h;
  ASSERT_TRUE(
      h.Make("window: {" + window_kind + ", group_by: [key], aggregate: {v: [" + functions + "]}}")
          .ok());
  std::mt19937 random(seed);
  std::map<std::pair<std::pair<int64_t, int64_t>, std::string>,
           std::vector<std::pair<int64_t, double>>>
      groups;
  std::map<std::pair<std::pair<int64_t, int64_t>, std::string>, int64_t> counts;
  int64_t now = 1000 * kSecond;
  const int64_t delay = 3 * kSecond;
  int64_t max_time = 0;
  for (int batch = 0; batch < 40; ++batch) {
    std::vector<Row> rows;
    for (int i = 0; i < 50; ++i) {
      now += random() % (kSecond / 2);
      int64_t time = now - static_cast<int64_t>(random() % delay);  // never behind the watermark
      std::string key(1, static_cast<char>('a' + random() % 4));
      std::optional<double> value;
      if (random() % 5 != 0) value = 1 + static_cast<double>(random() % 40) / 4;
      rows.push_back({key, value, std::nullopt, time});
      for (const auto& window : windows_of(time)) {
        counts[{window, key}] += 1;
        if (value) groups[{window, key}].emplace_back(time, *value);
      }
      max_time = std::max(max_time, time);
    }
    h.Process(rows);
    h.Watermark(max_time - delay);
  }
  h.End();
  auto result = h.TakeAll();
  EXPECT_EQ(h.dead_letters.total(), 0);
  ASSERT_EQ(result->num_rows(), static_cast<int64_t>(counts.size()));
  auto starts =
      std::static_pointer_cast<arrow::TimestampArray>(result->GetColumnByName("window_start"));
  auto ends =
      std::static_pointer_cast<arrow::TimestampArray>(result->GetColumnByName("window_end"));
  auto keys = std::static_pointer_cast<arrow::StringArray>(result->GetColumnByName("key"));
  auto count = std::static_pointer_cast<arrow::Int64Array>(result->GetColumnByName("count"));
  auto expected = counts.begin();
  for (int64_t row = 0; row < result->num_rows(); ++row, ++expected) {
    // Output order: window_start, then key — the order of the reference map.
    const auto& [window, key] = expected->first;
    ASSERT_EQ(starts->Value(row), window.first);
    ASSERT_EQ(ends->Value(row), window.second);
    ASSERT_EQ(keys->GetString(row), key);
    ASSERT_EQ(count->Value(row), expected->second);
    const auto& values = groups[expected->first];
    for (const auto& function : kFunctions) {
      auto column = result->GetColumnByName("v_" + function);
      bool valid = false;
      double want = Reference(function, values, &valid);
      if (function == "count" || function == "count_distinct" ||
          function == "approx_count_distinct")
        valid = true;
      ASSERT_EQ(column->IsValid(row), valid) << function << " row " << row;
      if (!valid) continue;
      auto scalar = column->GetScalar(row).ValueOrDie();
      double got =
          scalar->type->id() == arrow::Type::INT64
              ? static_cast<double>(std::static_pointer_cast<arrow::Int64Scalar>(scalar)->value)
              : std::static_pointer_cast<arrow::DoubleScalar>(scalar)->value;
      double tolerance = function == "approx_count_distinct"
                             ? 0.05 * want + 1
                             : 1e-9 * std::max(1.0, std::fabs(want));
      EXPECT_NEAR(got, want, tolerance) << function << " window " << window.first << " key " << key;
    }
  }
  EXPECT_EQ(h.processor->state_bytes(), 0);
}

TEST(WindowTest, TumblingAggregatesMatchTheReference) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    CheckAgainstReference(
        "tumbling: 5s",
        [](int64_t time) {
          int64_t start = time / (5 * kSecond) * (5 * kSecond);
          return std::vector<std::pair<int64_t, int64_t>>{{start, start + 5 * kSecond}};
        },
        seed);
  }
}

TEST(WindowTest, SlidingAggregatesMatchTheReference) {
  for (uint32_t seed : {4u, 5u}) {
    CheckAgainstReference(
        "sliding: {size: 6s, slide: 4s}",  // panes of gcd = 2s
        [](int64_t time) {
          std::vector<std::pair<int64_t, int64_t>> windows;
          for (int64_t start = time / (4 * kSecond) * (4 * kSecond); start > time - 6 * kSecond;
               start -= 4 * kSecond) {
            windows.emplace_back(start, start + 6 * kSecond);
          }
          return windows;
        },
        seed);
  }
}

TEST(WindowTest, SessionsMergeWhenARowBridgesThem) {
  Harness h;
  ASSERT_TRUE(
      h.Make("window: {session: {gap: 25s}, group_by: [key], aggregate: {v: [sum, first, last]}}")
          .ok());
  h.Process({{"a", 1, 0, 0}, {"a", 2, 0, 40 * kSecond}, {"b", 5, 0, 41 * kSecond}});
  h.Watermark(10 * kSecond);
  h.Process({{"a", 3, 0, 20 * kSecond}});  // [20s, 45s) overlaps [0, 25s) and [40s, 65s)
  h.Watermark(65 * kSecond);
  std::vector<std::string> expected = {
      R"({"key":"a","window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:01:05Z","v_sum":6.0,"v_first":1.0,"v_last":2.0,"count":3})"};
  EXPECT_EQ(h.Take(), expected);
  h.End();
  std::vector<std::string> rest = {
      R"({"key":"b","window_start":"1970-01-01T00:00:41Z","window_end":"1970-01-01T00:01:06Z","v_sum":5.0,"v_first":5.0,"v_last":5.0,"count":1})"};
  EXPECT_EQ(h.Take(), rest);
  EXPECT_EQ(h.processor->state_bytes(), 0);
}

TEST(WindowTest, SessionsSplitBySilence) {
  Harness h;
  ASSERT_TRUE(h.Make("window: {session: 10s, aggregate: {n: [sum]}}").ok());
  h.Process({{"a", 1, 1, 0},
             {"a", 1, 2, 9 * kSecond},
             {"a", 1, 4, 18 * kSecond},
             {"a", 1, 8, 27 * kSecond}});
  h.Process(
      {{"a", 1, 16, 40 * kSecond}});  // a gap of exactly 10s would also split: the end is exclusive
  h.End();
  std::vector<std::string> expected = {
      R"({"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:37Z","n_sum":15,"count":4})",
      R"({"window_start":"1970-01-01T00:00:40Z","window_end":"1970-01-01T00:00:50Z","n_sum":16,"count":1})"};
  EXPECT_EQ(h.Take(), expected);
}

TEST(WindowTest, ARowThatWouldExtendAnEmittedSessionIsLateNotASecondSession) {
  Harness h;
  ASSERT_TRUE(h.Make("window: {session: 5s, aggregate: {n: [sum]}}").ok());
  h.Process({{"a", 1, 1, 1 * kSecond}, {"a", 1, 2, 3 * kSecond}});
  h.Watermark(9 * kSecond);  // the session [1s, 8s) fires and is gone
  ASSERT_EQ(h.Take().size(), 1u);
  // 6s would extend [1s, 8s): late, not the start of a session [6s, 11s) over the same span.
  h.Process({{"a", 1, 4, 6 * kSecond}});
  auto letters = h.dead_letters.Drain();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason, "late: it would extend a session that was already emitted");
  // A row past the emitted session's end starts a new one.
  h.Process({{"a", 1, 8, 8 * kSecond}});
  h.End();
  std::vector<std::string> expected = {
      R"({"window_start":"1970-01-01T00:00:08Z","window_end":"1970-01-01T00:00:13Z","n_sum":8,"count":1})"};
  EXPECT_EQ(h.Take(), expected);
  EXPECT_EQ(h.processor->state_bytes(), 0);
}

TEST(WindowTest, ASessionUpdatedWithinAllowedLatenessIsEmittedAsAnUpdateNotTwice) {
  Harness h;
  ASSERT_TRUE(h.Make("window: {session: 5s, allowed_lateness: 10s, aggregate: {n: [sum]}}").ok());
  h.Process({{"a", 1, 1, 1 * kSecond}});
  h.Watermark(7 * kSecond);
  ASSERT_EQ(h.Take().size(), 1u);  // [1s, 6s) final
  // 4s extends it to [1s, 9s): an update of the same session, once its new end has passed.
  h.Process({{"a", 1, 2, 4 * kSecond}});
  EXPECT_TRUE(h.Take().empty());
  h.Watermark(10 * kSecond);
  std::vector<std::string> expected = {
      R"({"window_start":"1970-01-01T00:00:01Z","window_end":"1970-01-01T00:00:09Z","n_sum":3,"count":2,"final":true})"};
  EXPECT_EQ(h.Take(), expected);
  h.End();
  EXPECT_TRUE(h.Take().empty());
}

TEST(WindowTest, ARowLateForSomeSlidingWindowsCountsInTheOthersAndIsReported) {
  Harness h;
  ASSERT_TRUE(h.Make("window: {sliding: {size: 10s, slide: 2s}, aggregate: {n: [sum]}}").ok());
  h.Process({{"a", 1, 1, 11 * kSecond}});
  h.Watermark(13 * kSecond);  // windows ending at 12s and earlier have fired
  h.Take();
  // 9s is in the windows starting at 0, 2, 4, 6 and 8s: those ending at 10s and 12s have closed.
  h.Process({{"a", 1, 100, 9 * kSecond}});
  auto letters = h.dead_letters.Drain();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason, "late for 2 of 5 windows: counted only in the open ones");
  EXPECT_EQ(letters[0].row, 0);
  EXPECT_EQ(h.dead_letters.late(), 1);
  h.End();
  // Windows [4s, 14s), [6s, 16s), [8s, 18s) hold both rows; [10s, 20s) only the first.
  int64_t with_both = 0;
  for (const auto& line : h.Take()) {
    if (line.find("\"n_sum\":101") != std::string::npos) ++with_both;
  }
  EXPECT_EQ(with_both, 3);
}

TEST(WindowTest, ARowBehindItsPartitionIsJudgedAgainstThatPartitionsWatermark) {
  Harness h;
  std::vector<exec::Timestamp> row_watermarks;
  ASSERT_TRUE(h.Make("window: {tumbling: 10s, aggregate: {n: [sum]}}").ok());
  // Built with a context that has no row watermarks: rebuild with one.
  exec::ProcessorContext context{"test", &h.dead_letters, "ts"};
  context.row_watermarks = &row_watermarks;
  auto processor = testing::ProcessorFromYaml(
      "window", "window: {tumbling: 10s, aggregate: {n: [sum]}}", InputSchema(), context);
  ASSERT_TRUE(processor.ok()) << processor.status().ToString();
  h.processor = *std::move(processor);
  // The processor's own watermark has not moved, but the second row is behind its partition's
  // watermark of 15s: its window [0s, 10s) has closed for it.
  row_watermarks = {exec::kMinTimestamp, 15 * kSecond};
  h.Process({{"a", 1, 1, 12 * kSecond}, {"a", 1, 2, 3 * kSecond}});
  row_watermarks.clear();
  EXPECT_EQ(h.dead_letters.late(), 1);
  h.End();
  std::vector<std::string> expected = {
      R"({"window_start":"1970-01-01T00:00:10Z","window_end":"1970-01-01T00:00:20Z","n_sum":1,"count":1})"};
  EXPECT_EQ(h.Take(), expected);
}

TEST(WindowTest, LateRowsAreDeadLetters) {
  Harness h;
  ASSERT_TRUE(h.Make("window: {tumbling: 10s, aggregate: {n: [sum]}}").ok());
  h.Process({{"a", 1, 1, 5 * kSecond}});
  h.Watermark(12 * kSecond);
  EXPECT_EQ(h.Take().size(), 1u);
  h.Process({{"a", 1, 2, 3 * kSecond}, {"a", 1, 4, 11 * kSecond}});
  EXPECT_TRUE(h.Take().empty());
  auto letters = h.dead_letters.Drain();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason,
            "late: window [1970-01-01T00:00:00Z, 1970-01-01T00:00:10Z) has closed");
  EXPECT_EQ(letters[0].stage, "window");
  EXPECT_EQ(letters[0].record, R"({"key":"a","v":1.0,"n":2,"ts":"1970-01-01T00:00:03Z"})");
  EXPECT_EQ(h.dead_letters.late(), 1);
  h.End();
  std::vector<std::string> expected = {
      R"({"window_start":"1970-01-01T00:00:10Z","window_end":"1970-01-01T00:00:20Z","n_sum":4,"count":1})"};
  EXPECT_EQ(h.Take(), expected);
}

TEST(WindowTest, AllowedLatenessReemitsTheUpdatedWindow) {
  Harness h;
  ASSERT_TRUE(h.Make("window: {tumbling: 10s, allowed_lateness: 5s, aggregate: {n: [sum]}}").ok());
  h.Process({{"a", 1, 1, 5 * kSecond}});
  h.Watermark(12 * kSecond);
  std::vector<std::string> on_time = {
      R"({"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:10Z","n_sum":1,"count":1,"final":true})"};
  EXPECT_EQ(h.Take(), on_time);
  h.Process({{"a", 1, 2, 3 * kSecond}});  // late but allowed: the window is emitted again
  std::vector<std::string> updated = {
      R"({"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:10Z","n_sum":3,"count":2,"final":true})"};
  EXPECT_EQ(h.Take(), updated);
  EXPECT_GT(h.processor->state_bytes(), 0);
  h.Watermark(15 * kSecond);  // end + lateness: the window's state goes
  EXPECT_EQ(h.processor->state_bytes(), 0);
  h.Process({{"a", 1, 4, 4 * kSecond}});
  EXPECT_TRUE(h.Take().empty());
  EXPECT_EQ(h.dead_letters.late(), 1);
  h.End();
  EXPECT_TRUE(h.Take().empty());
}

TEST(WindowTest, EmitEverySendsEarlyUpdates) {
  Harness h;
  ASSERT_TRUE(h.Make("window: {tumbling: 10s, emit_every: 2s, aggregate: {n: [sum]}}").ok());
  h.Process({{"a", 1, 1, 1 * kSecond}});
  h.Watermark(1 * kSecond);  // the first watermark starts the clock
  EXPECT_TRUE(h.Take().empty());
  h.Process({{"a", 1, 2, 3 * kSecond}});
  h.Watermark(3 * kSecond);
  std::vector<std::string> early = {
      R"({"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:10Z","n_sum":3,"count":2,"final":false})"};
  EXPECT_EQ(h.Take(), early);
  h.Watermark(4 * kSecond);
  EXPECT_TRUE(h.Take().empty());
  h.Watermark(10 * kSecond);
  std::vector<std::string> final = {
      R"({"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:10Z","n_sum":3,"count":2,"final":true})"};
  EXPECT_EQ(h.Take(), final);
}

TEST(WindowTest, CountWindowsFireWhenFull) {
  Harness h;
  ASSERT_TRUE(h.Make("window: {count: 2, group_by: [key], aggregate: {n: [sum]}}").ok());
  h.Process({{"a", 1, 1, 1 * kSecond},
             {"b", 1, 10, 2 * kSecond},
             {"a", 1, 2, 3 * kSecond},
             {"a", 1, 4, 4 * kSecond}});
  std::vector<std::string> full = {
      R"({"key":"a","window_start":"1970-01-01T00:00:01Z","window_end":"1970-01-01T00:00:03Z","n_sum":3,"count":2})"};
  EXPECT_EQ(h.Take(), full);
  h.End();
  std::vector<std::string> rest = {
      R"({"key":"b","window_start":"1970-01-01T00:00:02Z","window_end":"1970-01-01T00:00:02Z","n_sum":10,"count":1})",
      R"({"key":"a","window_start":"1970-01-01T00:00:04Z","window_end":"1970-01-01T00:00:04Z","n_sum":4,"count":1})"};
  EXPECT_EQ(h.Take(), rest);
  EXPECT_EQ(h.processor->state_bytes(), 0);
}

TEST(WindowTest, SlidingCountWindows) {
  Harness h;
  ASSERT_TRUE(
      h.Make("window: {count: {size: 3, slide: 2}, aggregate: {n: [sum, first, last]}}").ok());
  std::vector<Row> rows;
  for (int i = 0; i < 6; ++i) rows.push_back({"a", 1, int64_t{1} << i, i * kSecond});
  h.Process(rows);
  // Rows 0-2 and 2-4 are full; 4-5 is emitted at the end.
  std::vector<std::string> full = {
      R"({"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:02Z","n_sum":7,"n_first":1,"n_last":4,"count":3})",
      R"({"window_start":"1970-01-01T00:00:02Z","window_end":"1970-01-01T00:00:04Z","n_sum":28,"n_first":4,"n_last":16,"count":3})"};
  EXPECT_EQ(h.Take(), full);
  h.End();
  std::vector<std::string> rest = {
      R"({"window_start":"1970-01-01T00:00:04Z","window_end":"1970-01-01T00:00:05Z","n_sum":48,"n_first":16,"n_last":32,"count":2})"};
  EXPECT_EQ(h.Take(), rest);
  EXPECT_EQ(h.processor->state_bytes(), 0);
}

TEST(WindowTest, ProcessingTimeWindowsUseTheWallClock) {
  Harness h;
  ASSERT_TRUE(h.Make("window: {tumbling: 1h, aggregate: {n: [sum]}}", /*event_time=*/"").ok());
  h.Process({{"a", 1, 1, 0}, {"a", 1, 2, 0}});
  h.End();
  auto result = h.TakeAll();
  ASSERT_EQ(result->num_rows(), 1);
  auto start =
      std::static_pointer_cast<arrow::TimestampArray>(result->GetColumnByName("window_start"))
          ->Value(0);
  EXPECT_GT(start, int64_t{1600000000} * kSecond);  // now, not the rows' ts
}

TEST(WindowTest, ConfigurationErrorsPointAtTheOption) {
  EXPECT_EQ(
      ErrorOf("window: {tumbling: 5s, aggregate: {v: [sum, stdev]}}"),
      "test.yaml:1:45: error: unknown aggregate function 'stdev'\n  hint: did you mean 'stddev'?");
  EXPECT_EQ(ErrorOf("window: {tumbling: 5s, aggregate: {value: [sum]}}"),
            "test.yaml:1:36: error: unknown field 'value' in aggregate\n  hint: expected one of: "
            "key, v, n, ts");
  EXPECT_EQ(ErrorOf("window: {tumbling: 5s, aggregate: {key: [avg]}}"),
            "test.yaml:1:42: error: 'key' is string: avg takes numbers, not string");
  EXPECT_EQ(
      ErrorOf("window: {tumbling: 5s, session: 2s}"),
      "test.yaml:1:33: error: a window has one kind, but both 'tumbling' and 'session' are given\n"
      "  hint: keep one of them");
  EXPECT_EQ(ErrorOf("window: {group_by: [key]}"),
            "test.yaml:1:9: error: a window needs its kind: tumbling, sliding, session or count\n  "
            "hint: e.g. tumbling: 5s");
  EXPECT_EQ(ErrorOf("window: {count: {size: 0}}"),
            "test.yaml:1:24: error: a count window's size must be a whole number above 0\n"
            "  hint: e.g. count: 100 or count: {size: 100, slide: 10}");
  EXPECT_EQ(ErrorOf("window: {tumbling: 5s, group_by: [kee]}"),
            "test.yaml:1:34: error: unknown field 'kee' in group_by\n  hint: did you mean 'key'?");
  EXPECT_EQ(ErrorOf("window: {sliding: {size: 5s, slide: 10s}}"),
            "test.yaml:1:37: error: a window's slide cannot be longer than its size\n"
            "  hint: for windows with gaps between them, filter the rows first");
  EXPECT_EQ(
      ErrorOf("window: {tumbling: 5s, aggregate: {v: [avgg]}}"),
      "test.yaml:1:40: error: unknown aggregate function 'avgg'\n  hint: did you mean 'avg'?");
}

}  // namespace
}  // namespace sluice::processors
