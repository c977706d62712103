#include "sluice/exec/pipeline_metrics.h"

#include <gtest/gtest.h>

namespace sluice::exec {
namespace {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(PipelineMetricsTest, EscapesLabelValues) {
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(PipelineMetricsTest, HistogramBucketsAreCumulative) {
  DurationHistogram histogram;
  histogram.Observe(0.0001);
  histogram.Observe(0.003);
  histogram.Observe(100);
  MetricsSnapshot snapshot;
  snapshot.batch_duration = histogram;
  const std::string text = RenderPrometheus(snapshot, 0);
  EXPECT_TRUE(Contains(text, "sluice_batch_duration_seconds_bucket{le=\"0.0005\"} 1\n")) << text;
  EXPECT_TRUE(Contains(text, "sluice_batch_duration_seconds_bucket{le=\"0.0025\"} 1\n"));
  EXPECT_TRUE(Contains(text, "sluice_batch_duration_seconds_bucket{le=\"0.005\"} 2\n"));
  EXPECT_TRUE(Contains(text, "sluice_batch_duration_seconds_bucket{le=\"2.5\"} 2\n"));
  EXPECT_TRUE(Contains(text, "sluice_batch_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
  EXPECT_TRUE(Contains(text, "sluice_batch_duration_seconds_count 3\n"));
  EXPECT_TRUE(Contains(text, "# TYPE sluice_batch_duration_seconds histogram\n"));
}

TEST(PipelineMetricsTest, RendersEveryFamilyWithHelpAndType) {
  MetricsSnapshot snapshot;
  snapshot.pipeline = "orders";
  snapshot.running = true;
  MetricsSnapshot::Source source;
  source.name = "in\"put";
  source.rows = 42;
  source.watermark_seconds = 1000;
  source.partitions = {{"p0", 1001}};
  snapshot.sources.push_back(source);
  snapshot.stages.push_back({"window", 42, 7, 4096});
  snapshot.sinks.push_back({"out", 7});
  snapshot.dead_letters.push_back({"source", "error", 3});
  snapshot.queue_fill_ratio = 0.25;
  snapshot.watermark_seconds = 999.5;
  snapshot.last_checkpoint_seconds = 1005;
  const std::string text = RenderPrometheus(snapshot, 1010);
  EXPECT_TRUE(Contains(text, "sluice_source_rows_total{source=\"in\\\"put\"} 42\n")) << text;
  EXPECT_TRUE(Contains(text, "sluice_watermark_seconds{source=\"in\\\"put\"} 1000\n"));
  EXPECT_TRUE(Contains(text, "sluice_event_time_lag_seconds{source=\"in\\\"put\"} 10\n"));
  EXPECT_TRUE(Contains(text,
                       "sluice_partition_event_time_seconds{source=\"in\\\"put\",partition=\"p0\"}"
                       " 1001\n"));
  EXPECT_TRUE(Contains(text, "sluice_stage_rows_in_total{stage=\"window\"} 42\n"));
  EXPECT_TRUE(Contains(text, "sluice_stage_rows_out_total{stage=\"window\"} 7\n"));
  EXPECT_TRUE(Contains(text, "sluice_state_bytes{stage=\"window\"} 4096\n"));
  EXPECT_TRUE(Contains(text, "sluice_sink_rows_total{sink=\"out\"} 7\n"));
  EXPECT_TRUE(Contains(text, "sluice_dead_letters_total{stage=\"source\",reason=\"error\"} 3\n"));
  EXPECT_TRUE(Contains(text, "sluice_queue_fill_ratio 0.25\n"));
  EXPECT_TRUE(Contains(text, "sluice_pipeline_watermark_seconds 999.5\n"));
  EXPECT_TRUE(Contains(text, "sluice_last_checkpoint_age_seconds 5\n"));
  EXPECT_TRUE(Contains(text, "sluice_pipeline_running 1\n"));
  EXPECT_TRUE(Contains(text, "sluice_pipeline_info{pipeline=\"orders\"} 1\n"));
  // Every sample's family has HELP and TYPE lines before it.
  size_t position = 0;
  while ((position = text.find("# TYPE ", position)) != std::string::npos) {
    const size_t end = text.find(' ', position + 7);
    const std::string name = text.substr(position + 7, end - position - 7);
    EXPECT_TRUE(Contains(text, "# HELP " + name + " ")) << name;
    position = end;
  }
  EXPECT_EQ(text.back(), '\n');
}

TEST(PipelineMetricsTest, NoCheckpointAgeBeforeTheFirstCheckpoint) {
  const std::string text = RenderPrometheus(MetricsSnapshot{}, 10);
  EXPECT_FALSE(Contains(text, "sluice_last_checkpoint_age_seconds"));
  EXPECT_TRUE(Contains(text, "sluice_pipeline_running 0\n"));
}

TEST(PipelineMetricsTest, SnapshotIsACopy) {
  PipelineMetrics metrics;
  MetricsSnapshot snapshot;
  snapshot.batches = 5;
  metrics.Publish(snapshot);
  metrics.SetRunning(true);
  EXPECT_EQ(metrics.Snapshot().batches, 5);
  EXPECT_TRUE(metrics.running());
}

}  // namespace
}  // namespace sluice::exec
