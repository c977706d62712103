#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "sluice/common/duration.h"
#include "sluice/common/spelling.h"
#include "sluice/config/pipeline_config.h"
#include "sluice/exec/registry.h"

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
    PluginSpec file{PluginKind::kSink, "file", "f", {{"path", OptionType::kString, "p", "", true}}};
    specs_.push_back(file);
    specs_.push_back(PluginSpec{PluginKind::kSink, "stdout", "s", {}});
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

TEST(PipelineConfigTest, DashOverrideIsStandardStreamsNotAList) {
  auto config =
      Load(kValid, {{"sinks.screen", "{connector: file, path: x}"}, {"sinks.screen.path", "-"}});
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->sinks[0].options.GetString("path"), "-");
}

TEST(PipelineConfigTest, SetErrorsNameTheArgument) {
  // The value's error points at the argument, not at a place in the file.
  EXPECT_EQ(ErrorOf(kValid, {{"sources.quotes.count", "abc"}}),
            "--set sources.quotes.count=abc: error: count must be a whole number, not 'abc'");
  // So does an unknown option that the argument adds.
  EXPECT_EQ(ErrorOf(kValid, {{"sources.quotes.cuont", "5"}}),
            "--set sources.quotes.cuont=5: error: unknown option 'cuont' for source generator\n"
            "  hint: did you mean 'count'?");
  // An expression given with --set: its error names the argument too.
  EXPECT_EQ(ErrorOf(kValid, {{"sources.quotes", "{connector: generator, linger: 5}"}}),
            "--set sources.quotes={connector: generator, linger: 5}: error: linger: '5' needs a "
            "unit (ns, us, ms, s, m, h or d), e.g. 5s");
  EXPECT_EQ(ErrorOf(kValid, {{"pipeline.7.filter", "x"}}),
            "--set pipeline.7.filter=x: error: '7' is not an index of the list\n"
            "  hint: the list has 3 item(s), numbered from 0");
  EXPECT_EQ(ErrorOf(kValid, {{"sources.quotes.count.x", "1"}}),
            "--set sources.quotes.count.x=1: error: 'sources.quotes.count' is a single value, so "
            "it has no 'x'");
  EXPECT_EQ(ParseOverride("novalue").status().message(),
            "--set novalue: error: --set expects KEY=VALUE\n"
            "  hint: e.g. --set sources.quotes.path=data.csv");
}

TEST(PipelineConfigTest, SetPathWithAMisspelledNameIsAnError) {
  EXPECT_EQ(ErrorOf(kValid, {{"sources.quote.count", "5"}}),
            "--set sources.quote.count=5: error: no 'quote' in sources\n"
            "  hint: did you mean 'quotes'?");
  EXPECT_EQ(ErrorOf(kValid, {{"source.quotes.count", "5"}}),
            "--set source.quotes.count=5: error: no 'source' in the file\n"
            "  hint: did you mean 'sources'?");
  // A name unlike any in the file is new: a --set may add a section.
  auto config = Load(kValid, {{"sinks.archive.connector", "console"}});
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->sinks.size(), 2u);
}

TEST(PipelineConfigTest, ReportsEveryErrorInOnePass) {
  std::string text = kValid;
  text.replace(text.find("count: 10"), 9, "count: ten");
  text.replace(text.find("- filter: \"count > 1\""), 21,
               "- filter: {condition: \"count > 1\", extra: 1}");
  text.replace(text.find("- select: [a, c]"), 16, "- select: {fields: [a], more: 2}");
  text.replace(text.find("format: jsonl"), 13, "format: jsnl");
  EXPECT_EQ(ErrorOf(text),
            "p.yaml:5:12: error: count must be a whole number, not 'ten'\n"
            "p.yaml:7:38: error: unknown option 'extra' for processor filter\n"
            "  hint: expected one of: condition\n"
            "p.yaml:9:27: error: unknown option 'more' for processor select\n"
            "  hint: expected one of: fields\n"
            "p.yaml:11:40: error: 'jsnl' is not a valid format\n"
            "  hint: did you mean 'jsonl'?");
}

TEST(PipelineConfigTest, TabIndentationIsNamed) {
  std::string text = kValid;
  text.replace(text.find("    count: 10"), 4, "\t");
  EXPECT_EQ(ErrorOf(text),
            "p.yaml:5:1: error: invalid YAML: a tab indents this line, but YAML is indented "
            "with spaces only (tabs cannot indent YAML)\n"
            "  hint: replace the tab with spaces");
}

TEST(PipelineConfigTest, VariableInAFlowMappingGetsAQuotingHint) {
  std::string text = kValid;
  text.replace(text.find("format: jsonl}"), 14, "format: jsonl, path: ${OUT}/x.jsonl}");
  EXPECT_EQ(ErrorOf(text),
            "p.yaml:11:53: error: invalid YAML: end of map flow not found\n"
            "  hint: inside {...} or [...], YAML reads the braces of ${...} as a nested map: "
            "quote the value, \"${OUT}/x.jsonl\"");
}

TEST(PipelineConfigTest, WarnsAboutAStepNothingReads) {
  std::string text = kValid;
  text.replace(text.find("  - filter"), 10, "  - name: kept\n    filter");
  text.replace(text.find("  - derive"), 10, "  - input: kept\n    derive");
  auto config = Load(text);
  ASSERT_TRUE(config.ok()) << config.status().message();
  // The derive reads `kept` by name, the select reads the derive, the sink the select.
  EXPECT_TRUE(PipelineWarnings(*config).empty());

  text = kValid;
  text.replace(text.find("  - select"), 10, "  - input: quotes\n    select");
  config = Load(text);
  ASSERT_TRUE(config.ok()) << config.status().message();
  // The derive's output goes nowhere: the select reads the source instead.
  EXPECT_EQ(PipelineWarnings(*config),
            (std::vector<std::string>{
                "p.yaml:8:5: warning: nothing reads the output of this step\n"
                "  hint: the next step names its own 'input'; give this step a 'name' and read "
                "it with 'input:', or remove it"}));
  text.replace(text.find("  - derive"), 10, "  - name: doubled\n    derive");
  config = Load(text);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(PipelineWarnings(*config),
            (std::vector<std::string>{
                "p.yaml:8:5: warning: nothing reads the stream 'doubled' of this step\n"
                "  hint: read it with 'input: doubled' in a later step or a sink, or remove the "
                "step"}));
}

TEST(PipelineConfigTest, KeysGivenTwiceAreErrors) {
  // yaml-cpp keeps both entries of a key given twice, and a lookup finds the first: without the
  // check the second source would run under the same name, the second `sinks` be ignored.
  EXPECT_EQ(ErrorOf("sources:\n"
                    "  quotes: {connector: generator}\n"
                    "  quotes: {connector: generator, count: 5}\n"
                    "sinks: {out: {connector: console}}\n"),
            "p.yaml:3:3: error: source 'quotes' is defined twice (first on line 2)\n"
            "  hint: give each source its own name");
  EXPECT_EQ(ErrorOf("sources: {quotes: {connector: generator}}\n"
                    "sinks:\n"
                    "  out: {connector: console}\n"
                    "  out: {connector: file, path: x.csv}\n"),
            "p.yaml:4:3: error: sink 'out' is defined twice (first on line 3)\n"
            "  hint: give each sink its own name");
  EXPECT_EQ(ErrorOf("sources: {quotes: {connector: generator}}\n"
                    "sinks: {out: {connector: console}}\n"
                    "sinks: {archive: {connector: file, path: x.csv}}\n"),
            "p.yaml:3:1: error: 'sinks' is given twice (first on line 2)\n"
            "  hint: YAML keeps one value per key, so one of them would be ignored: merge them "
            "into one");
  EXPECT_EQ(ErrorOf("sources: {quotes: {connector: generator, count: 1, count: 2}}\n"
                    "pipeline:\n"
                    "  - derive: {a: \"1\", a: \"2\"}\n"
                    "sinks: {out: {connector: console}}\n"),
            "p.yaml:1:52: error: key 'count' is given twice in this map (first on line 1)\n"
            "  hint: YAML keeps one value per key, so one of them would be ignored: remove or "
            "rename one\n"
            "p.yaml:3:22: error: key 'a' is given twice in this map (first on line 3)\n"
            "  hint: YAML keeps one value per key, so one of them would be ignored: remove or "
            "rename one");
}

TEST(PipelineConfigTest, StepNamesMustBeNew) {
  EXPECT_EQ(ErrorOf("sources: {quotes: {connector: generator}}\n"
                    "pipeline:\n"
                    "  - {name: quotes, filter: \"a > 1\"}\n"
                    "  - {name: big, filter: \"a > 2\"}\n"
                    "  - {name: big, filter: \"a > 3\"}\n"
                    "sinks: {out: {connector: console}}\n"),
            "p.yaml:3:12: error: a stream named 'quotes' already exists: source 'quotes' (line 1)\n"
            "  hint: give this step another name\n"
            "p.yaml:5:12: error: a stream named 'big' already exists: the step on line 4\n"
            "  hint: give this step another name");
}

TEST(PipelineConfigTest, SinksMustNotShareAnOutput) {
  const std::string head = "sources: {quotes: {connector: generator}}\nsinks:\n";
  // The same file spelled two ways (paths are relative to the working directory).
  EXPECT_EQ(ErrorOf(head + "  a: {connector: file, path: out/a.csv}\n"
                           "  b: {connector: file, path: ./out/../out/a.csv}\n"),
            "p.yaml:4:30: error: sink 'a' (line 3) and sink 'b' both write './out/../out/a.csv': "
            "one would replace the other's rows\n"
            "  hint: give each its own path");
  const std::string absolute = std::filesystem::absolute("out/a.csv").string();
  EXPECT_EQ(ErrorOf(head + "  a: {connector: file, path: out/a.csv}\n" +
                    "  b: {connector: file, path: " + absolute + "}\n"),
            "p.yaml:4:30: error: sink 'a' (line 3) and sink 'b' both write '" + absolute +
                "': one would replace the other's rows\n  hint: give each its own path");
  EXPECT_EQ(ErrorOf(head + "  a: {connector: file, path: dead.jsonl}\n" +
                    "dead_letters: {connector: file, path: dead.jsonl}\n"),
            "p.yaml:4:39: error: sink 'a' (line 3) and the dead letters both write 'dead.jsonl': "
            "one would replace the other's rows\n"
            "  hint: give each its own path");
  EXPECT_EQ(ErrorOf(head + "  a: {connector: file, path: \"-\"}\n  b: {connector: stdout}\n"),
            "p.yaml:4:6: error: sink 'a' (line 3) and sink 'b' both write to standard output, "
            "where their rows would mix\n"
            "  hint: give one of them a file path (a console sink can print to stderr: stream: "
            "stderr)");
  EXPECT_EQ(ErrorOf(head + "  a: {connector: file, path: out/a.csv}\n" +
                    "  b: {connector: file, path: out/b.csv}\n"),
            "ok");
}

TEST(PipelineConfigTest, SharedOutputGivenOnTheCommandLineNamesTheArgument) {
  EXPECT_EQ(ErrorOf("sources: {quotes: {connector: generator}}\nsinks:\n"
                    "  a: {connector: file, path: out/a.csv}\n"
                    "  b: {connector: file, path: out/b.csv}\n",
                    {{"sinks.a.path", "out/b.csv"}}),
            "p.yaml:4:30: error: sink 'a' (--set sinks.a.path=out/b.csv) and sink 'b' both write "
            "'out/b.csv': one would replace the other's rows\n"
            "  hint: give each its own path");
}

TEST(PipelineConfigTest, SinkPathThatIsADirectoryIsAnError) {
  const std::string directory = std::filesystem::temp_directory_path().string();
  const std::string head = "sources: {quotes: {connector: generator}}\nsinks:\n";
  EXPECT_EQ(ErrorOf(head + "  a: {connector: file, path: \"" + directory + "\"}\n"),
            "p.yaml:3:30: error: '" + directory +
                "' is a directory\n  hint: name a file in it, e.g. " + directory + "/output.jsonl");
  EXPECT_EQ(ErrorOf(head + "  a: {connector: file, path: not-yet/}\n"),
            "p.yaml:3:30: error: 'not-yet/' names a directory (it ends with '/')\n"
            "  hint: name a file, e.g. output.jsonl in it");
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

namespace sluice::config {
namespace {

const char* kWithWindow = R"(name: p
sources:
  quotes: {connector: generator, count: 10}
pipeline:
  - window: {tumbling: 5s, group_by: [symbol], aggregate: {ask: [min, max], bid: [max]}}
checkpoint: {dir: state/, interval: 2s}
max_state: 512MB
sinks:
  screen: {connector: console}
)";

TEST(CheckpointConfigTest, CheckpointAndMaxStateAreRead) {
  auto config = LoadPipelineText(kWithWindow, "p.yaml", {}, exec::BuiltinRegistry());
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_TRUE(config->checkpoint.has_value());
  EXPECT_EQ(config->checkpoint->dir, "state/");
  EXPECT_EQ(config->checkpoint->interval, std::chrono::seconds(2));
  EXPECT_EQ(config->checkpoint->retain, 3);
  EXPECT_EQ(config->max_state, int64_t{512} << 20);
  // --checkpoint-dir is a --set of checkpoint.dir, which creates the section when it is missing.
  std::string without = kWithWindow;
  without.erase(without.find("checkpoint:"), without.find("max_state") - without.find("checkpoint:"));
  config = LoadPipelineText(without, "p.yaml", {{"checkpoint.dir", "s3://bucket/state"}},
                            exec::BuiltinRegistry());
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->checkpoint->dir, "s3://bucket/state");
}

TEST(CheckpointConfigTest, BadValuesNameTheirPlace) {
  std::string text = kWithWindow;
  text.replace(text.find("512MB"), 5, "lots");
  auto config = LoadPipelineText(text, "p.yaml", {}, exec::BuiltinRegistry());
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("p.yaml:7:12: error: max_state: 'lots' is not a size"),
            std::string::npos)
      << config.status().message();
  // A duration's bounds are written as durations.
  text = kWithWindow;
  text.replace(text.find("interval: 2s"), 12, "interval: 0s");
  config = LoadPipelineText(text, "p.yaml", {}, exec::BuiltinRegistry());
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("interval must be at least 10ms (got 0s)"),
            std::string::npos)
      << config.status().message();
  text = kWithWindow;
  text.replace(text.find("interval: 2s"), 12, "every: 2s");
  config = LoadPipelineText(text, "p.yaml", {}, exec::BuiltinRegistry());
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("p.yaml:6:27: error"), std::string::npos)
      << config.status().message();
}

// The configuration a checkpoint records for a step does not depend on how its keys were
// ordered, and computing it leaves the step's own options as they were.
TEST(CheckpointConfigTest, CanonicalConfigurationSortsKeysAndChangesNothing) {
  std::string reordered = kWithWindow;
  reordered.replace(reordered.find("{tumbling"), std::string("{tumbling: 5s, group_by: [symbol], aggregate: {ask: [min, max], bid: [max]}}").size(),
                    "{aggregate: {bid: [max], ask: [min, max]}, group_by: [symbol], tumbling: 5s}");
  auto first = LoadPipelineText(kWithWindow, "p.yaml", {}, exec::BuiltinRegistry());
  auto second = LoadPipelineText(reordered, "p.yaml", {}, exec::BuiltinRegistry());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->processors[0].canonical, second->processors[0].canonical);
  EXPECT_TRUE(first->processors[0].options.GetNode("aggregate").IsMap());
  std::string changed = kWithWindow;
  changed.replace(changed.find("tumbling: 5s"), 12, "tumbling: 6s");
  auto third = LoadPipelineText(changed, "p.yaml", {}, exec::BuiltinRegistry());
  ASSERT_TRUE(third.ok());
  EXPECT_NE(first->processors[0].canonical, third->processors[0].canonical);
}

}  // namespace
}  // namespace sluice::config
