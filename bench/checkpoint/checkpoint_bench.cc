// Checkpoint cost for growing state: how long the pipeline thread pauses to snapshot a window's
// and a join's state, how long the background write of that snapshot takes, and how long a
// restore (read, verify, decode, rebuild) takes. Prints one JSON line per measurement:
//   {"benchmark":"checkpoint","stage":"window"|"join","state_bytes":…,"snapshot_bytes":…,
//    "pause_seconds":…,"write_seconds":…,"restore_seconds":…,"file_bytes":…}
//
//   checkpoint_bench [--sizes 10MB,100MB,1GB] [--dir DIR]
//
// The state is built by feeding the stage batches of rows with new keys until its
// state_bytes() reaches the target, as a long-running pipeline would. The write goes to DIR
// (default: a folder under /tmp) through the same store and fsyncs a real checkpoint does.
#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "sluice/common/byte_size.h"
#include "sluice/state/checkpoint_store.h"
#include "sluice/testing/processor_from_yaml.h"

namespace sluice::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::shared_ptr<arrow::Schema> EventSchema() {
  return arrow::schema({arrow::field("key", arrow::int64()), arrow::field("value", arrow::float64()),
                        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
}

/// `rows` events with keys [first_key, first_key + rows), all at `time` (microseconds).
std::shared_ptr<arrow::RecordBatch> Events(int64_t first_key, int64_t rows, int64_t time) {
  arrow::Int64Builder keys;
  arrow::DoubleBuilder values;
  arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                                arrow::default_memory_pool());
  (void)keys.Reserve(rows);
  (void)values.Reserve(rows);
  (void)times.Reserve(rows);
  for (int64_t i = 0; i < rows; ++i) {
    keys.UnsafeAppend(first_key + i);
    values.UnsafeAppend(static_cast<double>((first_key + i) % 1000) / 7.0);
    times.UnsafeAppend(time + i % 1000);
  }
  return arrow::RecordBatch::Make(EventSchema(), rows,
                                  {*keys.Finish(), *values.Finish(), *times.Finish()});
}

exec::ProcessorContext Context(bool join) {
  exec::ProcessorContext context;
  context.pipeline_name = "bench";
  context.event_time_field = "ts";
  context.inputs.push_back(exec::InputStream{"left", EventSchema(), "ts"});
  if (join) context.inputs.push_back(exec::InputStream{"right", EventSchema(), "ts"});
  return context;
}

Result<std::unique_ptr<exec::Processor>> MakeStage(bool join) {
  if (join) {
    return testing::ProcessorFromYaml(
        "join", "join: {left: left, right: right, on: {key: key}, interval: {lower: 0s, upper: 1h}}",
        EventSchema(), Context(true));
  }
  return testing::ProcessorFromYaml(
      "window",
      "window: {tumbling: 1h, group_by: [key], aggregate: {value: [sum, min, max, avg]}}",
      EventSchema(), Context(false));
}

Status Measure(bool join, int64_t target, const std::filesystem::path& dir) {
  SLUICE_ASSIGN_OR_RAISE(auto stage, MakeStage(join));
  exec::CollectingEmitter out;
  constexpr int64_t kBatch = 65536;
  const int64_t time = int64_t{1'700'000'000} * 1'000'000;
  int64_t key = 0;
  while (stage->state_bytes() < target) {
    SLUICE_RETURN_NOT_OK(stage->ProcessInput(0, Events(key, kBatch, time), out));
    key += kBatch;
  }
  out.batches().clear();

  auto started = Clock::now();
  SLUICE_ASSIGN_OR_RAISE(state::StateSnapshot snapshot, stage->SnapshotState());
  const double pause = Since(started);

  std::filesystem::remove_all(dir);
  SLUICE_ASSIGN_OR_RAISE(auto storage, state::OpenStorage(dir.string()));
  state::CheckpointStore store(std::move(storage), 1);
  state::CheckpointData data;
  data.manifest.pipeline = "bench";
  data.manifest.id = 1;
  state::StageRecord record;
  record.id = join ? "join" : "window";
  record.processor = record.id;
  record.values = snapshot.values;
  data.manifest.stages.push_back(record);
  const int64_t snapshot_bytes = snapshot.bytes();
  data.stages.push_back(std::move(snapshot));
  started = Clock::now();
  SLUICE_RETURN_NOT_OK(store.Write(&data));
  const double write = Since(started);
  int64_t file_bytes = 0;
  for (const auto& file : data.manifest.stages[0].files) file_bytes += file.size;

  started = Clock::now();
  SLUICE_ASSIGN_OR_RAISE(auto manifest, store.ReadManifest(1));
  SLUICE_ASSIGN_OR_RAISE(auto restored_snapshot, store.ReadStage(*manifest, manifest->stages[0]));
  SLUICE_ASSIGN_OR_RAISE(auto restored, MakeStage(join));
  SLUICE_RETURN_NOT_OK(restored->RestoreState(restored_snapshot));
  const double restore = Since(started);
  if (restored->state_bytes() <= 0) return Status::Invalid("the restored stage holds no state");

  std::printf(
      "%s\n",
      fmt::format("{{\"benchmark\":\"checkpoint\",\"stage\":\"{}\",\"keys\":{},\"state_bytes\":{},"
                  "\"snapshot_bytes\":{},\"pause_seconds\":{:.4f},\"write_seconds\":{:.4f},"
                  "\"restore_seconds\":{:.4f},\"file_bytes\":{}}}",
                  join ? "join" : "window", key, stage->state_bytes(), snapshot_bytes, pause,
                  write, restore, file_bytes)
          .c_str());
  std::fflush(stdout);
  std::filesystem::remove_all(dir);
  return Status::OK();
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  std::vector<std::string> sizes = {"10MB", "100MB", "1GB"};
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "sluice-checkpoint-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string option = argv[i];
    if (option == "--sizes") {
      sizes.clear();
      std::string list = argv[i + 1];
      for (size_t start = 0; start <= list.size();) {
        size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        sizes.push_back(list.substr(start, comma - start));
        start = comma + 1;
      }
    } else if (option == "--dir") {
      dir = argv[i + 1];
    }
  }
  if (!arrow::compute::Initialize().ok()) return 1;
  for (bool join : {false, true}) {
    for (const auto& size : sizes) {
      auto bytes = sluice::ParseByteSize(size);
      if (!bytes.ok()) {
        std::fprintf(stderr, "%s\n", bytes.status().ToString().c_str());
        return 2;
      }
      sluice::Status status = sluice::bench::Measure(join, *bytes, dir);
      if (!status.ok()) {
        std::fprintf(stderr, "%s %s: %s\n", join ? "join" : "window", size.c_str(),
                     status.ToString().c_str());
        return 1;
      }
    }
  }
  return 0;
}
