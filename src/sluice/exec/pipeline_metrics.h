#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace sluice::exec {

/// A Prometheus-style histogram of durations in seconds: cumulative counts per upper bound.
struct DurationHistogram {
  /// Upper bounds, seconds (the +Inf bucket is implicit: `count`).
  static constexpr std::array<double, 12> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,   0.5,   1,    2.5};
  /// Observations at or below each bound (not cumulative; rendering sums them).
  std::array<int64_t, kBounds.size()> buckets{};
  int64_t count = 0;
  double sum = 0;

  void Observe(double seconds);
};

/// What a running pipeline exposes as metrics: counters since the start of the process's run
/// and gauges as of the last update. Plain values: the pipeline thread fills one and hands a
/// copy to PipelineMetrics, whose readers render copies.
struct MetricsSnapshot {
  struct Source {
    std::string name;
    int64_t rows = 0;
    /// The source's event-time watermark, Unix seconds; unset without event time or before
    /// the first row.
    std::optional<double> watermark_seconds;
    /// The latest event time seen per partition (name, Unix seconds).
    std::vector<std::pair<std::string, double>> partitions;
  };
  struct Stage {
    std::string name;
    int64_t rows_in = 0;
    int64_t rows_out = 0;
    int64_t state_bytes = 0;
  };
  struct Sink {
    std::string name;
    int64_t rows = 0;
  };
  /// Dead letters counted by the stage that rejected them and a reason class: "late",
  /// "damaged" (input skipped whole) or "error".
  struct DeadLetters {
    std::string stage;
    std::string reason;
    int64_t count = 0;
  };

  std::string pipeline;
  std::vector<Source> sources;
  std::vector<Stage> stages;
  std::vector<Sink> sinks;
  std::vector<DeadLetters> dead_letters;
  /// The pipeline's watermark (the minimum over its sources), Unix seconds.
  std::optional<double> watermark_seconds;
  int64_t batches = 0;
  /// Items in the sources' queue over its capacity: 1 means the sources wait for the pipeline.
  double queue_fill_ratio = 0;
  DurationHistogram batch_duration;
  /// The pipeline thread's pause to snapshot each checkpoint.
  DurationHistogram checkpoint_duration;
  int64_t checkpoints = 0;
  /// When the last checkpoint completed, Unix seconds; unset before the first one.
  std::optional<double> last_checkpoint_seconds;
  /// When the run started, Unix seconds.
  double started_seconds = 0;
  /// The pipeline is running: its sources started and it has not finished.
  bool running = false;
};

/// Renders `snapshot` in the Prometheus text exposition format 0.0.4. `now_seconds` (Unix
/// time) gives the ages and lags that are relative to the scrape.
std::string RenderPrometheus(const MetricsSnapshot& snapshot, double now_seconds);

/// Escapes a label value for the text format: backslash, double quote and line feed.
std::string EscapeLabelValue(const std::string& value);

/// Unix time now, seconds.
double UnixSeconds();

/// The metrics of one pipeline, shared between the pipeline thread (Publish(), per batch or
/// tick — never per row) and readers on other threads (Snapshot(), e.g. an HTTP scrape).
/// Thread-safe.
class PipelineMetrics {
 public:
  void Publish(const MetricsSnapshot& snapshot) {
    std::lock_guard lock(mutex_);
    snapshot_ = snapshot;
  }
  void SetRunning(bool running) {
    std::lock_guard lock(mutex_);
    snapshot_.running = running;
  }
  MetricsSnapshot Snapshot() const {
    std::lock_guard lock(mutex_);
    return snapshot_;
  }
  bool running() const {
    std::lock_guard lock(mutex_);
    return snapshot_.running;
  }

 private:
  mutable std::mutex mutex_;
  MetricsSnapshot snapshot_;
};

}  // namespace sluice::exec
