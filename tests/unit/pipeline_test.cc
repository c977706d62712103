#include "sluice/exec/pipeline.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <tuple>

#include "sluice/config/pipeline_config.h"

namespace sluice::exec {
namespace {

/// Shared between a test and the fake plugins it registers.
struct Probe {
  std::atomic<int64_t> pushed_rows{0};
  std::atomic<int64_t> written_rows{0};
  std::atomic<int64_t> max_in_flight{0};
  std::atomic<bool> sink_closed{false};
  std::atomic<int> sinks_published{0};
  std::atomic<int> sinks_aborted{0};
  std::atomic<int> sink_delay_ms{0};
  /// Rows the `letters` sink (a dead-letter output) wrote.
  std::atomic<int64_t> letters_written{0};
  std::vector<int64_t> values;
  /// Each OnBatchesDone() call: (batches, end_of_run, rows written by then).
  std::vector<std::tuple<int64_t, bool, int64_t>> acknowledged;
};

Probe* g_probe = nullptr;

/// Emits `count` rows of {v: 0..count-1} in batches of `batch` rows; endless when count is 0;
/// fails after `fail_after` rows when given.
class CountingSource : public Source {
 public:
  CountingSource(int64_t count, int64_t batch, int64_t fail_after, std::string field)
      : count_(count),
        batch_(batch),
        fail_after_(fail_after),
        schema_(arrow::schema({arrow::field(std::move(field), arrow::int64())})) {}
  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  bool bounded() const override { return count_ > 0; }
  Status Run(SourceOutput& out) override {
    for (int64_t next = 0; count_ == 0 || next < count_; next += batch_) {
      if (out.stopping()) return Status::OK();
      if (fail_after_ > 0 && next >= fail_after_) return Status::IOError("the source broke");
      int64_t rows = count_ == 0 ? batch_ : std::min(batch_, count_ - next);
      arrow::Int64Builder builder;
      for (int64_t i = 0; i < rows; ++i) ARROW_RETURN_NOT_OK(builder.Append(next + i));
      ARROW_ASSIGN_OR_RAISE(auto array, builder.Finish());
      g_probe->pushed_rows += rows;
      int64_t in_flight = g_probe->pushed_rows - g_probe->written_rows;
      int64_t seen = g_probe->max_in_flight.load();
      while (in_flight > seen && !g_probe->max_in_flight.compare_exchange_weak(seen, in_flight)) {
      }
      Status pushed = out.Push(arrow::RecordBatch::Make(schema_, rows, {array}));
      if (pushed.IsCancelled()) return Status::OK();
      ARROW_RETURN_NOT_OK(pushed);
    }
    return Status::OK();
  }

  void OnBatchesDone(int64_t batches, bool end_of_run) override {
    g_probe->acknowledged.emplace_back(batches, end_of_run, g_probe->written_rows.load());
  }

 private:
  int64_t count_, batch_, fail_after_;
  std::shared_ptr<arrow::Schema> schema_;
};

class RecordingSink : public Sink {
 public:
  explicit RecordingSink(bool fail_on_close = false, DeadLetterQueue* reject_on_commit = nullptr)
      : fail_on_close_(fail_on_close), reject_on_commit_(reject_on_commit) {}
  /// With reject_on_commit, the run's last Commit() refuses a row, as a database sink does
  /// for a row it writes again after a lost connection.
  Status Commit(const InputDone& done) override {
    if (reject_on_commit_ != nullptr && done.end_of_run) {
      reject_on_commit_->Add(DeadLetter{"refused at commit", "sink:out", "", "", "{}"});
    }
    return Status::OK();
  }
  Status Open(const std::shared_ptr<arrow::Schema>&) override { return Status::OK(); }
  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    if (g_probe->sink_delay_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(g_probe->sink_delay_ms));
    auto values = std::static_pointer_cast<arrow::Int64Array>(batch->column(0));
    for (int64_t i = 0; i < values->length(); ++i)
      g_probe->values.push_back(values->IsNull(i) ? -1 : values->Value(i));
    g_probe->written_rows += batch->num_rows();
    return Status::OK();
  }
  Status Close() override {
    g_probe->sink_closed = true;
    return fail_on_close_ ? Status::IOError("the disk is full") : Status::OK();
  }
  Status Publish() override {
    ++g_probe->sinks_published;
    return Status::OK();
  }
  void Abort() override { ++g_probe->sinks_aborted; }

 private:
  bool fail_on_close_;
  DeadLetterQueue* reject_on_commit_;
};

/// Counts the rows written to it (for a dead-letter output).
class LettersSink : public Sink {
 public:
  Status Open(const std::shared_ptr<arrow::Schema>&) override { return Status::OK(); }
  Status Write(const std::shared_ptr<arrow::RecordBatch>& batch) override {
    g_probe->letters_written += batch->num_rows();
    return Status::OK();
  }
  Status Close() override { return Status::OK(); }
};

/// Fails any batch holding the value 13 (a stand-in for a failed cast). Declares itself
/// row-wise, or not, as a step that reads rows together (a rank, a limit) would.
class UnluckyProcessor : public Processor {
 public:
  UnluckyProcessor(std::shared_ptr<arrow::Schema> schema, bool row_wise)
      : schema_(std::move(schema)), row_wise_(row_wise) {}
  std::shared_ptr<arrow::Schema> output_schema() const override { return schema_; }
  bool row_wise() const override { return row_wise_; }
  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, Emitter& out) override {
    auto values = std::static_pointer_cast<arrow::Int64Array>(batch->column(0));
    for (int64_t i = 0; i < values->length(); ++i) {
      if (values->IsValid(i) && values->Value(i) % 100 == 13)
        return Status::Invalid("unlucky value ", values->Value(i));
    }
    return out.Emit(batch);
  }

 private:
  std::shared_ptr<arrow::Schema> schema_;
  bool row_wise_;
};

Registry TestRegistry() {
  Registry registry;
  config::PluginSpec counting{config::PluginKind::kSource, "counting", "test", {}};
  counting.options = {{"count", config::OptionType::kInteger, "", "0"},
                      {"fail_after", config::OptionType::kInteger, "", "0"},
                      {"field", config::OptionType::kString, "", "v"}};
  registry.AddSource(counting,
                     [](const ConnectorContext&,
                        const config::Options& options) -> Result<std::unique_ptr<Source>> {
                       return std::make_unique<CountingSource>(
                           options.GetInteger("count"), options.GetInteger("batch_size"),
                           options.GetInteger("fail_after"), options.GetString("field"));
                     });
  for (bool row_wise : {true, false}) {
    registry.AddProcessor(
        {config::PluginKind::kProcessor, row_wise ? "unlucky" : "unlucky_ranking", "test", {}},
        [row_wise](
            const ProcessorContext&, const config::Options&,
            const std::shared_ptr<arrow::Schema>& input) -> Result<std::unique_ptr<Processor>> {
          return std::make_unique<UnluckyProcessor>(input, row_wise);
        });
  }
  config::PluginSpec recording{config::PluginKind::kSink, "recording", "test", {}};
  recording.options = {{"fail_on_close", config::OptionType::kBool, "", "false"},
                       {"reject_on_commit", config::OptionType::kBool, "", "false"}};
  registry.AddSink(recording,
                   [](const ConnectorContext& context,
                      const config::Options& options) -> Result<std::unique_ptr<Sink>> {
                     return std::make_unique<RecordingSink>(
                         options.GetBool("fail_on_close"),
                         options.GetBool("reject_on_commit") ? context.dead_letters : nullptr);
                   });
  registry.AddSink({config::PluginKind::kSink, "letters", "test", {}},
                   [](const ConnectorContext&,
                      const config::Options&) -> Result<std::unique_ptr<Sink>> {
                     return std::make_unique<LettersSink>();
                   });
  return registry;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override { g_probe = &probe_; }
  void TearDown() override { g_probe = nullptr; }

  /// Runs `pipeline`, asking it to stop once its sinks have written `rows` rows.
  Result<RunSummary> RunUntilWritten(Pipeline& pipeline, int64_t rows) {
    std::thread stopper([&] {
      while (probe_.written_rows.load() < rows)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      pipeline.RequestStop();
    });
    auto summary = pipeline.Run();
    stopper.join();
    return summary;
  }

  Result<std::unique_ptr<Pipeline>> Build(const std::string& yaml) {
    SLUICE_ASSIGN_OR_RAISE(auto config, config::LoadPipelineText(yaml, "test.yaml", {}, registry_));
    return Pipeline::Make(config, registry_);
  }

  Probe probe_;
  Registry registry_ = TestRegistry();
};

TEST_F(PipelineTest, BoundedRunDeliversEveryRowInOrder) {
  auto pipeline = Build(
      "sources: {a: {connector: counting, count: 1000, batch_size: 64}}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  auto summary = (*pipeline)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(summary->rows_in, 1000);
  EXPECT_EQ(summary->rows_out, 1000);
  EXPECT_EQ(summary->batches, 16);
  ASSERT_EQ(probe_.values.size(), 1000u);
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(probe_.values[i], i);
  EXPECT_TRUE(probe_.sink_closed);
}

TEST_F(PipelineTest, SourcesAreAcknowledgedOnlyForBatchesTheSinksWrote) {
  auto pipeline = Build(
      "sources: {a: {connector: counting, count: 1000, batch_size: 64}}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  ASSERT_TRUE((*pipeline)->Run().ok());
  ASSERT_EQ(probe_.acknowledged.size(), 17u);  // one per batch, then the end of the run
  for (int64_t i = 0; i < 16; ++i) {
    auto [batches, end_of_run, written] = probe_.acknowledged[i];
    EXPECT_EQ(batches, i + 1);
    EXPECT_FALSE(end_of_run);
    EXPECT_GE(written, std::min<int64_t>(batches * 64, 1000))
        << "acknowledged before the sink wrote it";
  }
  EXPECT_EQ(probe_.acknowledged.back(), std::make_tuple(int64_t{16}, true, int64_t{1000}));
}

TEST_F(PipelineTest, AFailedRunNeverAcknowledgesItsEnd) {
  auto pipeline = Build(
      "sources: {a: {connector: counting, count: 1000, batch_size: 64, fail_after: 320}}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  ASSERT_FALSE((*pipeline)->Run().ok());
  for (const auto& [batches, end_of_run, written] : probe_.acknowledged) {
    EXPECT_FALSE(end_of_run);
    EXPECT_LE(batches, 5);
  }
}

TEST_F(PipelineTest, BadRowsAreIsolatedIntoDeadLetters) {
  auto pipeline = Build(
      "sources: {a: {connector: counting, count: 1000, batch_size: 256}}\n"
      "pipeline:\n  - unlucky: {}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  auto summary = (*pipeline)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  // 13, 113, ..., 913: ten rows fail; the other 990 arrive, still in order.
  EXPECT_EQ(summary->dead_letters, 10);
  EXPECT_EQ(summary->rows_out, 990);
  ASSERT_EQ(probe_.values.size(), 990u);
  EXPECT_EQ(probe_.values[12], 12);
  EXPECT_EQ(probe_.values[13], 14);
}

TEST_F(PipelineTest, RowsASinkRefusesAtTheLastCommitReachTheDeadLetterOutput) {
  auto pipeline = Build(
      "sources: {a: {connector: counting, count: 100, batch_size: 64}}\n"
      "dead_letters: {connector: letters}\n"
      "sinks: {out: {connector: recording, reject_on_commit: true}}\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  auto summary = (*pipeline)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(summary->dead_letters, 1);
  EXPECT_EQ(probe_.letters_written.load(), 1) << "counted but never written";
}

/// Slicing a batch of a step that is not row-wise would emit fragments of its result; the
/// step's error fails the run instead, naming the step.
TEST_F(PipelineTest, AStepThatIsNotRowWiseIsNeverRetriedOnSlices) {
  auto pipeline = Build(
      "sources: {a: {connector: counting, count: 1000, batch_size: 256}}\n"
      "pipeline:\n  - unlucky_ranking: {}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  auto summary = (*pipeline)->Run();
  ASSERT_FALSE(summary.ok());
  EXPECT_NE(summary.status().message().find("step 'pipeline[0] unlucky_ranking' failed: "
                                            "unlucky value 13"),
            std::string::npos)
      << summary.status().message();
  EXPECT_TRUE(probe_.values.empty()) << "a fragment of the failed batch was written";
}

TEST_F(PipelineTest, SlowSinkBoundsWhatIsInFlight) {
  probe_.sink_delay_ms = 5;
  auto pipeline = Build(
      "sources: {a: {connector: counting, count: 20000, batch_size: 100}}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_TRUE(pipeline.ok());
  auto summary = (*pipeline)->Run();
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->rows_out, 20000);
  // The queue holds 4 batches; with one in the source's hand and one in the sink's, no more
  // than 6 batches can be in flight however slow the sink.
  EXPECT_LE(probe_.max_in_flight.load(), 6 * 100);
}

TEST_F(PipelineTest, StopEndsAnEndlessRunGracefully) {
  auto pipeline = Build(
      "sources: {a: {connector: counting, count: 0, batch_size: 10}}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_TRUE(pipeline.ok());
  EXPECT_FALSE((*pipeline)->bounded());
  auto summary = RunUntilWritten(**pipeline, 1000);
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_TRUE(summary->stopped);
  EXPECT_GE(summary->rows_out, 1000);
  EXPECT_EQ(summary->rows_out, summary->rows_in);  // what was read was processed, not dropped
  EXPECT_TRUE(probe_.sink_closed);
}

TEST_F(PipelineTest, InterruptedBoundedRunPublishesNothing) {
  auto pipeline = Build(
      "sources: {a: {connector: counting, count: 1000000000, batch_size: 10}}\n"
      "sinks: {one: {connector: recording}, two: {connector: recording}}\n");
  ASSERT_TRUE(pipeline.ok());
  ASSERT_TRUE((*pipeline)->bounded());
  auto summary = RunUntilWritten(**pipeline, 1000);
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_TRUE(summary->interrupted);
  EXPECT_EQ(probe_.sinks_published.load(), 0);
  EXPECT_EQ(probe_.sinks_aborted.load(), 2);
}

TEST_F(PipelineTest, OneSinkFailingToCloseAbortsEverySink) {
  auto pipeline = Build(
      "sources: {a: {connector: counting, count: 100, batch_size: 10}}\n"
      "sinks: {good: {connector: recording}, bad: {connector: recording, fail_on_close: true}}\n");
  ASSERT_TRUE(pipeline.ok());
  auto summary = (*pipeline)->Run();
  ASSERT_FALSE(summary.ok());
  EXPECT_NE(summary.status().message().find("sink 'bad': the disk is full"), std::string::npos)
      << summary.status().message();
  EXPECT_EQ(probe_.sinks_published.load(), 0);
  EXPECT_EQ(probe_.sinks_aborted.load(), 2);
}

TEST_F(PipelineTest, SourceFailureFailsTheRun) {
  auto pipeline = Build(
      "sources: {a: {connector: counting, count: 1000, batch_size: 10, fail_after: 500}}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_TRUE(pipeline.ok());
  auto summary = (*pipeline)->Run();
  ASSERT_FALSE(summary.ok());
  EXPECT_NE(summary.status().message().find("source 'a': the source broke"), std::string::npos)
      << summary.status().message();
}

TEST_F(PipelineTest, SeveralSourcesFeedOnePipeline) {
  auto pipeline = Build(
      "sources:\n  a: {connector: counting, count: 100, batch_size: 10}\n"
      "  b: {connector: counting, count: 50, batch_size: 10}\n"
      "sinks: {out: {connector: recording}, copy: {connector: recording}}\n");
  ASSERT_TRUE(pipeline.ok());
  auto summary = (*pipeline)->Run();
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->rows_in, 150);
  EXPECT_EQ(summary->rows_out, 150);
  EXPECT_EQ(probe_.values.size(), 300u);  // two sinks, each gets every row (fan-out)
}

TEST_F(PipelineTest, SourcesWithDifferentFieldsAreUnified) {
  auto pipeline = Build(
      "sources:\n  a: {connector: counting, count: 10, field: v}\n"
      "  b: {connector: counting, count: 10, field: w}\n"
      "sinks: {out: {connector: recording}}\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  EXPECT_EQ((*pipeline)->input_schema()->ToString(), "v: int64\nw: int64");
  auto summary = (*pipeline)->Run();
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(std::count(probe_.values.begin(), probe_.values.end(), -1), 10);  // b's rows have no v
}

}  // namespace
}  // namespace sluice::exec
