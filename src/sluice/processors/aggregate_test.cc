#include "sluice/processors/aggregate.h"

#include <arrow/api.h>
#include <arrow/util/key_value_metadata.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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
  std::optional<std::string> key;
  std::optional<double> v;
  std::optional<int64_t> n;
  std::optional<int64_t> ts = 0;
};

std::shared_ptr<arrow::RecordBatch> MakeBatch(const std::vector<Row>& rows) {
  arrow::StringBuilder keys;
  arrow::DoubleBuilder values;
  arrow::Int64Builder numbers;
  arrow::TimestampBuilder times(TimeType(), arrow::default_memory_pool());
  for (const auto& row : rows) {
    EXPECT_TRUE((row.key ? keys.Append(*row.key) : keys.AppendNull()).ok());
    EXPECT_TRUE((row.v ? values.Append(*row.v) : values.AppendNull()).ok());
    EXPECT_TRUE((row.n ? numbers.Append(*row.n) : numbers.AppendNull()).ok());
    EXPECT_TRUE((row.ts ? times.Append(*row.ts) : times.AppendNull()).ok());
  }
  return arrow::RecordBatch::Make(InputSchema(), static_cast<int64_t>(rows.size()),
                                  {keys.Finish().ValueOrDie(), values.Finish().ValueOrDie(),
                                   numbers.Finish().ValueOrDie(), times.Finish().ValueOrDie()});
}

/// An aggregate processor built from a pipeline step written as YAML; each call of Process()
/// or Watermark() returns what it emitted, one JSON object per row.
struct Harness {
  exec::DeadLetterQueue dead_letters;
  std::unique_ptr<exec::Processor> processor;

  Status Make(const std::string& step, const std::string& event_time = "ts") {
    SLUICE_ASSIGN_OR_RAISE(processor,
                           testing::ProcessorFromYaml("aggregate", step, InputSchema(),
                                                      {"test", &dead_letters, event_time}));
    return Status::OK();
  }

  std::vector<std::string> Process(const std::vector<Row>& rows) {
    exec::CollectingEmitter out;
    Status status = processor->Process(MakeBatch(rows), out);
    EXPECT_TRUE(status.ok()) << status.ToString();
    return Rows(out);
  }
  std::vector<std::string> Watermark(int64_t watermark) {
    exec::CollectingEmitter out;
    Status status = processor->OnWatermark(watermark, out);
    EXPECT_TRUE(status.ok()) << status.ToString();
    return Rows(out);
  }

  std::vector<std::string> Rows(exec::CollectingEmitter& out) {
    std::vector<std::string> rows;
    for (const auto& batch : out.batches()) {
      EXPECT_TRUE(batch->schema()->Equals(*processor->output_schema(), /*check_metadata=*/true));
      for (int64_t i = 0; i < batch->num_rows(); ++i) rows.push_back(exec::RowToJson(*batch, i));
    }
    return rows;
  }
};

std::string ErrorOf(const std::string& step) {
  Harness harness;
  Status status = harness.Make(step);
  return status.ok() ? "(no error)" : status.message();
}

using Rows = std::vector<std::string>;

TEST(AggregateTest, EmitsTheNewValuesOfEachKeyTheBatchChanged) {
  Harness h;
  ASSERT_TRUE(
      h.Make("aggregate: {group_by: [key], aggregate: {v: [sum, count, last], n: max}}").ok());
  EXPECT_FALSE(h.processor->stateless());
  EXPECT_EQ(h.processor->state_bytes(), 0);
  EXPECT_EQ(h.Process({{"a", 1.0, 5}, {"b", 2.0, std::nullopt}, {"a", std::nullopt, 7}}),
            (Rows{R"({"key":"a","v_sum":1.0,"v_count":1,"v_last":1.0,"n_max":7,"count":2})",
                  R"({"key":"b","v_sum":2.0,"v_count":1,"v_last":2.0,"n_max":null,"count":1})"}));
  EXPECT_GT(h.processor->state_bytes(), 0);
  // Only b changed: a is not repeated.
  EXPECT_EQ(h.Process({{"b", 3.0, 1}}),
            (Rows{R"({"key":"b","v_sum":5.0,"v_count":2,"v_last":3.0,"n_max":1,"count":2})"}));
  // NULL is a key of its own; nothing fires on the watermark or at the end.
  EXPECT_EQ(h.Process({{std::nullopt, 4.0, 2}, {"a", 0.5, 9}}),
            (Rows{R"({"key":null,"v_sum":4.0,"v_count":1,"v_last":4.0,"n_max":2,"count":1})",
                  R"({"key":"a","v_sum":1.5,"v_count":2,"v_last":0.5,"n_max":9,"count":3})"}));
  EXPECT_EQ(h.Watermark(exec::kMaxTimestamp), Rows{});
  EXPECT_GT(h.processor->state_bytes(), 0) << "without a ttl keys are kept";
}

TEST(AggregateTest, WithoutGroupByOneRowPerBatchHoldsTheTotals) {
  Harness h;
  ASSERT_TRUE(h.Make("aggregate: {aggregate: {n: [sum, min]}}").ok());
  EXPECT_EQ(h.Process({{"a", 1.0, 5}, {"b", 2.0, 3}}),
            (Rows{R"({"n_sum":8,"n_min":3,"count":2})"}));
  EXPECT_EQ(h.Process({{"c", 1.0, 2}}), (Rows{R"({"n_sum":10,"n_min":2,"count":3})"}));
  EXPECT_EQ(h.processor->output_schema()->metadata()->Get("sluice.upsert_key").ValueOrDie(), "");
}

TEST(AggregateTest, OutputSchemaMarksTheKeysForUpserts) {
  Harness h;
  ASSERT_TRUE(h.Make("aggregate: {group_by: [key, n], aggregate: {v: [sum]}}").ok());
  auto schema = h.processor->output_schema();
  ASSERT_EQ(schema->field_names(), (std::vector<std::string>{"key", "n", "v_sum", "count"}));
  ASSERT_NE(schema->metadata(), nullptr);
  EXPECT_EQ(schema->metadata()->Get("sluice.upsert_key").ValueOrDie(), "key,n");
  for (const char* key : {"key", "n"}) {
    auto metadata = schema->GetFieldByName(key)->metadata();
    ASSERT_NE(metadata, nullptr) << key;
    EXPECT_EQ(metadata->Get("sluice.key").ValueOrDie(), "true") << key;
  }
  for (const char* value : {"v_sum", "count"}) {
    auto metadata = schema->GetFieldByName(value)->metadata();
    EXPECT_TRUE(metadata == nullptr || !metadata->Contains("sluice.key")) << value;
  }
  EXPECT_EQ(h.Process({{"a", 1.0, 1}, {"a", 2.0, 2}, {"a", 3.0, 1}}),
            (Rows{R"({"key":"a","n":1,"v_sum":4.0,"count":2})",
                  R"({"key":"a","n":2,"v_sum":2.0,"count":1})"}));
}

TEST(AggregateTest, FirstAndLastFollowInputOrderNotEventTime) {
  Harness h;
  ASSERT_TRUE(h.Make("aggregate: {group_by: [key], aggregate: {v: [first, last]}}").ok());
  // Event times run backwards.
  EXPECT_EQ(h.Process({{"a", 1.0, 0, 30 * kSecond},
                       {"a", 2.0, 0, 20 * kSecond},
                       {"a", std::nullopt, 0, 15 * kSecond}}),
            (Rows{R"({"key":"a","v_first":1.0,"v_last":2.0,"count":3})"}));
  EXPECT_EQ(h.Process({{"a", 3.0, 0, 10 * kSecond}, {"a", std::nullopt, 0, 0}}),
            (Rows{R"({"key":"a","v_first":1.0,"v_last":3.0,"count":5})"}));
}

TEST(AggregateTest, EventTimeTtlDropsKeysTheWatermarkLeftBehind) {
  Harness h;
  ASSERT_TRUE(h.Make("aggregate: {group_by: [key], aggregate: {n: [sum]}, ttl: 10s}").ok());
  h.Process({{"a", 0.0, 1, 0}, {"b", 0.0, 1, 5 * kSecond}});
  EXPECT_EQ(h.Watermark(10 * kSecond - 1), Rows{});
  EXPECT_EQ(h.Process({{"a", 0.0, 1, 9 * kSecond}}), (Rows{R"({"key":"a","n_sum":2,"count":2})"}));
  // b is 10 s behind the watermark: dropped, and starts afresh; a (last at 9 s) is kept.
  EXPECT_EQ(h.Watermark(15 * kSecond), Rows{});
  EXPECT_EQ(h.Process({{"b", 0.0, 1, 16 * kSecond}, {"a", 0.0, 1, 16 * kSecond}}),
            (Rows{R"({"key":"b","n_sum":1,"count":1})", R"({"key":"a","n_sum":3,"count":3})"}));
  // A row older than a key's latest one does not age it: a's last update stays at 16 s.
  h.Process({{"a", 0.0, 1, 1 * kSecond}});
  h.Watermark(20 * kSecond);
  EXPECT_EQ(h.Process({{"a", 0.0, 1, 17 * kSecond}}), (Rows{R"({"key":"a","n_sum":5,"count":5})"}));
  // A watermark exactly the ttl after the last update drops the key.
  h.Watermark(27 * kSecond);
  EXPECT_EQ(h.Process({{"a", 0.0, 1, 28 * kSecond}}), (Rows{R"({"key":"a","n_sum":1,"count":1})"}));
  EXPECT_GT(h.processor->state_bytes(), 0);
  h.Watermark(exec::kMaxTimestamp);
  EXPECT_EQ(h.processor->state_bytes(), 0);
  EXPECT_EQ(h.dead_letters.total(), 0);
}

TEST(AggregateTest, ProcessingTimeTtlWithoutEventTime) {
  Harness h;
  ASSERT_TRUE(h.Make("aggregate: {group_by: [key], aggregate: {n: [sum]}, ttl: 200ms}", "").ok());
  h.Process({{"a", 0.0, 1, std::nullopt}, {"b", 0.0, 2, std::nullopt}});
  EXPECT_GT(h.processor->state_bytes(), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  // The watermark's value does not matter: keys age by the wall clock.
  h.Watermark(0);
  EXPECT_EQ(h.processor->state_bytes(), 0);
  EXPECT_EQ(h.Process({{"a", 0.0, 5, std::nullopt}}), (Rows{R"({"key":"a","n_sum":5,"count":1})"}));
  // Rows without an event time are no dead letters here.
  EXPECT_EQ(h.dead_letters.total(), 0);
}

TEST(AggregateTest, KeysSurviveTheRebuildOfTheKeySet) {
  Harness h;
  ASSERT_TRUE(h.Make("aggregate: {group_by: [key], aggregate: {n: [sum]}, ttl: 10s}").ok());
  std::vector<Row> many;
  for (int i = 0; i < 10000; ++i) many.push_back({"k" + std::to_string(i), 0.0, 1, 0});
  EXPECT_EQ(h.Process(many).size(), 10000u);
  std::vector<Row> few;
  for (int i = 0; i < 100; ++i) few.push_back({"k" + std::to_string(i * 7), 0.0, 2, 8 * kSecond});
  h.Process(few);
  int64_t before = h.processor->state_bytes();
  // 9900 of the 10000 keys expire; the key set is rebuilt from the other 100.
  h.Watermark(15 * kSecond);
  EXPECT_LT(h.processor->state_bytes(), before);
  auto rows = h.Process({{"k7", 0.0, 4, 16 * kSecond},
                         {"k8", 0.0, 4, 16 * kSecond},
                         {"k693", 0.0, 4, 16 * kSecond},
                         {"k10000", 0.0, 4, 16 * kSecond}});
  EXPECT_EQ(
      rows,
      (Rows{R"({"key":"k7","n_sum":7,"count":3})", R"({"key":"k8","n_sum":4,"count":1})",
            R"({"key":"k693","n_sum":7,"count":3})", R"({"key":"k10000","n_sum":4,"count":1})"}));
  EXPECT_EQ(h.Process({{"k0", 0.0, 1, 16 * kSecond}}),
            (Rows{R"({"key":"k0","n_sum":4,"count":3})"}));
}

TEST(AggregateTest, RowsWithoutEventTimeAreDeadLettersUnderAnEventTimeTtl) {
  Harness h;
  ASSERT_TRUE(h.Make("aggregate: {group_by: [key], aggregate: {n: [sum]}, ttl: 1h}").ok());
  EXPECT_EQ(h.Process({{"a", 0.0, 1, 0}, {"a", 0.0, 2, std::nullopt}, {"b", 0.0, 3, 0}}),
            (Rows{R"({"key":"a","n_sum":1,"count":1})", R"({"key":"b","n_sum":3,"count":1})"}));
  auto letters = h.dead_letters.Drain();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason, "no event time");
  EXPECT_EQ(letters[0].stage, "aggregate");
  EXPECT_EQ(letters[0].record, R"({"key":"a","v":0.0,"n":2,"ts":null})");

  // Without a ttl the event time is not needed.
  Harness kept;
  ASSERT_TRUE(kept.Make("aggregate: {group_by: [key], aggregate: {n: [sum]}}").ok());
  EXPECT_EQ(kept.Process({{"a", 0.0, 1, 0}, {"a", 0.0, 2, std::nullopt}}),
            (Rows{R"({"key":"a","n_sum":3,"count":2})"}));
  EXPECT_EQ(kept.dead_letters.total(), 0);
}

TEST(AggregateTest, ConfigurationErrorsPointIntoTheStep) {
  EXPECT_EQ(ErrorOf("aggregate: {group_by: [kye], aggregate: {v: [sum]}}"),
            "test.yaml:1:23: error: unknown field 'kye' in group_by\n  hint: did you mean 'key'?");
  EXPECT_EQ(
      ErrorOf("aggregate: {group_by: [key], aggregate: {v: [sum, stdev]}}"),
      "test.yaml:1:51: error: unknown aggregate function 'stdev'\n  hint: did you mean 'stddev'?");
  EXPECT_EQ(ErrorOf("aggregate: {aggregate: {key: [avg]}}"),
            "test.yaml:1:31: error: 'key' is string: avg takes numbers, not string");
  EXPECT_NE(ErrorOf("aggregate: {group_by: [key], ttl: 0s}").find("ttl must be at least"),
            std::string::npos);
  EXPECT_NE(ErrorOf("aggregate: {group_by: [key], tumbling: 5s}").find("unknown option"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice::processors
