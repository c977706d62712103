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

#include "sluice/exec/dead_letter.h"
#include "sluice/processors/join.h"
#include "sluice/state/snapshot_io.h"
#include "sluice/testing/processor_from_yaml.h"

namespace sluice::processors {
namespace {

using exec::Timestamp;

constexpr Timestamp kSecond = 1000000;
constexpr int kLeft = 0;
constexpr int kRight = 1;
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

exec::InputStream Stream(std::string name, std::shared_ptr<arrow::Schema> schema) {
  exec::InputStream stream;
  stream.name = std::move(name);
  stream.schema = std::move(schema);
  stream.event_time_field = "ts";
  return stream;
}

/// One call of the pipeline: a batch of one input, then the watermark when the batch moved it.
struct Step {
  int side;
  std::shared_ptr<arrow::RecordBatch> batch;
  std::optional<Timestamp> watermark;
};

/// What a processor gave for each call (a step, then the end of the input), and its dead
/// letters, as JSON lines.
struct Outputs {
  std::vector<std::vector<std::string>> emissions;
  std::vector<std::string> dead_letters;
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
    const int side = static_cast<int>(random() % 2);
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
    step.side = side;
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

std::vector<std::string> Lines(exec::CollectingEmitter& out) {
  std::vector<std::string> lines;
  for (const auto& batch : out.batches()) {
    for (int64_t row = 0; row < batch->num_rows(); ++row) {
      lines.push_back(exec::RowToJson(*batch, row));
    }
  }
  return lines;
}

/// Moves the dead letters of `queue` to `run`.
void TakeDeadLetters(exec::DeadLetterQueue& queue, Outputs* run) {
  for (const auto& letter : queue.Drain()) {
    run->dead_letters.push_back(letter.source + " " + letter.reason + " " + letter.record);
  }
}

/// A join of the two random inputs, with its dead-letter queue.
struct Join {
  exec::DeadLetterQueue dead_letters;
  std::unique_ptr<exec::Processor> processor;

  explicit Join(const std::string& step) {
    auto left = SideSchema("lid");
    exec::ProcessorContext context;
    context.pipeline_name = "test";
    context.dead_letters = &dead_letters;
    context.event_time_field = "ts";
    context.inputs = {Stream("l", left), Stream("r", SideSchema("rid"))};
    auto made = testing::ProcessorFromYaml("join", step, left, std::move(context));
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    if (made.ok()) processor = std::move(*made);
  }

  /// Runs steps [first, last) and, with `end`, the end of the input; adds to `run`.
  void Drive(const std::vector<Step>& steps, size_t first, size_t last, bool end, Outputs* run) {
    for (size_t i = first; i < last; ++i) {
      exec::CollectingEmitter out;
      const Step& step = steps[i];
      Status status = processor->ProcessInput(step.side, step.batch, out);
      ASSERT_TRUE(status.ok()) << status.ToString();
      if (step.watermark) {
        status = processor->OnWatermark(*step.watermark, out);
        ASSERT_TRUE(status.ok()) << status.ToString();
      }
      run->emissions.push_back(Lines(out));
    }
    if (end) {
      exec::CollectingEmitter out;
      Status status = processor->OnWatermark(exec::kMaxTimestamp, out);
      ASSERT_TRUE(status.ok()) << status.ToString();
      status = processor->Finish(out);
      ASSERT_TRUE(status.ok()) << status.ToString();
      run->emissions.push_back(Lines(out));
    }
    TakeDeadLetters(dead_letters, run);
  }
};

void ExpectSameSnapshot(const state::StateSnapshot& expected, const state::StateSnapshot& actual) {
  EXPECT_EQ(expected.values, actual.values);
  ASSERT_EQ(expected.tables.size(), actual.tables.size());
  for (size_t i = 0; i < expected.tables.size(); ++i) {
    EXPECT_EQ(expected.tables[i].first, actual.tables[i].first);
    EXPECT_TRUE(expected.tables[i].second->Equals(*actual.tables[i].second))
        << expected.tables[i].first;
  }
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

    Outputs whole;
    Join uninterrupted(step);
    ASSERT_NE(uninterrupted.processor, nullptr);
    EXPECT_TRUE(uninterrupted.processor->checkpointable());
    uninterrupted.Drive(steps, 0, n, true, &whole);
    ASSERT_FALSE(HasFatalFailure());
    int64_t rows = 0;
    for (const auto& emission : whole.emissions) rows += static_cast<int64_t>(emission.size());
    EXPECT_GT(rows, 20);
    EXPECT_GT(whole.dead_letters.size(), 0u);

    const std::vector<size_t> cuts =
        drifting ? std::vector<size_t>{n / 3, 2 * n / 3}
                 : std::vector<size_t>{0, 1, n / 4, n / 2, 3 * n / 4, n};
    for (size_t cut : cuts) {
      SCOPED_TRACE("cut after " + std::to_string(cut) + " of " + std::to_string(n) + " batches");
      Outputs before;
      Join first(step);
      first.Drive(steps, 0, cut, false, &before);
      auto snapshot = first.processor->SnapshotState();
      ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
      auto written = state::RoundTrip(*snapshot);
      ASSERT_TRUE(written.ok()) << written.status().ToString();

      // The first join goes on: the snapshot it handed over must not change, and neither must
      // its own output.
      Outputs on = before;
      first.Drive(steps, cut, n, true, &on);
      EXPECT_EQ(on.emissions, whole.emissions);
      auto written_later = state::RoundTrip(*snapshot);
      ASSERT_TRUE(written_later.ok()) << written_later.status().ToString();
      ExpectSameSnapshot(*written, *written_later);

      Outputs after = before;
      Join second(step);
      Status restored = second.processor->RestoreState(*written_later);
      ASSERT_TRUE(restored.ok()) << restored.ToString();
      second.Drive(steps, cut, n, true, &after);
      ASSERT_FALSE(HasFatalFailure());
      EXPECT_EQ(second.processor->state_bytes(), 0);
      EXPECT_EQ(after.dead_letters, whole.dead_letters);
      ASSERT_EQ(after.emissions.size(), whole.emissions.size());
      for (size_t call = 0; call < whole.emissions.size(); ++call) {
        std::vector<std::string> expected = whole.emissions[call];
        std::vector<std::string> actual = after.emissions[call];
        if (!param.ordered) {
          std::sort(expected.begin(), expected.end());
          std::sort(actual.begin(), actual.end());
        }
        ASSERT_EQ(actual, expected) << "call " << call;
      }
    }
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
  exec::CollectingEmitter out;
  EXPECT_TRUE(join.processor->ProcessInput(kLeft, left, out).ok());
  EXPECT_TRUE(join.processor->ProcessInput(kRight, right, out).ok());
  auto snapshot = join.processor->SnapshotState();
  EXPECT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  return snapshot.ok() ? *snapshot : state::StateSnapshot{};
}

TEST(JoinCheckpointLayoutTest, RowsComeByKeyWithTheKeyColumnsFirstAndShareTheBatches) {
  const std::vector<Step> steps = RandomSteps(7, 40, false);
  std::shared_ptr<arrow::RecordBatch> left, right;
  for (const Step& step : steps) (step.side == kLeft ? left : right) = step.batch;
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
  for (const Step& step : steps) (step.side == kLeft ? left : right) = step.batch;
  const std::string step = "join: {left: l, right: r, on: {k: k, g: g}, ttl: 1h}";
  Join join(step);
  state::StateSnapshot snapshot = SnapshotOf(join, left, right);

  Join empty(step);
  EXPECT_FALSE(empty.processor->RestoreState(state::StateSnapshot{}).ok());

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
  Status status = out_of_range.processor->RestoreState(damaged);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("position"), std::string::npos) << status.ToString();

  // Rows without their first key column.
  damaged = snapshot;
  for (auto& [name, table] : damaged.tables) {
    if (name == "right.rows") table = table->RemoveColumn(0).ValueOrDie();
  }
  Join other_keys(step);
  EXPECT_FALSE(other_keys.processor->RestoreState(damaged).ok());
}

}  // namespace
}  // namespace sluice::processors
