// Window results against DuckDB SQL as the oracle, on random streams with nulls in values and
// group keys and with late rows. The test works out which rows Sluice must reject as late (from
// the arrival order, the batch size and the watermark delay), leaves them out of the oracle's
// input, and expects exactly that many late dead letters.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <optional>
#include <string_view>

#include "sluice/duckdb/connection.h"
#include "sluice/duckdb/database.h"
#include "sluice/formats/formats_test_support.h"
#include "window_test_support.h"

namespace sluice::testing {
namespace {

using formats::testing::ScratchDirectory;

constexpr int64_t kRows = 2000;
constexpr int64_t kDelay = 2 * kMicrosPerSecond;
constexpr uint32_t kSeeds[] = {11, 2024, 65537, 8};

/// The `aggregate` option and the SQL of the aggregates checked, first and last by event time.
std::string AggregateList() { return AggregateOption(OracleAggregates("ts")); }
std::string AggregateSql() { return AggregateSelectList(OracleAggregates("ts")); }

/// An arrival order with bounded disorder in which about `late_percent` % of the rows are
/// held back by the delay plus up to `max_extra_seconds` more, so that some of them come after
/// their window has closed.
std::vector<int64_t> ArrivalWithLateRows(const std::vector<Event>& events, int late_percent,
                                         int max_extra_seconds, uint32_t seed) {
  std::mt19937 random(seed);
  std::vector<std::pair<int64_t, int64_t>> keyed;
  for (int64_t i = 0; i < static_cast<int64_t>(events.size()); ++i) {
    bool held_back = std::uniform_int_distribution<int>(0, 99)(random) < late_percent;
    int64_t jitter = held_back ? kDelay + std::uniform_int_distribution<int64_t>(
                                              0, max_extra_seconds * 1000)(random) *
                                              1000
                               : std::uniform_int_distribution<int64_t>(0, kDelay / 2 - 1)(random);
    keyed.emplace_back(events[i].ts + jitter, i);
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<int64_t> order;
  for (const auto& [_, index] : keyed) order.push_back(index);
  return order;
}

/// The watermark each row is judged against (by arrival position): the latest event time of the
/// rows before it minus the delay, whatever the batch boundaries; nullopt for the first row.
std::vector<std::optional<int64_t>> ArrivalWatermarks(const std::vector<Event>& events,
                                                      const std::vector<int64_t>& order) {
  std::vector<std::optional<int64_t>> watermarks(order.size());
  std::optional<int64_t> latest;
  for (size_t i = 0; i < order.size(); ++i) {
    if (latest) watermarks[i] = *latest - kDelay;
    latest = std::max(latest.value_or(events[order[i]].ts), events[order[i]].ts);
  }
  return watermarks;
}

/// Windows of `size` starting every `slide` (tumbling: slide == size), epoch-aligned, ends
/// exclusive, fired once when the watermark reaches their end, with no allowed lateness.
struct TimeWindows {
  int64_t size;
  int64_t slide;

  /// A row is late, and a dead letter, when even the last window holding it has fired. (A
  /// sliding row whose earlier windows have fired still counts in its open windows.)
  bool Late(int64_t ts, std::optional<int64_t> watermark) const {
    return watermark && (ts / slide) * slide + size <= *watermark;
  }
  /// A sliding row whose earliest window had closed, but not its last: it counts in the open
  /// ones and is reported as a dead letter too.
  bool PartlyLate(int64_t ts, std::optional<int64_t> watermark) const {
    return watermark && !Late(ts, watermark) && (ts / slide) * slide + slide <= *watermark;
  }
};

class WindowOracleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto database = duckdb::Database::Open();
    ASSERT_TRUE(database.ok()) << database.status().message();
    auto connection = duckdb::Connection::Open(*database);
    ASSERT_TRUE(connection.ok()) << connection.status().message();
    connection_ = std::move(*connection);
  }

  /// Runs `window` over the stream of `seed` delivered in `order` in batches of `batch_size`,
  /// and compares with `sql` over the view `input`: the rows that are not late, with the
  /// watermark each met on arrival (`arrival_watermark`, microseconds, NULL for the first
  /// batch). Without `windows` (sessions) no row may be late.
  void ExpectAsOracle(uint32_t seed, const std::vector<Event>& events,
                      const std::vector<int64_t>& order, int64_t batch_size,
                      std::optional<TimeWindows> windows, const std::string& window,
                      const std::string& group_by, const std::string& sql) {
    SCOPED_TRACE(fmt::format("seed {}, batch_size {}, window {}, group_by [{}]", seed, batch_size,
                             window, group_by));
    auto watermarks = ArrivalWatermarks(events, order);
    arrow::BooleanBuilder on_time;
    arrow::Int64Builder arrival_watermark;
    int64_t expected_late = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      bool late = windows && windows->Late(events[order[i]].ts, watermarks[i]);
      expected_late += late || (windows && windows->PartlyLate(events[order[i]].ts, watermarks[i]));
      ASSERT_TRUE(on_time.Append(!late).ok());
      ASSERT_TRUE((watermarks[i] ? arrival_watermark.Append(*watermarks[i])
                                 : arrival_watermark.AppendNull())
                      .ok());
    }
    if (windows) ASSERT_GT(expected_late, 0) << "the stream should have late rows";

    ScratchDirectory dir;
    std::string path = dir.File("events.parquet");
    auto batch = EventBatch(events, order);
    ASSERT_TRUE(WriteParquet(path, batch).ok());
    std::string yaml = fmt::format(
        "name: window-oracle\n"
        "sources:\n"
        "  events:\n"
        "    connector: file\n"
        "    path: {}\n"
        "    batch_size: {}\n"
        "    event_time: {{field: ts, watermark_delay: 2s}}\n"
        "pipeline:\n"
        "  - window:\n"
        "      {}\n"
        "{}"
        "      aggregate: {}\n"
        "      allowed_lateness: 0s\n"
        "sinks:\n"
        "  out: {{connector: collect}}\n"
        "dead_letters: {{connector: collect}}\n",
        path, batch_size, window,
        group_by.empty() ? "" : fmt::format("      group_by: [{}]\n", group_by), AggregateList());
    auto output = RunPipeline(yaml);
    ASSERT_TRUE(output.ok()) << output.status().ToString();

    EXPECT_EQ(output->summary.late, expected_late);
    EXPECT_EQ(output->summary.dead_letters, expected_late);
    int64_t letters = output->dead_letters == nullptr ? 0 : output->dead_letters->num_rows();
    EXPECT_EQ(letters, expected_late);
    if (letters > 0) {
      auto reasons = *arrow::Concatenate(output->dead_letters->GetColumnByName("reason")->chunks());
      const auto& text = static_cast<const arrow::StringArray&>(*reasons);
      for (int64_t i = 0; i < text.length(); ++i) {
        EXPECT_EQ(text.GetView(i).substr(0, 4), "late")
            << "dead letter " << i << ": " << text.GetView(i);
      }
    }

    auto input = *batch->AddColumn(batch->num_columns(), "on_time", *on_time.Finish());
    input =
        *input->AddColumn(input->num_columns(), "arrival_watermark", *arrival_watermark.Finish());
    ASSERT_TRUE(connection_->RegisterBatch("arrivals", input).ok());
    ASSERT_TRUE(
        connection_
            ->Execute("CREATE OR REPLACE TEMP VIEW input AS SELECT * FROM arrivals WHERE on_time")
            .ok());
    auto expected = connection_->Query(sql);
    ASSERT_TRUE(expected.ok()) << expected.status().ToString() << "\n" << sql;
    ASSERT_GT((*expected)->num_rows(), 0);
    std::string differences = DescribeDifferences(**expected, *output->table);
    EXPECT_TRUE(differences.empty()) << "Sluice differs from DuckDB:\n" << differences;
  }

  std::unique_ptr<duckdb::Connection> connection_;
};

std::string TumblingSql(const std::string& group_by) {
  return fmt::format(
      "SELECT {0}(epoch_us(ts) // 5000000) * 5000000 AS window_start, "
      "(epoch_us(ts) // 5000000) * 5000000 + 5000000 AS window_end, {1} "
      "FROM input GROUP BY ALL",
      group_by.empty() ? "" : group_by + ", ", AggregateSql());
}

/// Each row joins the size / slide windows whose start is a multiple of the slide in
/// (ts - size, ts], except those that had fired when it arrived.
std::string SlidingSql(const std::string& group_by) {
  return fmt::format(
      "SELECT {0}window_start, window_start + 10000000 AS window_end, {1} "
      "FROM (SELECT *, (epoch_us(ts) // 2000000) * 2000000 - i * 2000000 AS window_start "
      "      FROM input, range(0, 5) AS starts(i)) "
      "WHERE arrival_watermark IS NULL OR window_start + 10000000 > arrival_watermark "
      "GROUP BY ALL",
      group_by.empty() ? "" : group_by + ", ", AggregateSql());
}

/// A session of a key starts at a row at least the gap (1 s) after the previous row of its key
/// (window ends are exclusive); it ends one gap after its last row.
std::string SessionSql(const std::string& group_by) {
  std::string partition = group_by.empty() ? "" : "PARTITION BY " + group_by;
  return fmt::format(
      "WITH marked AS (SELECT *, CASE WHEN epoch_us(ts) - lag(epoch_us(ts)) OVER w < 1000000 THEN "
      "0 ELSE 1 END "
      "                   AS starts_session FROM input WINDOW w AS ({0} ORDER BY ts)), "
      "numbered AS (SELECT *, sum(starts_session) OVER ({0} ORDER BY ts) AS session FROM marked) "
      "SELECT {1}min(epoch_us(ts)) AS window_start, max(epoch_us(ts)) + 1000000 AS window_end, {2} "
      "FROM numbered GROUP BY {1}session",
      partition, group_by.empty() ? "" : group_by + ", ", AggregateSql());
}

constexpr TimeWindows kTumbling{5 * kMicrosPerSecond, 5 * kMicrosPerSecond};
constexpr TimeWindows kSliding{10 * kMicrosPerSecond, 2 * kMicrosPerSecond};

// Each seed runs once grouped by key and once without groups, one of them in batches of one row
// (the watermark moves after every row) and the other in batches of 100 rows.
TEST_F(WindowOracleTest, TumblingWithLateRows) {
  for (uint32_t seed : kSeeds) {
    auto events = RandomEvents(seed, kRows);
    auto order = ArrivalWithLateRows(events, 4, 6, seed + 1);
    int64_t keyed_batch = seed % 2 == 0 ? 1 : 100;
    ExpectAsOracle(seed, events, order, keyed_batch, kTumbling, "tumbling: 5s", "key",
                   TumblingSql("key"));
    ExpectAsOracle(seed, events, order, 101 - keyed_batch, kTumbling, "tumbling: 5s", "",
                   TumblingSql(""));
  }
}

TEST_F(WindowOracleTest, SlidingWithLateRows) {
  for (uint32_t seed : kSeeds) {
    auto events = RandomEvents(seed, kRows);
    auto order = ArrivalWithLateRows(events, 4, 14, seed + 1);
    int64_t keyed_batch = seed % 2 == 0 ? 100 : 1;
    std::string window = "sliding: {size: 10s, slide: 2s}";
    ExpectAsOracle(seed, events, order, keyed_batch, kSliding, window, "key", SlidingSql("key"));
    ExpectAsOracle(seed, events, order, 101 - keyed_batch, kSliding, window, "", SlidingSql(""));
  }
}

TEST_F(WindowOracleTest, SessionInBoundedDisorder) {
  for (uint32_t seed : kSeeds) {
    auto events = RandomEvents(seed, kRows);
    auto order = ShuffleWithinDelay(events, kDelay, seed + 1);
    int64_t keyed_batch = seed % 2 == 0 ? 1 : 100;
    ExpectAsOracle(seed, events, order, keyed_batch, std::nullopt, "session: {gap: 1s}", "key",
                   SessionSql("key"));
    ExpectAsOracle(seed, events, order, 101 - keyed_batch, std::nullopt, "session: {gap: 1s}", "",
                   SessionSql(""));
  }
}

// Hand-picked edges, in batches of one row: a watermark equal to a window's end has closed it
// (a row for it is late), a row on a window boundary belongs to the window it starts, and a
// row arriving on the watermark itself is on time.
TEST_F(WindowOracleTest, EdgesOfWindowsAndWatermarks) {
  auto at = [](double seconds, int key, double v) {
    return Event{kEpochStart + static_cast<int64_t>(std::llround(seconds * 1000)) * 1000, key, v,
                 v};
  };
  // Indexed as listed (the last one out of event-time order); the arrival order below gives the
  // watermark (latest - 2 s) after each.
  std::vector<Event> events = {at(0.5, 0, 1),   at(4.999, 0, 2), at(5.0, 0, 3),   at(7.0, 0, 4),
                               at(9.0, 1, 5),   at(9.999, 1, 6), at(10.0, 1, 7),  at(12.0, 1, 8),
                               at(13.0, -1, 9), at(14.0, 0, 10), at(16.0, 0, 11), at(0.6, 1, 12)};
  std::vector<int64_t> order = {
      0,   // 0.5
      3,   // 7.0: watermark 5.0 closes [0, 5)
      1,   // 4.999: late, its window ended at the watermark
      2,   // 5.0: on time, in [5, 10)
      7,   // 12.0: watermark 10.0 closes [5, 10)
      5,   // 9.999: late
      6,   // 10.0: on time, in [10, 15)
      4,   // 9.0: late
      8,   // 13.0
      10,  // 16.0: watermark 14.0
      9,   // 14.0: on the watermark, on time
      11,  // 0.6: late for every window (sliding: the last one holding it, [0, 10), too)
  };
  auto late = [&](const TimeWindows& windows) {
    auto watermarks = ArrivalWatermarks(events, order);
    int64_t count = 0;
    for (size_t i = 0; i < order.size(); ++i)
      count += windows.Late(events[order[i]].ts, watermarks[i]) ? 1 : 0;
    return count;
  };
  ASSERT_EQ(late(kTumbling), 4);
  ASSERT_EQ(late(kSliding), 1);
  // Row by row, and all in one batch: lateness is decided per row either way.
  for (int64_t batch_size : {1, 12}) {
    ExpectAsOracle(0, events, order, batch_size, kTumbling, "tumbling: 5s", "key",
                   TumblingSql("key"));
    ExpectAsOracle(0, events, order, batch_size, kTumbling, "tumbling: 5s", "", TumblingSql(""));
    ExpectAsOracle(0, events, order, batch_size, kSliding, "sliding: {size: 10s, slide: 2s}", "key",
                   SlidingSql("key"));
  }
}

}  // namespace
}  // namespace sluice::testing
