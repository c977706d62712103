#include <gtest/gtest.h>

#include <cstdlib>

#include "sluice/common/duration.h"
#include "sluice/common/spelling.h"
#include "sluice/config/pipeline_config.h"

namespace sluice::config {
namespace {

/// A catalog with a few declarations, so that the loader is tested apart from the plugins.
class TestCatalog : public SpecCatalog {
 public:
  TestCatalog() {
    PluginSpec generator{PluginKind::kSource, "generator", "test source", {}};
    OptionSpec count{"count", OptionType::kInteger, "rows", "0"};
    count.min = 0;
    generator.options = {count,
                         {"linger", OptionType::kDuration, "wait", "100ms"},
                         {"label", OptionType::kString, "a label", "x"}};
    specs_.push_back(generator);
    PluginSpec filter{PluginKind::kProcessor,
                      "filter",
                      "test filter",
                      {{"condition", OptionType::kExpression, "c", "", true}}};
    filter.value_option = "condition";
    specs_.push_back(filter);
    PluginSpec derive{PluginKind::kProcessor,
                      "derive",
                      "d",
                      {{"fields", OptionType::kExpressionMap, "f", "", true}}};
    derive.value_option = "fields";
    specs_.push_back(derive);
    PluginSpec select{PluginKind::kProcessor,
                      "select",
                      "s",
                      {{"fields", OptionType::kStringList, "f", "", true}}};
    select.value_option = "fields";
    specs_.push_back(select);
    PluginSpec console{PluginKind::kSink,
                       "console",
                       "c",
                       {{"format",
                         OptionType::kEnum,
                         "f",
                         "table",
                         false,
                         std::nullopt,
                         std::nullopt,
                         {"table", "jsonl"}}}};
    specs_.push_back(console);
  }
  const PluginSpec* FindSpec(PluginKind kind, std::string_view name) const override {
    for (const auto& spec : specs_) {
      if (spec.kind == kind && spec.name == name) return &spec;
    }
    return nullptr;
  }
  std::vector<std::string> Names(PluginKind kind) const override {
    std::vector<std::string> names;
    for (const auto& spec : specs_) {
      if (spec.kind == kind) names.push_back(spec.name);
    }
    return names;
  }

 private:
  std::vector<PluginSpec> specs_;
};

const char* kValid = R"(name: test
sources:
  quotes:
    connector: generator
    count: 10
pipeline:
  - filter: "count > 1"
  - derive: {a: "b + 1", c: "a * 2"}
  - select: [a, c]
sinks:
  screen: {connector: console, format: jsonl}
)";

Result<PipelineConfig> Load(const std::string& text, std::vector<Override> overrides = {}) {
  static TestCatalog catalog;
  return LoadPipelineText(text, "p.yaml", overrides, catalog);
}

std::string ErrorOf(const std::string& text, std::vector<Override> overrides = {}) {
  auto result = Load(text, std::move(overrides));
  return result.ok() ? "ok" : result.status().message();
}

TEST(PipelineConfigTest, LoadsEverySection) {
  auto config = Load(kValid);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->name, "test");
  ASSERT_EQ(config->sources.size(), 1u);
  EXPECT_EQ(config->sources[0].id, "quotes");
  EXPECT_EQ(config->sources[0].options.GetInteger("count"), 10);
  EXPECT_EQ(config->sources[0].options.GetDuration("linger"), std::chrono::milliseconds(100));
  ASSERT_EQ(config->processors.size(), 3u);
  EXPECT_EQ(config->processors[0].options.GetString("condition"), "count > 1");
  auto fields = config->processors[1].options.GetMap("fields");
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].first, "a");
  EXPECT_EQ(fields[1].first, "c");
  EXPECT_EQ(fields[1].second.text, "a * 2");
  EXPECT_EQ(config->processors[2].options.GetStringList("fields"),
            (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(config->sinks[0].options.GetString("format"), "jsonl");
}

TEST(PipelineConfigTest, ExpressionTextKnowsItsColumn) {
  auto config = Load(kValid);
  ASSERT_TRUE(config.ok());
  LocatedText condition = config->processors[0].options.GetText("condition");
  // `  - filter: "count > 1"`: the quote is at column 13, so 'count' starts at column 14.
  EXPECT_EQ(condition.where.line, 7);
  EXPECT_TRUE(condition.quoted);
  EXPECT_EQ(condition.At(0).ToString(), "p.yaml:7:14");
  EXPECT_EQ(condition.At(6).ToString(), "p.yaml:7:20");
}

TEST(PipelineConfigTest, UnknownOptionSuggestsTheClosest) {
  std::string text = kValid;
  text.replace(text.find("count: 10"), 9, "cuont: 10");
  EXPECT_EQ(ErrorOf(text),
            "p.yaml:5:5: error: unknown option 'cuont' for source generator\n  hint: did you mean "
            "'count'?");
}

TEST(PipelineConfigTest, UnknownProcessorAndConnector) {
  std::string text = kValid;
  text.replace(text.find("- select"), 8, "- selcet");
  EXPECT_EQ(ErrorOf(text),
            "p.yaml:9:5: error: unknown processor 'selcet'\n  hint: did you mean 'select'?");
  text = kValid;
  text.replace(text.find("connector: console"), 18, "connector: consol");
  EXPECT_EQ(
      ErrorOf(text),
      "p.yaml:11:23: error: unknown sink connector 'consol'\n  hint: did you mean 'console'?");
}

TEST(PipelineConfigTest, UnknownTopLevelKey) {
  EXPECT_EQ(ErrorOf(std::string(kValid) + "sink: {}\n"),
            "p.yaml:12:1: error: unknown top-level key 'sink'\n  hint: did you mean 'sinks'?");
}

TEST(PipelineConfigTest, TypeAndBoundsErrors) {
  std::string text = kValid;
  text.replace(text.find("count: 10"), 9, "count: ten");
  EXPECT_EQ(ErrorOf(text), "p.yaml:5:12: error: count must be a whole number, not 'ten'");
  text = kValid;
  text.replace(text.find("count: 10"), 9, "count: -1");
  EXPECT_EQ(ErrorOf(text), "p.yaml:5:12: error: count must be at least 0 (got -1)");
  text = kValid;
  text.replace(text.find("format: jsonl"), 13, "format: jsnl");
  EXPECT_EQ(ErrorOf(text),
            "p.yaml:11:40: error: 'jsnl' is not a valid format\n  hint: did you mean 'jsonl'?");
  text = std::string(kValid) + "";
  text.replace(text.find("count: 10"), 9, "count: 10\n    linger: 5");
  EXPECT_EQ(ErrorOf(text),
            "p.yaml:6:13: error: linger: '5' needs a unit (ns, us, ms, s, m, h or d), e.g. 5s");
}

TEST(PipelineConfigTest, ShapeErrors) {
  std::string text = kValid;
  text.replace(text.find("- select: [a, c]"), 16, "- select: {a: c}");
  EXPECT_EQ(ErrorOf(text), "p.yaml:9:13: error: select expects a list of strings, not a map");
  text = kValid;
  text.replace(text.find("- filter:"), 9, "  filter:");
  EXPECT_NE(ErrorOf(text).find("error:"), std::string::npos);
  EXPECT_EQ(
      ErrorOf("- a\n- b\n"),
      "p.yaml:1:1: error: a pipeline file must be a map with 'sources', 'pipeline' and 'sinks'");
}

TEST(PipelineConfigTest, InvalidYamlHasAPosition) {
  std::string error = ErrorOf("name: x\nsources: {a: [1, 2}\n");
  EXPECT_EQ(error.rfind("p.yaml:2:", 0), 0u) << error;
  EXPECT_NE(error.find("invalid YAML"), std::string::npos);
}

TEST(PipelineConfigTest, MissingSectionsAreErrors) {
  EXPECT_NE(ErrorOf("name: x\nsinks: {s: {connector: console}}\n").find("no sources"),
            std::string::npos);
  EXPECT_NE(ErrorOf("name: x\nsources: {q: {connector: generator}}\n").find("no sinks"),
            std::string::npos);
  EXPECT_NE(ErrorOf("sources: {q: {count: 1}}\nsinks: {s: {connector: console}}\n")
                .find("needs a 'connector'"),
            std::string::npos);
}

TEST(PipelineConfigTest, EnvironmentInterpolation) {
  setenv("SLUICE_TEST_COUNT", "25", 1);
  unsetenv("SLUICE_TEST_UNSET");
  std::string text = kValid;
  text.replace(
      text.find("count: 10"), 9,
      "count: ${SLUICE_TEST_COUNT}\n    label: \"${SLUICE_TEST_UNSET:-fallback}-$${literal}\"");
  auto config = Load(text);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->sources[0].options.GetInteger("count"), 25);
  EXPECT_EQ(config->sources[0].options.GetString("label"), "fallback-${literal}");

  text = kValid;
  text.replace(text.find("count: 10"), 9, "count: ${SLUICE_TEST_UNSET}");
  EXPECT_EQ(ErrorOf(text),
            "p.yaml:5:12: error: environment variable 'SLUICE_TEST_UNSET' is not set\n"
            "  hint: set it, or give a default: ${SLUICE_TEST_UNSET:-value}");
}

TEST(PipelineConfigTest, OverridesApplyBeforeValidation) {
  auto config =
      Load(kValid,
           {{"sources.quotes.count", "99"}, {"pipeline.0.filter", "x < 3"}, {"name", "renamed"}});
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->name, "renamed");
  EXPECT_EQ(config->sources[0].options.GetInteger("count"), 99);
  EXPECT_EQ(config->processors[0].options.GetString("condition"), "x < 3");
  EXPECT_NE(ErrorOf(kValid, {{"sources.quotes.cont", "1"}}).find("did you mean 'count'"),
            std::string::npos);
  EXPECT_FALSE(ParseOverride("novalue").ok());
  EXPECT_EQ(ParseOverride("a.b=c=d")->value, "c=d");
}

TEST(DurationTest, ParsesAndFormats) {
  EXPECT_EQ(*ParseDuration("500ms"), std::chrono::milliseconds(500));
  EXPECT_EQ(*ParseDuration("5s"), std::chrono::seconds(5));
  EXPECT_EQ(*ParseDuration("2m"), std::chrono::minutes(2));
  EXPECT_EQ(*ParseDuration("1h"), std::chrono::hours(1));
  EXPECT_EQ(*ParseDuration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_FALSE(ParseDuration("5").ok());
  EXPECT_FALSE(ParseDuration("5 parsecs").ok());
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("99999999999999h").ok());
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(std::chrono::minutes(2)), "2m");
}

TEST(SpellingTest, SuggestsOnlyCloseWords) {
  EXPECT_EQ(ClosestSpelling("pth", {"path", "format"}), "path");
  EXPECT_EQ(ClosestSpelling("zzzzzz", {"path", "format"}), std::nullopt);
  EXPECT_EQ(SpellingHint("zzzzzz", {"path", "format"}), "expected one of: path, format");
}

}  // namespace
}  // namespace sluice::config
