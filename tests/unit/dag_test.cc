// Pipelines as graphs of named streams: branches, named steps, sinks on any stream, sources with
// several streams and processors with two inputs.

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <map>

#include "sluice/config/pipeline_config.h"
#include "sluice/exec/pipeline.h"
#include "sluice/exec/registry.h"
#include "sluice/testing/in_memory_pipeline.h"

namespace sluice::exec {
namespace {

std::shared_ptr<arrow::Schema> NumberSchema() {
  return arrow::schema({arrow::field("v", arrow::int64()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
}

std::shared_ptr<arrow::RecordBatch> Numbers(int64_t first, int64_t count) {
  arrow::Int64Builder values;
  arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                                arrow::default_memory_pool());
  for (int64_t v = first; v < first + count; ++v) {
    EXPECT_TRUE(values.Append(v).ok());
    EXPECT_TRUE(times.Append(v * 1'000'000).ok());  // v seconds after the epoch
  }
  return arrow::RecordBatch::Make(NumberSchema(), count,
                                  {values.Finish().ValueOrDie(), times.Finish().ValueOrDie()});
}

/// A source of several streams, all with NumberSchema(): stream i gets `batches[i]`.
class MultiStreamSource : public Source {
 public:
  explicit MultiStreamSource(std::vector<std::shared_ptr<arrow::RecordBatch>> batches)
      : batches_(std::move(batches)) {}
  std::shared_ptr<arrow::Schema> schema() const override { return NumberSchema(); }
  std::vector<SourceStream> streams() const override {
    return {{"odd", NumberSchema()}, {"even", NumberSchema()}};
  }
  bool bounded() const override { return true; }
  Status Run(SourceOutput& out) override {
    for (size_t i = 0; i < batches_.size(); ++i)
      SLUICE_RETURN_NOT_OK(out.PushStream(i, batches_[i]));
    return Status::OK();
  }

 private:
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches_;
};

class OneBatchSource : public Source {
 public:
  explicit OneBatchSource(std::shared_ptr<arrow::RecordBatch> batch) : batch_(std::move(batch)) {}
  std::shared_ptr<arrow::Schema> schema() const override { return batch_->schema(); }
  bool bounded() const override { return true; }
  Status Run(SourceOutput& out) override { return out.Push(batch_); }

 private:
  std::shared_ptr<arrow::RecordBatch> batch_;
};

/// A two-input processor that passes both inputs through with a `side` column (0 left, 1 right).
class TagProcessor : public Processor {
 public:
  explicit TagProcessor(std::shared_ptr<arrow::Schema> input)
      : output_(input->AddField(input->num_fields(), arrow::field("side", arrow::int64()))
                    .ValueOrDie()) {}
  std::shared_ptr<arrow::Schema> output_schema() const override { return output_; }
  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, Emitter& out) override {
    return ProcessInput(0, batch, out);
  }
  Status ProcessInput(size_t input, const std::shared_ptr<arrow::RecordBatch>& batch,
                      Emitter& out) override {
    SLUICE_ASSIGN_OR_RAISE(
        auto side, arrow::MakeArrayFromScalar(arrow::Int64Scalar(static_cast<int64_t>(input)),
                                              batch->num_rows()));
    auto columns = batch->columns();
    columns.push_back(side);
    return out.Emit(arrow::RecordBatch::Make(output_, batch->num_rows(), columns));
  }

 private:
  std::shared_ptr<arrow::Schema> output_;
};

class DagTest : public ::testing::Test {
 protected:
  DagTest() : registry_(BuiltinRegistry()) {
    registry_.AddSource({config::PluginKind::kSource, "numbers", "test", {}},
                        [](const ConnectorContext& context,
                           const config::Options&) -> Result<std::unique_ptr<Source>> {
                          // "a" counts 0..9, any other name 100..104.
                          if (context.name == "a")
                            return std::make_unique<OneBatchSource>(Numbers(0, 10));
                          return std::make_unique<OneBatchSource>(Numbers(100, 5));
                        });
    registry_.AddSource(
        {config::PluginKind::kSource, "split", "test", {}},
        [](const ConnectorContext&, const config::Options&) -> Result<std::unique_ptr<Source>> {
          return std::make_unique<MultiStreamSource>(std::vector{Numbers(1, 3), Numbers(10, 2)});
        });
    config::PluginSpec tag{config::PluginKind::kProcessor, "tag", "test", {}};
    tag.options = {config::MakeOption("left", config::OptionType::kString, "left"),
                   config::MakeOption("right", config::OptionType::kString, "right")};
    tag.input_options = {"left", "right"};
    registry_.AddProcessor(
        tag,
        [](const ProcessorContext& context, const config::Options&,
           const std::shared_ptr<arrow::Schema>& input) -> Result<std::unique_ptr<Processor>> {
          EXPECT_EQ(context.inputs.size(), 2u);
          return std::make_unique<TagProcessor>(input);
        });
    registry_.AddSink({config::PluginKind::kSink, "recording", "test", {}},
                      [this](const ConnectorContext& context,
                             const config::Options&) -> Result<std::unique_ptr<Sink>> {
                        return std::make_unique<testing::RecordingSink>(&outputs_[context.name]);
                      });
  }

  Result<RunSummary> Run(const std::string& yaml) {
    SLUICE_ASSIGN_OR_RAISE(auto config, config::LoadPipelineText(yaml, "test.yaml", {}, registry_));
    SLUICE_ASSIGN_OR_RAISE(auto pipeline, Pipeline::Make(config, registry_));
    return pipeline->Run();
  }

  Status BuildError(const std::string& yaml) {
    auto config = config::LoadPipelineText(yaml, "test.yaml", {}, registry_);
    if (!config.ok()) return config.status();
    return Pipeline::Make(*config, registry_).status();
  }

  /// The int64 column `field` of everything sink `sink` received, in order.
  std::vector<int64_t> Column(const std::string& sink, const std::string& field) {
    std::vector<int64_t> values;
    for (const auto& batch : outputs_[sink]) {
      auto column = std::static_pointer_cast<arrow::Int64Array>(batch->GetColumnByName(field));
      for (int64_t i = 0; i < column->length(); ++i) values.push_back(column->Value(i));
    }
    return values;
  }

  Registry registry_;
  std::map<std::string, std::vector<std::shared_ptr<arrow::RecordBatch>>> outputs_;
};

TEST_F(DagTest, ASourceFeedsSeveralBranchesAndSinksReadNamedStreams) {
  auto summary =
      Run("sources: {a: {connector: numbers}}\n"
          "pipeline:\n"
          "  - {name: small, input: a, filter: 'v < 3'}\n"
          "  - {name: big, input: a, filter: 'v >= 7'}\n"
          "  - derive: {w: 'v * 10'}\n"  // reads the previous step: big
          "sinks:\n"
          "  small_out: {connector: recording, input: small}\n"
          "  raw: {connector: recording, input: a}\n"
          "  last: {connector: recording}\n");
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(Column("small_out", "v"), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(Column("raw", "v").size(), 10u);
  EXPECT_EQ(Column("last", "w"), (std::vector<int64_t>{70, 80, 90}));
  EXPECT_EQ(summary->rows_in, 10);
  // Rows written to sinks, counted once per stream: 3 + 10 + 3.
  EXPECT_EQ(summary->rows_out, 16);
}

TEST_F(DagTest, StreamsOfOneSourceAreAddressedByName) {
  auto summary =
      Run("sources: {s: {connector: split}}\n"
          "pipeline:\n"
          "  - {input: s.even, derive: {twice: 'v * 2'}}\n"
          "sinks:\n"
          "  odd: {connector: recording, input: s.odd}\n"
          "  even: {connector: recording}\n");
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(Column("odd", "v"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(Column("even", "twice"), (std::vector<int64_t>{20, 22}));
}

TEST_F(DagTest, ATwoInputProcessorReadsBothStreamsOnItsOwnInputs) {
  auto summary =
      Run("sources: {a: {connector: numbers}, b: {connector: numbers}}\n"
          "pipeline:\n"
          "  - {name: low, input: a, filter: 'v < 2'}\n"
          "  - tag: {left: b, right: low}\n"
          "sinks: {out: {connector: recording}}\n");
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  std::vector<int64_t> values = Column("out", "v");
  std::vector<int64_t> sides = Column("out", "side");
  ASSERT_EQ(values.size(), 7u);
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(sides[i], values[i] >= 100 ? 0 : 1);
}

TEST_F(DagTest, WatermarksFireWindowsOnEveryBranch) {
  auto summary =
      Run("sources: {a: {connector: numbers, event_time: ts}}\n"
          "pipeline:\n"
          "  - {name: fives, input: a, window: {tumbling: 5s, aggregate: {v: [sum]}}}\n"
          "  - {name: all, input: a, window: {tumbling: 10s, aggregate: {v: [max]}}}\n"
          "sinks:\n"
          "  fives: {connector: recording, input: fives}\n"
          "  all: {connector: recording, input: all}\n");
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(Column("fives", "v_sum"), (std::vector<int64_t>{10, 35}));
  EXPECT_EQ(Column("all", "v_max"), (std::vector<int64_t>{9}));
}

TEST_F(DagTest, WiringMistakesAreConfigurationErrorsWithPositions) {
  // A misspelt stream gets a hint.
  Status unknown = BuildError(
      "sources: {a: {connector: numbers}}\n"
      "pipeline:\n"
      "  - {name: small, input: aa, filter: 'v < 3'}\n"
      "sinks: {out: {connector: recording}}\n");
  EXPECT_EQ(unknown.message().rfind("test.yaml:3:26: error: no stream named 'aa'", 0), 0u)
      << unknown.message();
  // A step reads only what is defined above it.
  Status later = BuildError(
      "sources: {a: {connector: numbers}}\n"
      "pipeline:\n"
      "  - {input: big, filter: 'v < 3'}\n"
      "  - {name: big, input: a, filter: 'v > 3'}\n"
      "sinks: {out: {connector: recording}}\n");
  EXPECT_NE(later.message().find("produced by a later step"), std::string::npos) << later.message();
  // A source with several streams must be read one stream at a time.
  Status whole = BuildError(
      "sources: {s: {connector: split}}\n"
      "pipeline:\n"
      "  - filter: 'v < 3'\n"
      "sinks: {out: {connector: recording}}\n");
  EXPECT_NE(whole.message().find("has several streams (s.odd, s.even)"), std::string::npos)
      << whole.message();
  Status bare = BuildError(
      "sources: {s: {connector: split}}\n"
      "sinks: {out: {connector: recording, input: s}}\n");
  EXPECT_NE(bare.message().find("name one: s.odd, s.even"), std::string::npos) << bare.message();
  // Names are unique.
  Status twice = BuildError(
      "sources: {a: {connector: numbers}}\n"
      "pipeline:\n"
      "  - {name: a, filter: 'v < 3'}\n"
      "sinks: {out: {connector: recording}}\n");
  EXPECT_NE(twice.message().find("a stream named 'a' already exists"), std::string::npos)
      << twice.message();
  // A two-input processor takes its inputs from its own options, not from `input`.
  Status both = BuildError(
      "sources: {a: {connector: numbers}}\n"
      "pipeline:\n"
      "  - {input: a, tag: {left: a, right: a}}\n"
      "sinks: {out: {connector: recording}}\n");
  EXPECT_NE(both.message().find("reads the streams named by left and right"), std::string::npos)
      << both.message();
  // A step has one processor.
  Status two = BuildError(
      "sources: {a: {connector: numbers}}\n"
      "pipeline:\n"
      "  - {filter: 'v < 3', select: [v]}\n"
      "sinks: {out: {connector: recording}}\n");
  EXPECT_NE(two.message().find("exactly one processor key"), std::string::npos) << two.message();
}

}  // namespace
}  // namespace sluice::exec
