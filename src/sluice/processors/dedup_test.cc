#include "sluice/processors/dedup.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
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

/// Runs dedup inside a real pipeline (watermarks, final flush) from YAML, over batches in memory.
class DedupPipelineTest : public testing::InMemoryPipelineTest {
 protected:
  DedupPipelineTest()
      : InMemoryPipelineTest(
            arrow::schema({arrow::field("seq", arrow::int64()), arrow::field("k", arrow::int64()),
                           arrow::field("s", arrow::utf8()),
                           arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))})) {}

  /// The `seq` values of every output row, in order.
  std::vector<int64_t> OutputSequence() const { return OutputInt64("seq"); }
};

/// One input row of the random tests.
struct Row {
  int64_t seq;
  std::optional<int64_t> k;
  std::optional<std::string> s;
  Timestamp ts;
};

/// Rows whose event times run forward with some disorder, never more than `max_disorder`
/// behind the latest one, so that no row is late for a watermark delay of that size.
std::vector<Row> RandomRows(std::mt19937_64& random, int64_t count, int64_t keys,
                            Timestamp max_disorder) {
  std::vector<Row> rows;
  Timestamp clock = kStart;
  for (int64_t i = 0; i < count; ++i) {
    clock += std::uniform_int_distribution<Timestamp>(0, kSecond)(random);
    Row row{i, std::nullopt, std::nullopt,
            clock - std::uniform_int_distribution<Timestamp>(0, max_disorder)(random)};
    if (random() % 10 != 0) row.k = static_cast<int64_t>(random() % keys);
    if (random() % 10 != 0) row.s = std::string(1, static_cast<char>('a' + random() % 3));
    rows.push_back(std::move(row));
  }
  return rows;
}

/// Cuts rows into batches of random sizes.
std::vector<std::shared_ptr<arrow::RecordBatch>> ToBatches(
    std::mt19937_64& random, const std::vector<Row>& rows,
    const std::shared_ptr<arrow::Schema>& schema) {
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  size_t next = 0;
  while (next < rows.size()) {
    size_t size = std::min(rows.size() - next, static_cast<size_t>(1 + random() % 700));
    arrow::Int64Builder seq, k;
    arrow::StringBuilder s;
    arrow::TimestampBuilder ts(schema->field(3)->type(), arrow::default_memory_pool());
    for (size_t i = next; i < next + size; ++i) {
      EXPECT_TRUE(seq.Append(rows[i].seq).ok());
      EXPECT_TRUE((rows[i].k ? k.Append(*rows[i].k) : k.AppendNull()).ok());
      EXPECT_TRUE((rows[i].s ? s.Append(*rows[i].s) : s.AppendNull()).ok());
      EXPECT_TRUE(ts.Append(rows[i].ts).ok());
    }
    batches.push_back(
        arrow::RecordBatch::Make(schema, static_cast<int64_t>(size),
                                 {seq.Finish().ValueOrDie(), k.Finish().ValueOrDie(),
                                  s.Finish().ValueOrDie(), ts.Finish().ValueOrDie()}));
    next += size;
  }
  return batches;
}

/// The plain reference: a map from key to the time of the occurrence that passed.
template <typename Key>
std::vector<int64_t> ReferenceDedup(const std::vector<Row>& rows, Timestamp within, Key key_of) {
  std::map<decltype(key_of(rows[0])), Timestamp> first_seen;
  std::vector<int64_t> kept;
  for (const auto& row : rows) {
    auto key = key_of(row);
    auto found = first_seen.find(key);
    if (found != first_seen.end() && row.ts < found->second + within) continue;
    first_seen[key] = row.ts;
    kept.push_back(row.seq);
  }
  return kept;
}

TEST_F(DedupPipelineTest, MatchesReferenceOnRandomIntegerKeys) {
  std::mt19937_64 random(7);
  // 5000 keys over ~10000 s with a 60 s span: most keys expire and come back, and the key set
  // is rebuilt several times on the way.
  auto rows = RandomRows(random, 20000, 5000, 3 * kSecond);
  input_ = ToBatches(random, rows, schema_);
  auto pipeline = Build(
      "sources: {in: {connector: memory, event_time: {field: ts, watermark_delay: 3s}}}\n"
      "pipeline:\n"
      "  - dedup: {key: [k], within: 60s}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  auto summary = (*pipeline)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  auto expected = ReferenceDedup(rows, 60 * kSecond, [](const Row& row) { return row.k; });
  EXPECT_EQ(OutputSequence(), expected);
  EXPECT_LT(expected.size(), rows.size());
  EXPECT_GT(summary->peak_state_bytes, 0);
  EXPECT_EQ(summary->final_state_bytes, 0);
  EXPECT_EQ(summary->dead_letters, 0);
}

TEST_F(DedupPipelineTest, MatchesReferenceOnCompositeKeysWithNulls) {
  std::mt19937_64 random(11);
  auto rows = RandomRows(random, 8000, 40, 2 * kSecond);
  input_ = ToBatches(random, rows, schema_);
  auto pipeline = Build(
      "sources: {in: {connector: memory, event_time: {field: ts, watermark_delay: 2s}}}\n"
      "pipeline:\n"
      "  - dedup: {key: [s, k], within: 5m}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  auto summary = (*pipeline)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  auto expected = ReferenceDedup(rows, 5 * 60 * kSecond,
                                 [](const Row& row) { return std::make_pair(row.s, row.k); });
  EXPECT_EQ(OutputSequence(), expected);
  EXPECT_EQ(summary->final_state_bytes, 0);
}

TEST_F(DedupPipelineTest, IngestTimeDropsRepeatsAcrossTheRun) {
  std::mt19937_64 random(3);
  auto rows = RandomRows(random, 3000, 100, 0);
  input_ = ToBatches(random, rows, schema_);
  auto pipeline = Build(
      "sources: {in: {connector: memory}}\n"
      "pipeline:\n"
      "  - dedup: {key: k, within: 1h}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  auto summary = (*pipeline)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  // The run takes far less than an hour of wall-clock time: every repeat is dropped.
  auto expected = ReferenceDedup(rows, kStart, [](const Row& row) { return row.k; });
  EXPECT_EQ(OutputSequence(), expected);
  EXPECT_EQ(expected.size(), 101u);  // 100 keys and NULL
}

TEST_F(DedupPipelineTest, StateIsFreedByTheFinalWatermark) {
  std::mt19937_64 random(5);
  auto rows = RandomRows(random, 500, 50, 0);
  auto batches = ToBatches(random, rows, schema_);
  const config::PluginSpec* spec = registry_.FindSpec(config::PluginKind::kProcessor, "dedup");
  ASSERT_NE(spec, nullptr);
  auto options = config::ValidateOptions(*spec, YAML::Load("{key: [k], within: 10m}"), "test.yaml");
  ASSERT_TRUE(options.ok()) << options.status().message();
  exec::DeadLetterQueue dead_letters;
  exec::ProcessorContext context{"test", &dead_letters, "ts"};
  auto processor = (*registry_.FindProcessor("dedup"))(context, *options, schema_);
  ASSERT_TRUE(processor.ok()) << processor.status().message();
  EXPECT_FALSE((*processor)->stateless());
  exec::CollectingEmitter out;
  for (const auto& batch : batches) ASSERT_TRUE((*processor)->Process(batch, out).ok());
  EXPECT_GT((*processor)->state_bytes(), 0);
  // A watermark before every expiry frees nothing; the final one frees everything.
  ASSERT_TRUE((*processor)->OnWatermark(kStart, out).ok());
  EXPECT_GT((*processor)->state_bytes(), 0);
  ASSERT_TRUE((*processor)->OnWatermark(exec::kMaxTimestamp, out).ok());
  EXPECT_EQ((*processor)->state_bytes(), 0);
  ASSERT_TRUE((*processor)->Finish(out).ok());
}

TEST_F(DedupPipelineTest, RowsWithoutEventTimeBecomeDeadLetters) {
  const config::PluginSpec* spec = registry_.FindSpec(config::PluginKind::kProcessor, "dedup");
  auto options = config::ValidateOptions(*spec, YAML::Load("{key: [k], within: 10m}"), "test.yaml");
  ASSERT_TRUE(options.ok()) << options.status().message();
  exec::DeadLetterQueue dead_letters;
  exec::ProcessorContext context{"test", &dead_letters, "ts"};
  auto processor = (*registry_.FindProcessor("dedup"))(context, *options, schema_);
  ASSERT_TRUE(processor.ok()) << processor.status().message();
  arrow::TimestampBuilder ts(schema_->field(3)->type(), arrow::default_memory_pool());
  ASSERT_TRUE(ts.AppendValues({kStart, 0}, {true, false}).ok());
  auto batch = arrow::RecordBatch::Make(
      schema_, 2,
      {arrow::json::ArrayFromJSONString(arrow::int64(), "[1, 2]").ValueOrDie(),
       arrow::json::ArrayFromJSONString(arrow::int64(), "[5, 5]").ValueOrDie(),
       arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["x", "y"])").ValueOrDie(),
       ts.Finish().ValueOrDie()});
  exec::CollectingEmitter out;
  ASSERT_TRUE((*processor)->Process(batch, out).ok());
  ASSERT_EQ(out.batches().size(), 1u);
  EXPECT_EQ(out.batches()[0]->num_rows(), 1);
  auto letters = dead_letters.Drain();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason, "missing event time");
  EXPECT_EQ(letters[0].stage, "dedup");
  EXPECT_NE(letters[0].record.find("\"seq\":2"), std::string::npos) << letters[0].record;
}

TEST_F(DedupPipelineTest, ConfigurationErrorsPointAtTheOption) {
  auto unknown = Build(
      "sources: {in: {connector: memory}}\n"
      "pipeline:\n"
      "  - dedup: {key: [seqq], within: 10m}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(),
            "test.yaml:3:18: error: unknown key field 'seqq'\n  hint: did you mean 'seq'?");

  auto missing = Build(
      "sources: {in: {connector: memory}}\n"
      "pipeline:\n"
      "  - dedup: {key: [k]}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message().rfind("test.yaml:3:", 0), 0u) << missing.status().message();
  EXPECT_NE(missing.status().message().find("within"), std::string::npos)
      << missing.status().message();

  auto bad_span = Build(
      "sources: {in: {connector: memory}}\n"
      "pipeline:\n"
      "  - dedup: {key: [k], within: 10}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_FALSE(bad_span.ok());
  EXPECT_EQ(bad_span.status().message().rfind("test.yaml:3:31: error: within", 0), 0u)
      << bad_span.status().message();

  auto dropped_time = Build(
      "sources: {in: {connector: memory, event_time: ts}}\n"
      "pipeline:\n"
      "  - drop: [ts]\n"
      "  - dedup: {key: [k], within: 10m}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_FALSE(dropped_time.ok());
  EXPECT_EQ(dropped_time.status().message().rfind("test.yaml:4:", 0), 0u)
      << dropped_time.status().message();
  EXPECT_NE(dropped_time.status().message().find("event-time field 'ts'"), std::string::npos);
}

}  // namespace
}  // namespace sluice::processors
