#include "sluice/exec/pipeline_metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::exec {

void DurationHistogram::Observe(double seconds) {
  auto bound = std::lower_bound(kBounds.begin(), kBounds.end(), seconds);
  if (bound != kBounds.end()) ++buckets[static_cast<size_t>(bound - kBounds.begin())];
  ++count;
  sum += seconds;
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

double UnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

/// Appends to a text-format page, one metric family at a time.
class Exposition {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  /// One sample; `labels` are (name, value) pairs, values escaped here.
  void Sample(std::string_view name,
              std::initializer_list<std::pair<std::string_view, std::string>> labels,
              double value) {
    out_ += name;
    if (labels.size() > 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [label, text] : labels) {
        if (!first) out_ += ',';
        first = false;
        fmt::format_to(std::back_inserter(out_), "{}=\"{}\"", label, EscapeLabelValue(text));
      }
      out_ += '}';
    }
    fmt::format_to(std::back_inserter(out_), " {}\n", value);
  }
  void Sample(std::string_view name, double value) { Sample(name, {}, value); }
  void Histogram(std::string_view name, const DurationHistogram& histogram) {
    int64_t cumulative = 0;
    const std::string bucket = fmt::format("{}_bucket", name);
    for (size_t i = 0; i < DurationHistogram::kBounds.size(); ++i) {
      cumulative += histogram.buckets[i];
      Sample(bucket, {{"le", fmt::format("{}", DurationHistogram::kBounds[i])}},
             static_cast<double>(cumulative));
    }
    Sample(bucket, {{"le", "+Inf"}}, static_cast<double>(histogram.count));
    Sample(fmt::format("{}_sum", name), histogram.sum);
    Sample(fmt::format("{}_count", name), static_cast<double>(histogram.count));
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string RenderPrometheus(const MetricsSnapshot& snapshot, double now_seconds) {
  Exposition out;
  out.Family("sluice_pipeline_info", "gauge", "The pipeline this process runs (always 1).");
  out.Sample("sluice_pipeline_info", {{"pipeline", snapshot.pipeline}}, 1);
  out.Family("sluice_pipeline_running", "gauge",
             "1 while the pipeline runs (its sources started and it has not finished).");
  out.Sample("sluice_pipeline_running", snapshot.running ? 1 : 0);
  out.Family("sluice_pipeline_start_time_seconds", "gauge",
             "When the run started, Unix time in seconds.");
  out.Sample("sluice_pipeline_start_time_seconds", snapshot.started_seconds);

  out.Family("sluice_source_rows_total", "counter", "Rows read from each source.");
  for (const auto& source : snapshot.sources)
    out.Sample("sluice_source_rows_total", {{"source", source.name}},
               static_cast<double>(source.rows));
  out.Family("sluice_watermark_seconds", "gauge",
             "Event-time watermark of each source, Unix time in seconds (sources with event "
             "time, after their first row).");
  for (const auto& source : snapshot.sources) {
    if (source.watermark_seconds)
      out.Sample("sluice_watermark_seconds", {{"source", source.name}}, *source.watermark_seconds);
  }
  out.Family("sluice_event_time_lag_seconds", "gauge",
             "How far each source's watermark is behind the wall clock at the scrape, seconds.");
  for (const auto& source : snapshot.sources) {
    if (source.watermark_seconds)
      out.Sample("sluice_event_time_lag_seconds", {{"source", source.name}},
                 now_seconds - *source.watermark_seconds);
  }
  out.Family("sluice_pipeline_watermark_seconds", "gauge",
             "The watermark handed to the steps (the minimum over the sources), Unix time in "
             "seconds; windows up to it have fired.");
  if (snapshot.watermark_seconds)
    out.Sample("sluice_pipeline_watermark_seconds", *snapshot.watermark_seconds);
  out.Family("sluice_partition_event_time_seconds", "gauge",
             "The latest event time read from each partition of a source, Unix time in seconds.");
  for (const auto& source : snapshot.sources) {
    for (const auto& [partition, seconds] : source.partitions)
      out.Sample("sluice_partition_event_time_seconds",
                 {{"source", source.name}, {"partition", partition}}, seconds);
  }

  out.Family("sluice_stage_rows_in_total", "counter", "Rows handed to each pipeline step.");
  for (const auto& stage : snapshot.stages)
    out.Sample("sluice_stage_rows_in_total", {{"stage", stage.name}},
               static_cast<double>(stage.rows_in));
  out.Family("sluice_stage_rows_out_total", "counter", "Rows each pipeline step emitted.");
  for (const auto& stage : snapshot.stages)
    out.Sample("sluice_stage_rows_out_total", {{"stage", stage.name}},
               static_cast<double>(stage.rows_out));
  out.Family("sluice_state_bytes", "gauge",
             "State each step holds (windows, joins, dedup keys), bytes.");
  for (const auto& stage : snapshot.stages)
    out.Sample("sluice_state_bytes", {{"stage", stage.name}},
               static_cast<double>(stage.state_bytes));

  out.Family("sluice_sink_rows_total", "counter", "Rows each sink wrote.");
  for (const auto& sink : snapshot.sinks)
    out.Sample("sluice_sink_rows_total", {{"sink", sink.name}}, static_cast<double>(sink.rows));
  out.Family("sluice_dead_letters_total", "counter",
             "Dead letters by the stage that rejected them and reason (late, damaged, error).");
  for (const auto& letters : snapshot.dead_letters)
    out.Sample("sluice_dead_letters_total", {{"stage", letters.stage}, {"reason", letters.reason}},
               static_cast<double>(letters.count));

  out.Family("sluice_queue_fill_ratio", "gauge",
             "Fill of the queue between the sources and the pipeline (0 to 1); near 1 the "
             "sources wait for the pipeline (backpressure).");
  out.Sample("sluice_queue_fill_ratio", snapshot.queue_fill_ratio);
  out.Family("sluice_batches_total", "counter", "Source batches processed.");
  out.Sample("sluice_batches_total", static_cast<double>(snapshot.batches));
  out.Family("sluice_batch_duration_seconds", "histogram",
             "Time to process one source batch through every step and sink, seconds.");
  out.Histogram("sluice_batch_duration_seconds", snapshot.batch_duration);

  out.Family("sluice_checkpoints_total", "counter", "Checkpoints completed by this run.");
  out.Sample("sluice_checkpoints_total", static_cast<double>(snapshot.checkpoints));
  out.Family("sluice_checkpoint_duration_seconds", "histogram",
             "Pause of the pipeline to snapshot each checkpoint (writing goes on in the "
             "background), seconds.");
  out.Histogram("sluice_checkpoint_duration_seconds", snapshot.checkpoint_duration);
  if (snapshot.last_checkpoint_seconds) {
    out.Family("sluice_last_checkpoint_age_seconds", "gauge",
               "Time since the last checkpoint completed, seconds.");
    out.Sample("sluice_last_checkpoint_age_seconds",
               now_seconds - *snapshot.last_checkpoint_seconds);
  }
  return out.Take();
}

}  // namespace sluice::exec
