// The property that no result depends on how the input was cut: every stateful processor gives
// the same output and the same dead letters for any batch size and, where the result does not
// depend on the order of rows within the delay, for any split of the rows into files. The data
// holds nulls, rows out of order within the watermark delay, rows a little behind it (late for
// some windows of a sliding window) and rows far behind it.
#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "window_test_support.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;

/// How far behind the rows before it a row arrives.
enum class Lag { kWithinDelay, kSomewhat, kFar };

/// Random events in an arrival order: each row is shuffled within the 2 s delay, and a few rows
/// arrive later than their time says — a little (3-6 s, late for some windows of a 10 s / 2 s
/// sliding window) when `somewhat_behind`, or far (20 s, later than any window holding them
/// closes). About 1% have no event time.
struct Arrivals {
  std::vector<Event> events;
  std::vector<int64_t> order;
  std::vector<bool> no_time;
};

Arrivals MakeArrivals(uint32_t seed, int64_t rows, bool somewhat_behind) {
  Arrivals arrivals;
  arrivals.events = RandomEvents(seed, rows);
  std::mt19937 random(seed * 7 + 1);
  auto percent = [&] { return std::uniform_int_distribution<int>(0, 99)(random); };
  std::vector<std::pair<int64_t, int64_t>> keyed;
  // A row held back arrives among rows far later than itself, so never near the end.
  const int64_t last = arrivals.events.back().ts;
  for (int64_t i = 0; i < rows; ++i) {
    int64_t arrival = arrivals.events[i].ts +
                      std::uniform_int_distribution<int64_t>(0, 2 * kMicrosPerSecond - 1)(random);
    int pick = percent();
    if (arrivals.events[i].ts + 40 * kMicrosPerSecond > last) {
      // in order within the delay
    } else if (pick < 3) {
      arrival += 20 * kMicrosPerSecond;
    } else if (somewhat_behind && pick < 6) {
      arrival += std::uniform_int_distribution<int64_t>(3, 6)(random) * kMicrosPerSecond;
    }
    keyed.emplace_back(arrival, i);
  }
  std::sort(keyed.begin(), keyed.end());
  for (const auto& [_, index] : keyed) {
    arrivals.order.push_back(index);
    arrivals.no_time.push_back(percent() == 0);
  }
  return arrivals;
}

/// The rows at arrival positions `positions` as a batch; rows marked in `no_time` have a null
/// `ts`.
std::shared_ptr<arrow::RecordBatch> ArrivalBatch(const Arrivals& arrivals,
                                                 const std::vector<int64_t>& positions) {
  std::vector<int64_t> order;
  for (int64_t position : positions) order.push_back(arrivals.order[position]);
  auto batch = EventBatch(arrivals.events, order);
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                             arrow::default_memory_pool());
  const auto& times = static_cast<const arrow::TimestampArray&>(*batch->column(3));
  for (size_t i = 0; i < positions.size(); ++i) {
    EXPECT_TRUE(
        (arrivals.no_time[positions[i]] ? ts.AppendNull() : ts.Append(times.Value(i))).ok());
  }
  std::shared_ptr<arrow::Array> column;
  EXPECT_TRUE(ts.Finish(&column).ok());
  return *batch->SetColumn(3, batch->schema()->field(3), column);
}

/// Writes the rows whose arrival position satisfies `pick` into `files` Parquet files named
/// `<prefix>-<n>.parquet`, dealing them out in turn, so that every file covers the whole time
/// range (the files overlap).
void WriteFiles(const Arrivals& arrivals, const fs::path& dir, const std::string& prefix, int files,
                const std::function<bool(int64_t)>& pick) {
  std::vector<std::vector<int64_t>> positions(files);
  int next = 0;
  for (int64_t position = 0; position < static_cast<int64_t>(arrivals.order.size()); ++position) {
    if (!pick(position)) continue;
    positions[next].push_back(position);
    next = (next + 1) % files;
  }
  fs::create_directories(dir);
  for (int f = 0; f < files; ++f) {
    auto batch = ArrivalBatch(arrivals, positions[f]);
    auto path = dir / fmt::format("{}-{:03}.parquet", prefix, f);
    ASSERT_TRUE(WriteParquet(path.string(), batch).ok());
    // The same rows as JSON lines, which a reader cuts into batches differently.
    std::ofstream lines(dir / fmt::format("{}-{:03}.jsonl", prefix, f));
    for (int64_t row = 0; row < batch->num_rows(); ++row)
      lines << exec::RowToJson(*batch, row) << "\n";
  }
}

std::string Source(const std::string& name, const fs::path& dir, const std::string& prefix,
                   int64_t batch_size, const std::string& format) {
  return fmt::format(
      "  {}:\n"
      "    connector: file\n"
      "    path: {}/{}-*.{}\n"
      "    batch_size: {}\n"
      "{}"
      "    event_time: {{field: ts, watermark_delay: 2s}}\n",
      name, dir.string(), prefix, format, batch_size,
      format == "jsonl" ? "    schema: {key: string, v: double, w: double, ts: timestamp}\n" : "");
}

/// One stateful pipeline under test: its steps, and whether it reads two streams (`orders` and
/// `payments`) instead of one (`events`).
struct Case {
  std::string name;
  std::string steps;
  bool two_inputs = false;
  /// Whether the result depends only on which rows arrive, not on the order of rows within the
  /// delay (so that splitting rows across files cannot change it).
  bool order_free = true;
  /// Whether the step has late rows (count windows, dedup and cdc do not judge lateness).
  bool judges_lateness = true;
  /// For a step that emits updates (allowed_lateness, aggregate), whose number depends on the
  /// batches: the fields that name what is updated; the last row of each is compared.
  std::vector<std::string> last_per = {};
  /// False for a sliding window over two sources: a row late for some of its windows still
  /// joins in the others that have not fired, which depends on how the sources interleave
  /// (docs/event-time.md). Its data then has no rows a little behind.
  bool exact_for_partly_late = true;
};

/// Names a case by its name in test output.
void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"tumbling",
       "  - window: {tumbling: 5s, group_by: [key], aggregate: {v: [sum, count, min, max, avg], "
       "w: [max]}}\n"},
      {"tumbling_first_last",
       "  - window: {tumbling: 5s, group_by: [key], aggregate: {v: [first, last]}}\n", false,
       false},
      {"sliding",
       "  - window: {sliding: {size: 10s, slide: 2s}, group_by: [key], aggregate: {v: [sum, "
       "count, max]}}\n"},
      {"session",
       "  - window: {session: {gap: 3s}, group_by: [key], aggregate: {v: [sum, count]}}\n"},
      {"count", "  - window: {count: 20, group_by: [key], aggregate: {v: [sum]}}\n", false, false,
       false},
      {"tumbling_lateness",
       "  - window: {tumbling: 5s, group_by: [key], allowed_lateness: 4s, aggregate: {v: "
       "[sum, count]}}\n",
       false,
       false,
       true,
       {"key", "window_start"}},
      {"window_top_n",
       "  - window: {tumbling: 5s, group_by: [key], aggregate: {v: [count]}}\n"
       "  - top_n: {n: 2, by: count, order: desc, per: [window_start], with_ties: true}\n"},
      {"aggregate",
       "  - aggregate: {group_by: [key], aggregate: {v: [sum, count, max], w: [avg]}}\n",
       false,
       true,
       false,
       {"key"}},
      {"sql_tumbling",
       "  - sql: {query: \"SELECT key, window_start, count(*) AS n, sum(v) AS v FROM input GROUP "
       "BY ALL\", window: {tumbling: 5s}}\n"},
      {"sql_sliding",
       "  - sql: {query: \"SELECT key, window_start, count(*) AS n, max(v) AS v FROM input GROUP "
       "BY ALL\", window: {sliding: {size: 10s, slide: 2s}}}\n"},
      {"sql_whole_input",
       "  - sql: \"SELECT key, count(*) AS n, sum(v) AS v FROM input GROUP BY key\"\n", false, true,
       false},
      {"dedup", "  - dedup: {key: [key], within: 5s}\n", false, false, false},
      {"cdc", "  - cdc: {key: [key], fields: [v]}\n", false, false, false},
      {"interval_join",
       "  - join: {left: orders, right: payments, on: {key: key}, interval: {lower: -1s, upper: "
       "1s}}\n",
       true},
      {"window_join_left",
       "  - join: {left: orders, right: payments, on: {key: key}, type: left, window: {tumbling: "
       "5s}}\n",
       true},
      {"window_join_full",
       "  - join: {left: orders, right: payments, on: {key: key}, type: full, window: {sliding: "
       "{size: 4s, slide: 2s}}}\n",
       true,
       true,
       true,
       {},
       false},
  };
  return cases;
}

/// What is compared between runs: the output, and the dead letters without their origin (which
/// names the file) and time.
struct RunResult {
  std::shared_ptr<arrow::Table> output;
  std::shared_ptr<arrow::Table> dead_letters;
  exec::RunSummary summary;
};

RunResult RunCase(const Case& c, const fs::path& dir, int64_t batch_size,
                  const std::string& format = "parquet") {
  std::string sources = c.two_inputs ? Source("orders", dir, "orders", batch_size, format) +
                                           Source("payments", dir, "payments", batch_size, format)
                                     : Source("events", dir, "events", batch_size, format);
  std::string yaml = fmt::format(
      "name: cuts\n"
      "sources:\n{}"
      "pipeline:\n{}"
      "sinks:\n"
      "  out: {{connector: collect}}\n"
      "dead_letters: {{connector: collect}}\n",
      sources, c.steps);
  auto run = RunPipeline(yaml);
  EXPECT_TRUE(run.ok()) << run.status().ToString() << "\n" << yaml;
  if (!run.ok()) return {};
  RunResult result;
  result.output = run->table;
  result.summary = run->summary;
  if (run->dead_letters != nullptr) {
    result.dead_letters =
        *run->dead_letters->SelectColumns({run->dead_letters->schema()->GetFieldIndex("reason"),
                                           run->dead_letters->schema()->GetFieldIndex("stage"),
                                           run->dead_letters->schema()->GetFieldIndex("record")});
  }
  return result;
}

/// The last row emitted for each value of `fields`: what is left after the updates.
std::shared_ptr<arrow::Table> LastPer(const arrow::Table& table,
                                      const std::vector<std::string>& fields) {
  auto combined = *table.CombineChunksToBatch();
  std::map<std::string, int64_t> last;
  for (int64_t row = 0; row < combined->num_rows(); ++row) {
    std::string key;
    for (const auto& field : fields)
      key += (*combined->GetColumnByName(field)->GetScalar(row))->ToString() + "|";
    last[key] = row;
  }
  arrow::Int64Builder indices;
  for (const auto& [_, row] : last) EXPECT_TRUE(indices.Append(row).ok());
  auto taken = *arrow::compute::Take(combined, *indices.Finish());
  return *arrow::Table::FromRecordBatches({taken.record_batch()});
}

/// The same output rows, the same dead letters, the same counts.
void ExpectSame(const RunResult& expected, const RunResult& actual, const std::string& what,
                const std::vector<std::string>& last_per) {
  ASSERT_NE(expected.output, nullptr);
  ASSERT_NE(actual.output, nullptr);
  if (!last_per.empty()) {
    EXPECT_EQ(DescribeDifferences(*LastPer(*expected.output, last_per),
                                  *LastPer(*actual.output, last_per)),
              "")
        << what;
  } else {
    EXPECT_EQ(DescribeDifferences(*expected.output, *actual.output), "") << what;
  }
  ASSERT_EQ(expected.dead_letters == nullptr, actual.dead_letters == nullptr) << what;
  if (expected.dead_letters != nullptr) {
    EXPECT_EQ(DescribeDifferences(*expected.dead_letters, *actual.dead_letters), "")
        << what << " (dead letters)";
  }
  EXPECT_EQ(expected.summary.rows_in, actual.summary.rows_in) << what;
  EXPECT_EQ(expected.summary.dead_letters, actual.summary.dead_letters) << what;
  EXPECT_EQ(expected.summary.late, actual.summary.late) << what;
}

class CutIndependenceTest : public ::testing::TestWithParam<Case> {
 protected:
  fs::path Dir(const std::string& name) {
    fs::path dir = fs::temp_directory_path() /
                   fmt::format("sluice-cuts-{}-{}-{}", ::getpid(), GetParam().name, name);
    fs::remove_all(dir);
    dirs_.push_back(dir);
    return dir;
  }
  void TearDown() override {
    for (const auto& dir : dirs_) fs::remove_all(dir);
  }
  void Write(const Arrivals& arrivals, const fs::path& dir, int files) {
    if (GetParam().two_inputs) {
      WriteFiles(arrivals, dir, "orders", files, [](int64_t p) { return p % 2 == 0; });
      WriteFiles(arrivals, dir, "payments", files, [](int64_t p) { return p % 2 == 1; });
    } else {
      WriteFiles(arrivals, dir, "events", files, [](int64_t) { return true; });
    }
  }

 private:
  std::vector<fs::path> dirs_;
};

TEST_P(CutIndependenceTest, AnyBatchSizeGivesTheSameResult) {
  for (uint32_t seed : {1u, 2u}) {
    Arrivals arrivals = MakeArrivals(seed, 3000, GetParam().exact_for_partly_late);
    fs::path dir = Dir(fmt::format("batches-{}", seed));
    Write(arrivals, dir, 1);
    RunResult one_row = RunCase(GetParam(), dir, 1);
    ASSERT_NE(one_row.output, nullptr);
    if (GetParam().judges_lateness) {
      EXPECT_GT(one_row.summary.late, 0) << "the data must hold late rows";
    }
    ExpectSame(one_row, RunCase(GetParam(), dir, 1000, "jsonl"),
               fmt::format("seed {}, JSON lines vs Parquet", seed), GetParam().last_per);
    for (int64_t batch_size : {7, 64, 65536}) {
      ExpectSame(one_row, RunCase(GetParam(), dir, batch_size),
                 fmt::format("seed {}, batch_size {} vs 1", seed, batch_size), GetParam().last_per);
    }
  }
}

TEST_P(CutIndependenceTest, AnySplitIntoFilesGivesTheSameResult) {
  if (!GetParam().order_free) GTEST_SKIP() << "the result depends on the order within the delay";
  Arrivals arrivals = MakeArrivals(3, 3000, /*somewhat_behind=*/false);
  fs::path one = Dir("files-1");
  Write(arrivals, one, 1);
  RunResult expected = RunCase(GetParam(), one, 7);
  ASSERT_NE(expected.output, nullptr);
  if (GetParam().judges_lateness) {
    EXPECT_GT(expected.summary.late, 0) << "the data must hold late rows";
  }
  for (int files : {3, 10}) {
    fs::path dir = Dir(fmt::format("files-{}", files));
    Write(arrivals, dir, files);
    for (int64_t batch_size : {7, 65536}) {
      ExpectSame(expected, RunCase(GetParam(), dir, batch_size),
                 fmt::format("{} files, batch_size {} vs 1 file", files, batch_size),
                 GetParam().last_per);
    }
  }
}

// More files than the file source opens at once (256): the ones beyond wait, and the result is
// still that of one file. (Rows out of order within the delay only: with 10 rows a file, a row
// far behind may be the first of its file, and a row is late only against the rows before it in
// its own file.)
TEST(CutIndependenceManyFilesTest, MoreFilesThanAreOpenAtOnce) {
  Arrivals arrivals;
  arrivals.events = RandomEvents(4, 3000);
  arrivals.order = ShuffleWithinDelay(arrivals.events, 2 * kMicrosPerSecond, 5);
  arrivals.no_time.assign(arrivals.order.size(), false);
  fs::path one = fs::temp_directory_path() / fmt::format("sluice-cuts-{}-many-1", ::getpid());
  fs::path many = fs::temp_directory_path() / fmt::format("sluice-cuts-{}-many-300", ::getpid());
  WriteFiles(arrivals, one, "events", 1, [](int64_t) { return true; });
  WriteFiles(arrivals, many, "events", 300, [](int64_t) { return true; });
  const Case& tumbling = Cases().front();
  RunResult expected = RunCase(tumbling, one, 65536);
  ASSERT_NE(expected.output, nullptr);
  ExpectSame(expected, RunCase(tumbling, many, 65536), "300 files vs 1", {});
  ExpectSame(expected, RunCase(tumbling, many, 7), "300 files in batches of 7 vs 1", {});
  fs::remove_all(one);
  fs::remove_all(many);
}

INSTANTIATE_TEST_SUITE_P(Stateful, CutIndependenceTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace sluice::testing
