#include "sluice/processors/top_n.h"

#include <arrow/api.h>
#include <arrow/compute/initialize.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>

#include "sluice/config/options.h"
#include "sluice/testing/processor_from_yaml.h"

namespace sluice::processors {
namespace {

Result<std::unique_ptr<exec::Processor>> MakeTopN(const std::string& step,
                                                  const std::shared_ptr<arrow::Schema>& input) {
  return testing::ProcessorFromYaml("top_n", step, input);
}

std::shared_ptr<arrow::Array> Column(const std::shared_ptr<arrow::DataType>& type,
                                     const std::string& json) {
  return arrow::json::ArrayFromJSONString(type, json).ValueOrDie();
}

std::shared_ptr<arrow::Schema> WindowSchema() {
  return arrow::schema({arrow::field("window_start", arrow::int64()),
                        arrow::field("symbol", arrow::utf8()),
                        arrow::field("volume_sum", arrow::float64())});
}

/// Two windows (10 and 20), interleaved, with a tie, a NaN and NULLs.
std::shared_ptr<arrow::RecordBatch> Windows() {
  return arrow::RecordBatch::Make(
      WindowSchema(), 9,
      {Column(arrow::int64(), "[10, 20, 10, 10, 20, 10, 20, 10, 20]"),
       Column(arrow::utf8(), R"(["A", "B", "C", "D", "E", "F", "G", "H", "I"])"),
       Column(arrow::float64(), "[5, null, 7, 5, 1, null, 2, 9, 2]")});
}

std::vector<std::string> Symbols(exec::CollectingEmitter& out) {
  std::vector<std::string> symbols;
  for (const auto& batch : out.batches()) {
    auto column = std::static_pointer_cast<arrow::StringArray>(batch->GetColumnByName("symbol"));
    for (int64_t i = 0; i < column->length(); ++i) symbols.push_back(column->GetString(i));
  }
  return symbols;
}

TEST(TopNProcessorTest, KeepsTheLargestPerGroupTiesInInputOrder) {
  auto processor =
      MakeTopN("top_n: {n: 3, by: volume_sum, order: desc, per: [window_start]}", WindowSchema());
  ASSERT_TRUE(processor.ok()) << processor.status().message();
  EXPECT_TRUE((*processor)->output_schema()->Equals(*WindowSchema()));
  exec::CollectingEmitter out;
  auto processed = (*processor)->Process(Windows(), out);
  ASSERT_TRUE(processed.ok()) << processed.message();
  // Window 10: H 9, C 7, then A and D tie at 5 (A came first); F (NULL) last.
  // Window 20: G 2 and I 2 tie (G first), E 1; B (NULL) last.
  EXPECT_EQ(Symbols(out), (std::vector<std::string>{"H", "C", "A", "G", "I", "E"}));
  EXPECT_TRUE(out.batches()[0]->schema()->Equals(*WindowSchema()));
}

TEST(TopNProcessorTest, WithTiesKeepsEveryRowEqualToTheNth) {
  auto processor = MakeTopN("top_n: {n: 1, by: volume_sum, per: [window_start], with_ties: true}",
                            WindowSchema());
  ASSERT_TRUE(processor.ok()) << processor.status().message();
  exec::CollectingEmitter out;
  ASSERT_TRUE((*processor)->Process(Windows(), out).ok());
  // Window 10: H alone (9). Window 20: G and I tie at 2; E is 1, not a tie with I.
  EXPECT_EQ(Symbols(out), (std::vector<std::string>{"H", "G", "I"}));
  // Equal values further down a group are not ties with the n-th: A and D (5) stay out.
  auto three = MakeTopN("top_n: {n: 2, by: volume_sum, per: [window_start], with_ties: true}",
                        WindowSchema());
  ASSERT_TRUE(three.ok());
  exec::CollectingEmitter more;
  ASSERT_TRUE((*three)->Process(Windows(), more).ok());
  EXPECT_EQ(Symbols(more), (std::vector<std::string>{"H", "C", "G", "I"}));
}

TEST(TopNProcessorTest, AscendingKeepsTheSmallestAndNullsStayLast) {
  auto processor =
      MakeTopN("top_n: {n: 4, by: volume_sum, order: asc, per: window_start}", WindowSchema());
  ASSERT_TRUE(processor.ok()) << processor.status().message();
  exec::CollectingEmitter out;
  auto processed = (*processor)->Process(Windows(), out);
  ASSERT_TRUE(processed.ok()) << processed.message();
  EXPECT_EQ(Symbols(out), (std::vector<std::string>{"A", "D", "C", "H", "E", "G", "I", "B"}));
}

TEST(TopNProcessorTest, WithoutPerTheBatchIsOneGroup) {
  auto processor = MakeTopN("top_n: {n: 2, by: volume_sum}", WindowSchema());
  ASSERT_TRUE(processor.ok()) << processor.status().message();
  exec::CollectingEmitter out;
  auto processed = (*processor)->Process(Windows(), out);
  ASSERT_TRUE(processed.ok()) << processed.message();
  ASSERT_TRUE((*processor)->Process(Windows()->Slice(4, 3), out).ok());  // E 1, F null, G 2
  EXPECT_EQ(Symbols(out), (std::vector<std::string>{"H", "C", "G", "E"}));
}

TEST(TopNProcessorTest, RanksStringsAndKeepsEveryRowWhenNIsLarge) {
  auto processor = MakeTopN("top_n: {n: 100, by: symbol, order: asc}", WindowSchema());
  ASSERT_TRUE(processor.ok()) << processor.status().message();
  exec::CollectingEmitter out;
  ASSERT_TRUE((*processor)->Process(Windows()->Slice(3, 4), out).ok());  // D E F G
  EXPECT_EQ(Symbols(out), (std::vector<std::string>{"D", "E", "F", "G"}));
}

TEST(TopNProcessorTest, ConfigurationErrorsArePositioned) {
  auto unknown = MakeTopN("top_n: {n: 3, by: volume_sun}", WindowSchema());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(
      unknown.status().message(),
      "test.yaml:1:19: error: unknown field 'volume_sun'\n  hint: did you mean 'volume_sum'?");

  auto zero = MakeTopN("top_n: {n: 0, by: volume_sum}", WindowSchema());
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.status().message().rfind("test.yaml:1:12: error:", 0), 0u)
      << zero.status().message();

  auto order = MakeTopN("top_n: {n: 3, by: volume_sum, order: descending}", WindowSchema());
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(
      order.status().message().rfind("test.yaml:1:38: error: 'descending' is not a valid order", 0),
      0u)
      << order.status().message();

  auto per = MakeTopN("top_n: {n: 3, by: volume_sum, per: [window]}", WindowSchema());
  ASSERT_FALSE(per.ok());
  EXPECT_EQ(per.status().message().rfind("test.yaml:1:36: error: unknown field 'window'", 0), 0u)
      << per.status().message();

  auto unordered = MakeTopN("top_n: {n: 3, by: tags}",
                            arrow::schema({arrow::field("tags", arrow::list(arrow::utf8()))}));
  ASSERT_FALSE(unordered.ok());
  EXPECT_EQ(unordered.status().message().rfind("test.yaml:1:19: error: cannot rank by 'tags'", 0),
            0u)
      << unordered.status().message();
}

}  // namespace
}  // namespace sluice::processors
