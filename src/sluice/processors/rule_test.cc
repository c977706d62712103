#include "sluice/processors/rule.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>

#include "sluice/config/options.h"
#include "sluice/testing/processor_from_yaml.h"

namespace sluice::processors {
namespace {

Result<std::unique_ptr<exec::Processor>> MakeRule(const std::string& step,
                                                  const std::shared_ptr<arrow::Schema>& input) {
  return testing::ProcessorFromYaml("rule", step, input);
}

std::shared_ptr<arrow::Array> Column(const std::shared_ptr<arrow::DataType>& type,
                                     const std::string& json) {
  return arrow::json::ArrayFromJSONString(type, json).ValueOrDie();
}

std::shared_ptr<arrow::Schema> QuoteSchema() {
  return arrow::schema(
      {arrow::field("symbol", arrow::utf8()), arrow::field("bid", arrow::float64()),
       arrow::field("ask", arrow::float64()), arrow::field("volume", arrow::int64())});
}

std::shared_ptr<arrow::RecordBatch> Quotes() {
  return arrow::RecordBatch::Make(QuoteSchema(), 5,
                                  {Column(arrow::utf8(), R"(["A", "B", "C", "D", "E"])"),
                                   Column(arrow::float64(), "[1, 2, null, 4, 5]"),
                                   Column(arrow::float64(), "[2, 2.25, 3, 4.75, 5.1]"),
                                   Column(arrow::int64(), "[10, 9500, 9999, null, 1]")});
}

TEST(RuleProcessorTest, EmitsOneAlertPerRowAndRuleInOrder) {
  auto processor =
      MakeRule(R"(rule: {rules: {wide_spread: "ask - bid > 0.5", big_trade: "volume > 9000"},
                                      fields: [symbol, volume]})",
               QuoteSchema());
  ASSERT_TRUE(processor.ok()) << processor.status().message();
  EXPECT_TRUE((*processor)->stateless());
  auto schema = arrow::schema({arrow::field("rule", arrow::utf8(), false),
                               arrow::field("symbol", arrow::utf8()),
                               arrow::field("volume", arrow::int64())});
  EXPECT_TRUE((*processor)->output_schema()->Equals(*schema))
      << (*processor)->output_schema()->ToString();
  exec::CollectingEmitter out;
  ASSERT_TRUE((*processor)->Process(Quotes(), out).ok());
  ASSERT_EQ(out.batches().size(), 1u);
  // A: wide; B: big; C: big (its spread is NULL, no alert); D: wide (volume NULL, no alert); E:
  // none.
  auto expected = arrow::RecordBatch::Make(
      schema, 4,
      {Column(arrow::utf8(), R"(["wide_spread", "big_trade", "big_trade", "wide_spread"])"),
       Column(arrow::utf8(), R"(["A", "B", "C", "D"])"),
       Column(arrow::int64(), "[10, 9500, 9999, null]")});
  EXPECT_TRUE(out.batches()[0]->Equals(*expected)) << out.batches()[0]->ToString();
}

TEST(RuleProcessorTest, ARowMatchingSeveralRulesRaisesSeveralAlertsWithAllFields) {
  auto processor =
      MakeRule(R"(rule: {rules: {any: "volume > 0", big: "volume >= 9500", never: "FALSE"}})",
               QuoteSchema());
  ASSERT_TRUE(processor.ok()) << processor.status().message();
  EXPECT_EQ((*processor)->output_schema()->num_fields(), 5);
  exec::CollectingEmitter out;
  ASSERT_TRUE((*processor)->Process(Quotes(), out).ok());
  ASSERT_EQ(out.batches().size(), 1u);
  auto expected = arrow::RecordBatch::Make(
      (*processor)->output_schema(), 6,
      {Column(arrow::utf8(), R"(["any", "any", "big", "any", "big", "any"])"),
       Column(arrow::utf8(), R"(["A", "B", "B", "C", "C", "E"])"),
       Column(arrow::float64(), "[1, 2, 2, null, null, 5]"),
       Column(arrow::float64(), "[2, 2.25, 2.25, 3, 3, 5.1]"),
       Column(arrow::int64(), "[10, 9500, 9500, 9999, 9999, 1]")});
  EXPECT_TRUE(out.batches()[0]->Equals(*expected)) << out.batches()[0]->ToString();
}

TEST(RuleProcessorTest, NoAlertNoBatch) {
  auto processor =
      MakeRule(R"(rule: {rules: {huge: "volume > 100000", nothing: "NULL"}})", QuoteSchema());
  ASSERT_TRUE(processor.ok()) << processor.status().message();
  exec::CollectingEmitter out;
  ASSERT_TRUE((*processor)->Process(Quotes(), out).ok());
  EXPECT_TRUE(out.batches().empty());
}

TEST(RuleProcessorTest, ConfigurationErrorsArePositioned) {
  auto not_boolean =
      MakeRule(R"(rule: {rules: {ok: "volume > 1", spread: "ask - bid"}})", QuoteSchema());
  ASSERT_FALSE(not_boolean.ok());
  EXPECT_EQ(not_boolean.status().message().rfind("test.yaml:1:43: error: rule 'spread' must be "
                                                 "true or false, but this expression gives double",
                                                 0),
            0u)
      << not_boolean.status().message();

  auto unknown = MakeRule(R"(rule: {rules: {big: "volumes > 1"}})", QuoteSchema());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message().rfind("test.yaml:1:22: error:", 0), 0u)
      << unknown.status().message();
  EXPECT_NE(unknown.status().message().find("volume"), std::string::npos);

  auto field =
      MakeRule(R"(rule: {rules: {big: "volume > 1"}, fields: [symbol, price]})", QuoteSchema());
  ASSERT_FALSE(field.ok());
  EXPECT_EQ(field.status().message(),
            "test.yaml:1:44: error: unknown field 'price'\n  hint: expected one of: symbol, bid, "
            "ask, volume");

  auto clash = MakeRule(
      R"(rule: {rules: {big: "volume > 1"}})",
      arrow::schema({arrow::field("rule", arrow::utf8()), arrow::field("volume", arrow::int64())}));
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.status().message().find("clash with the input field 'rule'"), std::string::npos)
      << clash.status().message();
}

}  // namespace
}  // namespace sluice::processors
