#include "sluice/processors/cdc.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "sluice/config/pipeline_config.h"
#include "sluice/exec/pipeline.h"
#include "sluice/testing/in_memory_pipeline.h"

namespace sluice::processors {
namespace {

using exec::Timestamp;

constexpr Timestamp kSecond = 1000000;
constexpr Timestamp kStart = 1704067200LL * kSecond;  // 2024-01-01T00:00:00Z

/// Runs cdc inside a real pipeline (watermarks, final flush) from YAML, over batches in memory.
class CdcPipelineTest : public testing::InMemoryPipelineTest {
 protected:
  CdcPipelineTest()
      : InMemoryPipelineTest(
            arrow::schema({arrow::field("seq", arrow::int64()), arrow::field("k", arrow::int64()),
                           arrow::field("bid", arrow::float64()), arrow::field("s", arrow::utf8()),
                           arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))})) {}

  /// The `seq` values of every output row, in order.
  std::vector<int64_t> OutputSequence() const { return OutputInt64("seq"); }
};

/// One input row of the random tests.
struct Row {
  int64_t seq;
  std::optional<int64_t> k;
  std::optional<double> bid;
  std::optional<std::string> s;
  Timestamp ts;
};

/// What cdc should emit for one row: its seq and the tracked values it replaces (none on a
/// key's first row).
struct Change {
  int64_t seq;
  bool has_previous;
  std::optional<double> previous_bid;
  std::optional<std::string> previous_s;
  bool operator==(const Change&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Change& change) {
  out << "{seq " << change.seq;
  if (change.has_previous) {
    out << ", previous " << (change.previous_bid ? std::to_string(*change.previous_bid) : "null")
        << " " << change.previous_s.value_or("null");
  }
  return out << "}";
}

/// Rows in which a key often repeats its last values (no change) and otherwise takes new ones
/// from a wide range, with NULLs; event times run forward with at most `max_disorder` disorder.
std::vector<Row> RandomRows(std::mt19937_64& random, int64_t count, int64_t keys,
                            Timestamp max_disorder) {
  std::vector<Row> rows;
  std::map<std::optional<int64_t>, std::pair<std::optional<double>, std::optional<std::string>>>
      last;
  Timestamp clock = kStart;
  for (int64_t i = 0; i < count; ++i) {
    clock += std::uniform_int_distribution<Timestamp>(0, kSecond)(random);
    Row row{i, std::nullopt, std::nullopt, std::nullopt,
            clock - std::uniform_int_distribution<Timestamp>(0, max_disorder)(random)};
    if (random() % 20 != 0) row.k = static_cast<int64_t>(random() % keys);
    auto found = last.find(row.k);
    if (found != last.end() && random() % 2 == 0) {
      row.bid = found->second.first;
      row.s = found->second.second;
      if (random() % 4 == 0)
        row.s = random() % 2 ? std::optional<std::string>() : std::optional<std::string>("x");
    } else {
      if (random() % 8 != 0) row.bid = static_cast<double>(random() % 40000) / 4;
      if (random() % 8 != 0) row.s = std::string(1, static_cast<char>('a' + random() % 3));
    }
    last[row.k] = {row.bid, row.s};
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::shared_ptr<arrow::RecordBatch>> ToBatches(
    std::mt19937_64& random, const std::vector<Row>& rows,
    const std::shared_ptr<arrow::Schema>& schema) {
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  size_t next = 0;
  while (next < rows.size()) {
    size_t size = std::min(rows.size() - next, static_cast<size_t>(1 + random() % 700));
    arrow::Int64Builder seq, k;
    arrow::DoubleBuilder bid;
    arrow::StringBuilder s;
    arrow::TimestampBuilder ts(schema->field(4)->type(), arrow::default_memory_pool());
    for (size_t i = next; i < next + size; ++i) {
      EXPECT_TRUE(seq.Append(rows[i].seq).ok());
      EXPECT_TRUE((rows[i].k ? k.Append(*rows[i].k) : k.AppendNull()).ok());
      EXPECT_TRUE((rows[i].bid ? bid.Append(*rows[i].bid) : bid.AppendNull()).ok());
      EXPECT_TRUE((rows[i].s ? s.Append(*rows[i].s) : s.AppendNull()).ok());
      EXPECT_TRUE(ts.Append(rows[i].ts).ok());
    }
    batches.push_back(arrow::RecordBatch::Make(
        schema, static_cast<int64_t>(size),
        {seq.Finish().ValueOrDie(), k.Finish().ValueOrDie(), bid.Finish().ValueOrDie(),
         s.Finish().ValueOrDie(), ts.Finish().ValueOrDie()}));
    next += size;
  }
  return batches;
}

/// The plain reference: a map from key to its last emitted values and when it was last seen.
std::vector<Change> ReferenceCdc(const std::vector<Row>& rows, Timestamp ttl) {
  struct State {
    std::optional<double> bid;
    std::optional<std::string> s;
    Timestamp last_seen;
  };
  std::map<std::optional<int64_t>, State> states;
  std::vector<Change> changes;
  for (const auto& row : rows) {
    auto found = states.find(row.k);
    if (found != states.end() && ttl > 0 && row.ts >= found->second.last_seen + ttl) {
      states.erase(found);
      found = states.end();
    }
    if (found == states.end()) {
      changes.push_back(Change{row.seq, false, std::nullopt, std::nullopt});
      states[row.k] = State{row.bid, row.s, row.ts};
      continue;
    }
    State& state = found->second;
    state.last_seen = std::max(state.last_seen, row.ts);
    if (state.bid == row.bid && state.s == row.s) continue;
    changes.push_back(Change{row.seq, true, state.bid, state.s});
    state.bid = row.bid;
    state.s = row.s;
  }
  return changes;
}

std::vector<Change> OutputChanges(const std::vector<std::shared_ptr<arrow::RecordBatch>>& output) {
  std::vector<Change> changes;
  for (const auto& batch : output) {
    auto seq = std::static_pointer_cast<arrow::Int64Array>(batch->GetColumnByName("seq"));
    auto bid = std::static_pointer_cast<arrow::DoubleArray>(batch->GetColumnByName("previous_bid"));
    auto s = std::static_pointer_cast<arrow::StringArray>(batch->GetColumnByName("previous_s"));
    for (int64_t i = 0; i < batch->num_rows(); ++i) {
      Change change{seq->Value(i), false, std::nullopt, std::nullopt};
      if (bid->IsValid(i)) change.previous_bid = bid->Value(i);
      if (s->IsValid(i)) change.previous_s = s->GetString(i);
      changes.push_back(std::move(change));
    }
  }
  return changes;
}

/// Outputs cannot tell "no previous row" from "the previous values were NULL": compare as they do.
std::vector<Change> AsOutputSees(std::vector<Change> changes) {
  for (auto& change : changes) change.has_previous = false;
  return changes;
}

std::string CdcPipeline(const std::string& step) {
  return "sources: {in: {connector: memory, event_time: {field: ts, watermark_delay: 3s}}}\n"
         "pipeline:\n"
         "  - " +
         step +
         "\n"
         "sinks: {out: {connector: recording}}\n";
}

TEST_F(CdcPipelineTest, MatchesReferenceWithoutTtl) {
  std::mt19937_64 random(21);
  auto rows = RandomRows(random, 20000, 300, 3 * kSecond);
  input_ = ToBatches(random, rows, schema_);
  auto pipeline = Build(CdcPipeline("cdc: {key: [k], fields: [bid, s], emit_previous: true}"));
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  auto summary = (*pipeline)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  auto expected = ReferenceCdc(rows, 0);
  EXPECT_LT(expected.size(), rows.size() * 3 / 4);
  auto actual = OutputChanges(output_);
  ASSERT_EQ(actual.size(), expected.size());
  EXPECT_EQ(actual, AsOutputSees(expected));
  EXPECT_GT(summary->peak_state_bytes, 0);
  EXPECT_EQ(summary->final_state_bytes, 0);
}

TEST_F(CdcPipelineTest, MatchesReferenceWithTtl) {
  std::mt19937_64 random(22);
  // 6000 keys over ~25000 s with a 2 min ttl: keys are forgotten all the time, and both the key
  // set and the value set grow past the size at which they are rebuilt.
  auto rows = RandomRows(random, 50000, 6000, 3 * kSecond);
  input_ = ToBatches(random, rows, schema_);
  auto pipeline =
      Build(CdcPipeline("cdc: {key: [k], fields: [bid, s], emit_previous: true, ttl: 2m}"));
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  auto summary = (*pipeline)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  auto expected = ReferenceCdc(rows, 120 * kSecond);
  auto actual = OutputChanges(output_);
  ASSERT_EQ(actual.size(), expected.size());
  EXPECT_EQ(actual, AsOutputSees(expected));
  EXPECT_EQ(summary->final_state_bytes, 0);
}

TEST_F(CdcPipelineTest, TracksEveryOtherFieldByDefault) {
  // Left out, the tracked fields are all but the key and the event time: here seq (unique per
  // row, so every row is a change) as well as bid and s.
  std::mt19937_64 random(23);
  auto rows = RandomRows(random, 2000, 20, 0);
  input_ = ToBatches(random, rows, schema_);
  auto pipeline = Build(CdcPipeline("cdc: {key: [k]}"));
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  EXPECT_TRUE((*pipeline)->output_schema()->Equals(*schema_, false));
  ASSERT_TRUE((*pipeline)->Run().ok());
  int64_t rows_out = 0;
  for (const auto& batch : output_) rows_out += batch->num_rows();
  EXPECT_EQ(rows_out, 2000);
}

TEST_F(CdcPipelineTest, StateIsFreedByTheFinalWatermarkWithTtl) {
  std::mt19937_64 random(24);
  auto rows = RandomRows(random, 1000, 100, 0);
  auto batches = ToBatches(random, rows, schema_);
  const config::PluginSpec* spec = registry_.FindSpec(config::PluginKind::kProcessor, "cdc");
  ASSERT_NE(spec, nullptr);
  auto options = config::ValidateOptions(
      *spec, YAML::Load("{key: [k], fields: [bid], emit_previous: true, ttl: 1m}"), "test.yaml");
  ASSERT_TRUE(options.ok()) << options.status().message();
  exec::DeadLetterQueue dead_letters;
  exec::ProcessorContext context{"test", &dead_letters, "ts"};
  auto processor = (*registry_.FindProcessor("cdc"))(context, *options, schema_);
  ASSERT_TRUE(processor.ok()) << processor.status().message();
  EXPECT_FALSE((*processor)->stateless());
  exec::CollectingEmitter out;
  for (const auto& batch : batches) ASSERT_TRUE((*processor)->Process(batch, out).ok());
  EXPECT_GT((*processor)->state_bytes(), 0);
  ASSERT_TRUE((*processor)->OnWatermark(kStart, out).ok());
  EXPECT_GT((*processor)->state_bytes(), 0);
  ASSERT_TRUE((*processor)->OnWatermark(exec::kMaxTimestamp, out).ok());
  EXPECT_EQ((*processor)->state_bytes(), 0);
  EXPECT_TRUE(out.batches().size() > 0);
}

TEST_F(CdcPipelineTest, NullsCompareAsValues) {
  auto batch = arrow::RecordBatch::Make(
      schema_, 5,
      {arrow::json::ArrayFromJSONString(arrow::int64(), "[0, 1, 2, 3, 4]").ValueOrDie(),
       arrow::json::ArrayFromJSONString(arrow::int64(), "[7, 7, 7, 7, 7]").ValueOrDie(),
       arrow::json::ArrayFromJSONString(arrow::float64(), "[null, null, 1, 1, null]").ValueOrDie(),
       arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["a", "a", "a", "a", "a"])").ValueOrDie(),
       arrow::json::ArrayFromJSONString(schema_->field(4)->type(), "[0, 1, 2, 3, 4]")
           .ValueOrDie()});
  input_ = {batch};
  auto pipeline = Build(
      "sources: {in: {connector: memory}}\n"
      "pipeline:\n"
      "  - cdc: {key: [k], fields: [bid], emit_previous: true}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  ASSERT_TRUE((*pipeline)->Run().ok());
  ASSERT_EQ(output_.size(), 1u);
  // null (first) -> null (no change) -> 1 (change) -> 1 (no change) -> null (change)
  EXPECT_EQ(output_[0]->GetColumnByName("seq")->ToString(),
            arrow::json::ArrayFromJSONString(arrow::int64(), "[0, 2, 4]").ValueOrDie()->ToString());
  EXPECT_EQ(output_[0]->GetColumnByName("previous_bid")->ToString(),
            arrow::json::ArrayFromJSONString(arrow::float64(), "[null, null, 1]")
                .ValueOrDie()
                ->ToString());
}

TEST_F(CdcPipelineTest, ConfigurationErrorsPointAtTheOption) {
  auto unknown = Build(CdcPipeline("cdc: {key: [k], fields: [bid, ask]}"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(),
            "test.yaml:3:29: error: unknown tracked field 'ask'\n  hint: expected one of: seq, k, "
            "bid, s, ts");

  auto no_key = Build(CdcPipeline("cdc: {fields: [bid]}"));
  ASSERT_FALSE(no_key.ok());
  EXPECT_EQ(no_key.status().message().rfind("test.yaml:3:", 0), 0u) << no_key.status().message();
  EXPECT_NE(no_key.status().message().find("key"), std::string::npos) << no_key.status().message();

  auto bad_ttl = Build(CdcPipeline("cdc: {key: [k], ttl: soon}"));
  ASSERT_FALSE(bad_ttl.ok());
  EXPECT_EQ(bad_ttl.status().message().rfind("test.yaml:3:26: error: ttl", 0), 0u)
      << bad_ttl.status().message();

  auto clash = Build(
      "sources: {in: {connector: memory}}\n"
      "pipeline:\n"
      "  - rename: {s: previous_bid}\n"
      "  - cdc: {key: [k], fields: [bid], emit_previous: true}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.status().message().rfind(
                "test.yaml:4:51: error: the input already has a field 'previous_bid'", 0),
            0u)
      << clash.status().message();
}

}  // namespace
}  // namespace sluice::processors
