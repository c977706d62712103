// Checkpoints of the join processor: a join restored from a snapshot taken anywhere in a stream
// goes on exactly as one that never stopped.

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "sluice/processors/join.h"
#include "sluice/state/state_snapshot.h"
#include "sluice/testing/checkpoint_replay.h"

namespace sluice::processors {
namespace {

using exec::Timestamp;
using testing::Step;

constexpr Timestamp kSecond = 1000000;
constexpr size_t kLeft = 0;
constexpr size_t kRight = 1;
/// How far the watermark trails the latest time of the slower input.
constexpr Timestamp kDelay = 3 * kSecond;

std::shared_ptr<arrow::DataType> TimeType() {
  return arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
}

/// Both inputs: an id unique per side, a two-field key (k, g) and the event time.
std::shared_ptr<arrow::Schema> SideSchema(const std::string& id_name) {
  return arrow::schema({arrow::field(id_name, arrow::int64()), arrow::field("k", arrow::int64()),
                        arrow::field("g", arrow::utf8()), arrow::field("ts", TimeType())});
}

/// The join's inputs, l and r.
std::vector<exec::InputStream> Inputs() {
  return {{"l", SideSchema("lid"), "ts"}, {"r", SideSchema("rid"), "ts"}};
}

/// A join of the two random inputs.
struct Join : testing::DrivenStage {
  explicit Join(const std::string& step) : testing::DrivenStage("join", step, Inputs()) {}
};

/// Random two-sided input: several keys (some NULL), times out of order within the delay, and
/// some rows later than that; runs of rows of one side become its batches. With `drifting`,
/// keys move on with time, so that the join forgets most of them and rebuilds its key table.
std::vector<Step> RandomSteps(uint64_t seed, int64_t count, bool drifting) {
  std::mt19937_64 random(seed);
  const std::array<std::shared_ptr<arrow::Schema>, 2> schemas{SideSchema("lid"),
                                                              SideSchema("rid")};
  std::vector<Step> steps;
  std::array<int64_t, 2> next_id{0, 0};
  std::array<Timestamp, 2> latest{exec::kMinTimestamp, exec::kMinTimestamp};
  Timestamp watermark = exec::kMinTimestamp;
  Timestamp clock = 0;
  int64_t made = 0;
  while (made < count) {
    const size_t side = random() % 2;
    const int64_t rows = 1 + static_cast<int64_t>(random() % 15);
    arrow::Int64Builder ids, keys;
    arrow::StringBuilder groups;
    arrow::TimestampBuilder times(TimeType(), arrow::default_memory_pool());
    for (int64_t i = 0; i < rows; ++i, ++made) {
      clock += static_cast<Timestamp>(random() % (kSecond / 2));
      EXPECT_TRUE(ids.Append(next_id[side]++).ok());
      const int64_t key = drifting ? made * 2 / 3 + static_cast<int64_t>(random() % 5)
                                   : static_cast<int64_t>(random() % 8);
      EXPECT_TRUE((random() % 12 == 0 ? keys.AppendNull() : keys.Append(key)).ok());
      EXPECT_TRUE((random() % 20 == 0 ? groups.AppendNull()
                                      : groups.Append(random() % 2 == 0 ? "a" : "b"))
                      .ok());
      Timestamp time = clock - static_cast<Timestamp>(random() % kDelay);
      // Now and then a row much later than the delay allows: late for some joins.
      if (random() % 20 == 0) {
        time = clock - kDelay - (15 + static_cast<Timestamp>(random() % 20)) * kSecond;
      }
      EXPECT_TRUE(times.Append(time).ok());
      latest[side] = std::max(latest[side], time);
    }
    Step step;
    step.input = side;
    step.batch = arrow::RecordBatch::Make(
        schemas[side], rows,
        {ids.Finish().ValueOrDie(), keys.Finish().ValueOrDie(), groups.Finish().ValueOrDie(),
         times.Finish().ValueOrDie()});
    // The pipeline's watermark: the slower input's latest time, less the delay.
    const Timestamp slower = std::min(latest[kLeft], latest[kRight]);
    if (slower != exec::kMinTimestamp && slower - kDelay > watermark) {
      watermark = slower - kDelay;
      step.watermark = watermark;
    }
    steps.push_back(std::move(step));
  }
  return steps;
}

struct JoinCase {
  std::string bound;  // e.g. "window: 10s"
  std::string type;
  /// Whether the rows of one call come in a defined order (a window join's do; a probe join
  /// frees rows of equal expiry in no defined order).
  bool ordered;
};

void PrintTo(const JoinCase& join_case, std::ostream* out) {
  *out << join_case.bound << ", type " << join_case.type;
}

class JoinCheckpointTest : public ::testing::TestWithParam<JoinCase> {};

TEST_P(JoinCheckpointTest, ARestoredJoinGoesOnAsIfItHadNeverStopped) {
  const JoinCase& param = GetParam();
  const std::string step =
      "join: {left: l, right: r, on: {k: k, g: g}, type: " + param.type + ", " + param.bound + "}";
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const bool drifting = seed == 3;
    const std::vector<Step> steps = RandomSteps(seed, drifting ? 4500 : 300, drifting);
    const size_t n = steps.size();
    testing::ReplayOptions options;
    options.cuts = drifting ? std::vector<size_t>{n / 3, 2 * n / 3}
                            : std::vector<size_t>{0, 1, n / 4, n / 2, 3 * n / 4, n};
    options.ordered = param.ordered;
    auto whole = testing::ExpectResumesAtEveryCut("join", step, Inputs(), steps, options);
    EXPECT_GT(whole.output_rows(), 20);
    EXPECT_FALSE(whole.dead_letters.empty());
    EXPECT_EQ(whole.final_state_bytes, 0);
  }
}

std::vector<JoinCase> JoinCases() {
  std::vector<JoinCase> cases;
  for (const char* type : {"inner", "left", "right", "full"}) {
    cases.push_back({"window: {tumbling: 10s}", type, true});
    cases.push_back({"window: {sliding: {size: 10s, slide: 4s}}", type, true});
    cases.push_back({"interval: {lower: -2s, upper: 3s}", type, false});
    cases.push_back({"ttl: 5s", type, false});
    cases.push_back({"ttl: 5s, on_match: delete", type, false});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Kinds, JoinCheckpointTest, ::testing::ValuesIn(JoinCases()),
                         [](const ::testing::TestParamInfo<JoinCase>& info) {
                           const std::string& step = info.param.bound;
                           std::string bound = step.substr(0, step.find(':'));
                           if (info.param.bound.find("sliding") != std::string::npos)
                             bound = "sliding";
                           if (info.param.bound.find("delete") != std::string::npos)
                             bound = "ttl_delete";
                           return bound + "_" + info.param.type;
                         });

/// A snapshot of a join that holds `left` and `right`.
state::StateSnapshot SnapshotOf(Join& join, const std::shared_ptr<arrow::RecordBatch>& left,
                                const std::shared_ptr<arrow::RecordBatch>& right) {
  EXPECT_TRUE(join.Drive({kLeft, left}).ok());
  EXPECT_TRUE(join.Drive({kRight, right}).ok());
  auto snapshot = join.processor().SnapshotState();
  EXPECT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  return snapshot.ok() ? *snapshot : state::StateSnapshot{};
}

TEST(JoinCheckpointLayoutTest, RowsComeByKeyWithTheKeyColumnsFirstAndShareTheBatches) {
  const std::vector<Step> steps = RandomSteps(7, 40, false);
  std::shared_ptr<arrow::RecordBatch> left, right;
  for (const Step& step : steps) (step.input == kLeft ? left : right) = step.batch;
  ASSERT_TRUE(left != nullptr && right != nullptr);

  Join window("join: {left: l, right: r, on: {k: k, g: g}, type: full, window: 1h}");
  state::StateSnapshot snapshot = SnapshotOf(window, left, right);
  auto rows = snapshot.Table("left.rows");
  ASSERT_NE(rows, nullptr);
  EXPECT_EQ(rows->schema()->field_names(),
            (std::vector<std::string>{"k", "g", "pane_start", "position"}));
  EXPECT_EQ(rows->num_rows(), left->num_rows());
  ASSERT_NE(snapshot.Table("right.rows"), nullptr);
  EXPECT_EQ(snapshot.Table("right.rows")->num_rows(), right->num_rows());
  // The kept batch is handed over as it is, not copied.
  auto batches = snapshot.Table("left.batches");
  ASSERT_NE(batches, nullptr);
  ASSERT_EQ(batches->column(0)->num_chunks(), 1);
  EXPECT_EQ(batches->column(0)->chunk(0)->data()->buffers[1], left->column(0)->data()->buffers[1]);
  EXPECT_NE(snapshot.Value("watermark"), "");

  Join interval("join: {left: l, right: r, on: {k: k, g: g}, interval: {lower: -1h, upper: 1h}}");
  snapshot = SnapshotOf(interval, left, right);
  rows = snapshot.Table("right.rows");
  ASSERT_NE(rows, nullptr);
  EXPECT_EQ(rows->schema()->field_names(),
            (std::vector<std::string>{"k", "g", "time", "matched", "position"}));
  // One row per kept row (rows with a NULL key are not kept), grouped by key.
  auto combined = rows->CombineChunksToBatch().ValueOrDie();
  auto keys = std::static_pointer_cast<arrow::Int64Array>(combined->column(0));
  auto groups = std::static_pointer_cast<arrow::StringArray>(combined->column(1));
  std::set<std::string> seen;
  std::string previous;
  for (int64_t i = 0; i < combined->num_rows(); ++i) {
    ASSERT_FALSE(keys->IsNull(i) || groups->IsNull(i));
    const std::string key = std::to_string(keys->Value(i)) + "/" + groups->GetString(i);
    if (key != previous) EXPECT_TRUE(seen.insert(key).second) << key << " comes in two runs";
    previous = key;
  }
  EXPECT_GT(seen.size(), 1u);
}

TEST(JoinCheckpointLayoutTest, ADamagedSnapshotIsAnErrorNotACrash) {
  const std::vector<Step> steps = RandomSteps(7, 40, false);
  std::shared_ptr<arrow::RecordBatch> left, right;
  for (const Step& step : steps) (step.input == kLeft ? left : right) = step.batch;
  const std::string step = "join: {left: l, right: r, on: {k: k, g: g}, ttl: 1h}";
  Join join(step);
  state::StateSnapshot snapshot = SnapshotOf(join, left, right);

  Join empty(step);
  EXPECT_FALSE(empty.processor().RestoreState(state::StateSnapshot{}).ok());

  // A position past the kept rows.
  state::StateSnapshot damaged = snapshot;
  for (auto& [name, table] : damaged.tables) {
    if (name != "left.rows") continue;
    const int last = table->num_columns() - 1;
    arrow::Int64Builder positions;
    for (int64_t i = 0; i < table->num_rows(); ++i) ASSERT_TRUE(positions.Append(1 << 20).ok());
    table = table->SetColumn(last, table->schema()->field(last),
                             std::make_shared<arrow::ChunkedArray>(positions.Finish().ValueOrDie()))
                .ValueOrDie();
  }
  Join out_of_range(step);
  Status status = out_of_range.processor().RestoreState(damaged);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("position"), std::string::npos) << status.ToString();

  // Rows without their first key column.
  damaged = snapshot;
  for (auto& [name, table] : damaged.tables) {
    if (name == "right.rows") table = table->RemoveColumn(0).ValueOrDie();
  }
  Join other_keys(step);
  EXPECT_FALSE(other_keys.processor().RestoreState(damaged).ok());
}

}  // namespace
}  // namespace sluice::processors
