// The pipeline's metrics: counters kept by the pipeline thread, published as snapshots.
#include <fmt/format.h>

#include "sluice/exec/pipeline.h"

namespace sluice::exec {

namespace {

double ToSeconds(Timestamp micros) { return static_cast<double>(micros) / 1e6; }

/// The class of a dead letter's reason, a bounded label set: free-text reasons would make a
/// series per distinct message.
const char* ReasonClass(const DeadLetter& letter) {
  if (letter.skipped_rows > 0 || letter.skipped_bytes > 0) return "damaged";
  if (letter.reason.rfind("late", 0) == 0) return "late";
  return "error";
}

}  // namespace

void Pipeline::StartMetrics() {
  source_rows_.assign(sources_.size(), 0);
  stage_rows_in_.assign(stages_.size(), 0);
  stream_rows_delivered_.assign(streams_.size(), 0);
  dead_letter_counts_.clear();
  metrics_work_ = MetricsSnapshot{};
  metrics_work_.pipeline = name_;
  metrics_work_.started_seconds = UnixSeconds();
  metrics_work_.sources.resize(sources_.size());
  for (size_t i = 0; i < sources_.size(); ++i) metrics_work_.sources[i].name = source_names_[i];
  metrics_work_.stages.resize(stages_.size());
  for (size_t i = 0; i < stages_.size(); ++i) metrics_work_.stages[i].name = stages_[i].id;
  metrics_work_.sinks.resize(sinks_.size());
  for (size_t i = 0; i < sinks_.size(); ++i) metrics_work_.sinks[i].name = sinks_[i].name;
}

void Pipeline::CountDeadLetters(const std::vector<DeadLetter>& letters) {
  for (const auto& letter : letters) {
    ++dead_letter_counts_[{letter.stage.empty() ? std::string("source") : letter.stage,
                           ReasonClass(letter)}];
  }
}

void Pipeline::PublishMetrics(double queue_fill_ratio, bool running) {
  MetricsSnapshot& work = metrics_work_;
  const auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < sources_.size() && i < work.sources.size(); ++i) {
    MetricsSnapshot::Source& source = work.sources[i];
    source.rows = source_rows_[i];
    source.watermark_seconds.reset();
    source.partitions.clear();
    const SourceClock& clock = clocks_[i];
    if (!clock.has_event_time) continue;
    // As ComputeWatermark(): the minimum over partitions that are not idle, unknown while one
    // of them has delivered nothing.
    Timestamp watermark = kMaxTimestamp;
    for (const auto& [id, partition] : clock.partitions) {
      if (partition.max_event != kMinTimestamp) {
        auto named = clock.partition_names.find(id);
        source.partitions.emplace_back(
            named != clock.partition_names.end() ? named->second : std::to_string(id),
            ToSeconds(partition.max_event));
      }
      const bool idle =
          clock.idle_timeout.count() > 0 && now - partition.last_data > clock.idle_timeout;
      if (idle) continue;
      watermark = std::min(watermark, partition.max_event == kMinTimestamp
                                          ? kMinTimestamp
                                          : partition.max_event - clock.delay_us);
    }
    // A source without partitions reports one (-1): its latest event time is the source's.
    if (source.partitions.size() == 1 && clock.partitions.size() == 1 &&
        clock.partitions.begin()->first == -1) {
      source.partitions.clear();
    }
    if (watermark != kMinTimestamp && watermark != kMaxTimestamp)
      source.watermark_seconds = ToSeconds(watermark);
  }
  for (size_t i = 0; i < stages_.size() && i < work.stages.size(); ++i) {
    work.stages[i].rows_in = stage_rows_in_[i];
    work.stages[i].rows_out = stream_rows_delivered_[stages_[i].output];
    work.stages[i].state_bytes = stages_[i].processor->state_bytes();
  }
  for (size_t i = 0; i < sinks_.size() && i < work.sinks.size(); ++i)
    work.sinks[i].rows = sink_rows_[i];
  if (work.dead_letters.size() != dead_letter_counts_.size()) {
    work.dead_letters.clear();
    for (const auto& [key, count] : dead_letter_counts_)
      work.dead_letters.push_back({key.first, key.second, count});
  } else {
    size_t i = 0;
    for (const auto& [key, count] : dead_letter_counts_) work.dead_letters[i++].count = count;
  }
  const Timestamp watermark = progress_watermark_.load();
  work.watermark_seconds.reset();
  if (!processor_context_.event_time_field.empty() && watermark != kMinTimestamp &&
      watermark != kMaxTimestamp) {
    work.watermark_seconds = ToSeconds(watermark);
  }
  work.batches = batches_;
  work.queue_fill_ratio = queue_fill_ratio;
  work.running = running;
  metrics_->Publish(work);
}

}  // namespace sluice::exec
