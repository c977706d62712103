// Event time and watermarks in the pipeline driver: per-source watermarks, the minimum across
// sources, the switch from a bounded history to a live source, and rows without a usable time.
#include <arrow/api.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "sluice/config/pipeline_config.h"
#include "sluice/exec/pipeline.h"

namespace sluice::exec {
namespace {

/// What the probe stage saw, in order: each batch's event times and each watermark.
struct Observations {
  std::mutex mutex;
  std::vector<Timestamp> watermarks;
  /// Smallest event time of each batch, and the watermark in force when it arrived.
  std::vector<std::pair<Timestamp, Timestamp>> batches;
  Timestamp max_seen = kMinTimestamp;
  int64_t rows = 0;
};

Observations* g_seen = nullptr;

/// Passes batches through and records event times and watermarks.
class ProbeProcessor : public Processor {
 public:
  ProbeProcessor(std::shared_ptr<arrow::Schema> schema, int time_column)
      : schema_(std::move(schema)), time_column_(time_column) {}
  std::shared_ptr<arrow::Schema> output_schema() const override { return schema_; }
  bool stateless() const override { return false; }
  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, Emitter& out) override {
    const auto& times = static_cast<const arrow::TimestampArray&>(*batch->column(time_column_));
    Timestamp smallest = kMaxTimestamp;
    std::lock_guard lock(g_seen->mutex);
    for (int64_t i = 0; i < times.length(); ++i) {
      smallest = std::min(smallest, times.Value(i));
      g_seen->max_seen = std::max(g_seen->max_seen, times.Value(i));
    }
    g_seen->batches.emplace_back(smallest, watermark_);
    g_seen->rows += batch->num_rows();
    return out.Emit(batch);
  }
  Status OnWatermark(Timestamp watermark, Emitter&) override {
    EXPECT_GT(watermark, watermark_) << "watermarks must only move forward";
    watermark_ = watermark;
    std::lock_guard lock(g_seen->mutex);
    g_seen->watermarks.push_back(watermark);
    return Status::OK();
  }

 private:
  std::shared_ptr<arrow::Schema> schema_;
  int time_column_;
  Timestamp watermark_ = kMinTimestamp;
};

/// Two partitions: partition 0 delivers an hour of events first, then partition 1 delivers
/// events from the start of that hour. Rows carry their partition when `partitioned`.
class TwoPartitionSource : public Source {
 public:
  explicit TwoPartitionSource(bool partitioned)
      : partitioned_(partitioned),
        schema_(
            arrow::schema({arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))})) {}
  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  bool bounded() const override { return true; }
  Status Run(SourceOutput& out) override {
    if (partitioned_) out.AssignPartitions({0, 1});
    const Timestamp start = 1704067200LL * 1000000;
    for (int32_t partition : {0, 1}) {
      for (int batch = 0; batch < 10; ++batch) {
        arrow::TimestampBuilder times(schema_->field(0)->type(), arrow::default_memory_pool());
        arrow::Int32Builder partitions;
        for (int i = 0; i < 100; ++i) {
          ARROW_RETURN_NOT_OK(times.Append(start + (batch * 100 + i) * 3600000LL));
          ARROW_RETURN_NOT_OK(partitions.Append(partition));
        }
        auto batch_data = arrow::RecordBatch::Make(schema_, 100, {*times.Finish()});
        if (partitioned_) {
          ARROW_RETURN_NOT_OK(out.PushPartitioned(
              batch_data, std::static_pointer_cast<arrow::Int32Array>(*partitions.Finish())));
        } else {
          ARROW_RETURN_NOT_OK(out.Push(batch_data));
        }
      }
      if (partitioned_) out.EndPartition(partition);
    }
    return Status::OK();
  }

 private:
  bool partitioned_;
  std::shared_ptr<arrow::Schema> schema_;
};

class EventTimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_seen = &seen_;
    registry_ = BuiltinRegistry();
    registry_.AddProcessor(
        {config::PluginKind::kProcessor, "probe", "test", {}},
        [](const ProcessorContext& context, const config::Options&,
           const std::shared_ptr<arrow::Schema>& input) -> Result<std::unique_ptr<Processor>> {
          return std::make_unique<ProbeProcessor>(input,
                                                  input->GetFieldIndex(context.event_time_field));
        });
    config::PluginSpec partitions{
        config::PluginKind::kSource,
        "two_partitions",
        "test",
        {config::MakeOption("partitioned", config::OptionType::kBool, "", "true")}};
    registry_.AddSource(
        partitions,
        [](const ConnectorContext&,
           const config::Options& options) -> Result<std::unique_ptr<Source>> {
          return std::make_unique<TwoPartitionSource>(options.GetBool("partitioned"));
        });
    directory_ =
        std::filesystem::temp_directory_path() / ("sluice-event-time-" + std::to_string(getpid()));
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override {
    g_seen = nullptr;
    std::filesystem::remove_all(directory_);
  }

  Result<std::unique_ptr<Pipeline>> Build(const std::string& yaml) {
    SLUICE_ASSIGN_OR_RAISE(auto config, config::LoadPipelineText(yaml, "test.yaml", {}, registry_));
    return Pipeline::Make(config, registry_);
  }

  std::string ErrorOf(const std::string& yaml) {
    auto pipeline = Build(yaml);
    return pipeline.ok() ? "ok" : pipeline.status().message();
  }

  Observations seen_;
  Registry registry_;
  std::filesystem::path directory_;
};

constexpr Timestamp kSecond = 1000000;

TEST_F(EventTimeTest, WatermarkTrailsTheLatestEventByTheDelay) {
  // 10,000 rows 1 ms apart from 2024-01-01T00:00:00Z, in batches of 1,000, with a 2 s delay.
  auto pipeline = Build(
      "sources: {q: {connector: generator, count: 10000, batch_size: 1000, interval: 1ms,"
      " event_time: {field: ts, watermark_delay: 2s}}}\n"
      "pipeline: [{probe: {}}]\nsinks: {out: {connector: blackhole}}\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  EXPECT_EQ((*pipeline)->event_time_field(), "ts");
  auto summary = (*pipeline)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  const Timestamp start = 1704067200LL * kSecond;
  // After the first batch (ending at t = 0.999 s) the watermark is 0.999 s - 2 s; one more
  // per batch; the last real one is 9.999 s - 2 s; then the end of input sends +inf.
  ASSERT_EQ(seen_.watermarks.size(), 11u);
  EXPECT_EQ(seen_.watermarks[0], start + 999000 - 2 * kSecond);
  EXPECT_EQ(seen_.watermarks[seen_.watermarks.size() - 2], start + 9999000 - 2 * kSecond);
  EXPECT_EQ(seen_.watermarks.back(), kMaxTimestamp);
  EXPECT_EQ(seen_.rows, 10000);
}

TEST_F(EventTimeTest, TheSlowestSourceHoldsTheWatermark) {
  // Source `early` is an hour behind `late`: the watermark must follow `early` until it ends.
  auto pipeline = Build(
      "sources:\n"
      "  early: {connector: generator, count: 5000, batch_size: 500, event_time: ts}\n"
      "  late: {connector: generator, count: 5000, batch_size: 500, start: '2024-01-01T01:00:00Z', "
      "event_time: ts}\n"
      "pipeline: [{probe: {}}]\nsinks: {out: {connector: blackhole}}\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  auto summary = (*pipeline)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(summary->dead_letters, 0);
  // No batch of either source ever arrives behind the watermark: nothing would be late.
  for (const auto& [smallest, watermark] : seen_.batches) EXPECT_GE(smallest, watermark);
  EXPECT_EQ(seen_.rows, 10000);
}

TEST_F(EventTimeTest, HistoryThenLiveKeepsEveryRowOnTime) {
  // Mixed mode: a bounded history (Parquet, written by a first pipeline) and an endless live
  // generator whose events follow it. Across the switch no row may arrive behind the watermark.
  std::string history = (directory_ / "history.parquet").string();
  {
    auto writer = Build(
        "sources: {q: {connector: generator, count: 20000, batch_size: 4096, seed: 3}}\n"
        "sinks: {out: {connector: file, path: '" +
        history + "'}}\n");
    ASSERT_TRUE(writer.ok()) << writer.status().message();
    ASSERT_TRUE((*writer)->Run().ok());
  }
  auto pipeline = Build(
      "sources:\n"
      "  history: {connector: file, path: '" +
      history +
      "', batch_size: 1000,"
      " event_time: {field: ts, watermark_delay: 100ms}}\n"
      "  live: {connector: generator, rate: 20000, batch_size: 200, linger: 10ms, start: "
      "'2024-01-01T00:00:20Z',"
      " event_time: {field: ts, watermark_delay: 100ms}}\n"
      "pipeline: [{probe: {}}]\nsinks: {out: {connector: blackhole}}\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  EXPECT_FALSE((*pipeline)->bounded());
  std::thread stopper([&] {
    const Timestamp live_target = 1704067200LL * kSecond + 21 * kSecond;
    for (int i = 0; i < 3000; ++i) {
      {
        std::lock_guard lock(seen_.mutex);
        if (!seen_.watermarks.empty() && seen_.watermarks.back() > live_target) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    (*pipeline)->RequestStop();
  });
  auto summary = (*pipeline)->Run();
  stopper.join();
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(summary->dead_letters, 0);
  EXPECT_GE(summary->rows_in, 20000);
  for (const auto& [smallest, watermark] : seen_.batches) ASSERT_GE(smallest, watermark);
  // The watermark moved past the history into the live data before the stop.
  const Timestamp history_end = 1704067200LL * kSecond + 19999000;
  ASSERT_GE(seen_.watermarks.size(), 2u);
  EXPECT_GT(seen_.watermarks[seen_.watermarks.size() - 2], history_end);
}

TEST_F(EventTimeTest, EachPartitionHoldsTheWatermarkBack) {
  // Partition 1 lags an hour behind partition 0. With per-partition watermarks none of its
  // rows arrives behind the watermark; treated as one stream, all of them would.
  for (bool partitioned : {true, false}) {
    SCOPED_TRACE(partitioned ? "partitioned" : "one stream");
    seen_.batches.clear();
    seen_.watermarks.clear();
    auto pipeline = Build(std::string("sources: {p: {connector: two_partitions, partitioned: ") +
                          (partitioned ? "true" : "false") +
                          ", event_time: ts}}\n"
                          "pipeline: [{probe: {}}]\nsinks: {out: {connector: blackhole}}\n");
    ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
    auto summary = (*pipeline)->Run();
    ASSERT_TRUE(summary.ok()) << summary.status().message();
    int64_t behind = 0;
    for (const auto& [smallest, watermark] : seen_.batches) behind += smallest < watermark ? 1 : 0;
    EXPECT_EQ(behind, partitioned ? 0 : 10);
  }
}

TEST_F(EventTimeTest, RowsWithoutAUsableTimeAreDeadLetters) {
  std::string input = (directory_ / "events.csv").string();
  std::ofstream(input)
      << "id,ts\n1,2024-01-01T00:00:00Z\n2,\n3,1850-01-01T00:00:00Z\n4,2024-01-01T00:00:01Z\n";
  auto pipeline = Build("sources: {e: {connector: file, path: '" + input +
                        "', schema: {id: int64, ts: timestamp}, event_time: ts}}\n"
                        "pipeline: [{probe: {}}]\nsinks: {out: {connector: blackhole}}\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  auto summary = (*pipeline)->Run();
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(summary->dead_letters, 2);
  EXPECT_EQ(summary->rows_out, 2);
}

TEST_F(EventTimeTest, ConfigurationErrors) {
  EXPECT_EQ(ErrorOf("sources: {q: {connector: generator, event_time: {field: time}}}\nsinks: {o: "
                    "{connector: blackhole}}\n"),
            "test.yaml:1:57: error: source 'q' has no field 'time' for its event time\n"
            "  hint: expected one of: symbol, bid, ask, volume, ts");
  EXPECT_EQ(ErrorOf("sources: {q: {connector: generator, event_time: volume}}\nsinks: {o: "
                    "{connector: blackhole}}\n"),
            "test.yaml:1:49: error: event-time field 'volume' is int64, not a timestamp\n"
            "  hint: declare it in the source's schema: schema: {volume: timestamp}");
  EXPECT_NE(
      ErrorOf("sources:\n  a: {connector: generator, event_time: ts}\n  b: {connector: generator}\n"
              "sinks: {o: {connector: blackhole}}\n")
          .find("source 'b' has no event_time, but source 'a' has"),
      std::string::npos);
  EXPECT_EQ(
      ErrorOf("sources: {q: {connector: generator, event_time: {field: ts, watermark_delay: 2}}}\n"
              "sinks: {o: {connector: blackhole}}\n"),
      "test.yaml:1:78: error: watermark_delay: '2' needs a unit (ns, us, ms, s, m, h or d), e.g. "
      "2s");
}

}  // namespace
}  // namespace sluice::exec
