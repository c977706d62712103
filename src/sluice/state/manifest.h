#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::state {

/// One state file of a stage: an Arrow IPC file holding one table of its snapshot.
struct StateFile {
  std::string table;
  /// Relative to the checkpoint's folder.
  std::string path;
  int64_t size = 0;
  /// CRC-32 of the file's bytes: a damaged file is found before it is decoded.
  uint32_t crc32 = 0;
};

/// A stateful stage's part of a checkpoint.
struct StageRecord {
  /// The stage's state id: its `name`, or `<processor>` / `<processor>#<n>` (the n-th stage of
  /// that processor), which adding a stateless step does not change.
  std::string id;
  std::string processor;
  /// The stage's configuration (its YAML, keys sorted) and its input schemas: a restore needs
  /// both unchanged, since the state's meaning depends on them.
  std::string config;
  std::string input_schema;
  int64_t state_bytes = 0;
  std::map<std::string, std::string> values;
  std::vector<StateFile> files;
};

/// A source's part: what was processed of it, and where to continue.
struct SourceRecord {
  std::string name;
  /// Batches of this source processed when the checkpoint was taken.
  int64_t batches = 0;
  /// Source::PositionAfter(batches), JSON.
  std::string position = "null";
  /// Event-time bookkeeping: the latest event time of each partition, and whether it ended.
  /// A partition the source names (a Kafka `topic/partition`) is recorded by its name, since
  /// its number may differ in the next run; the others by number (the files of a glob).
  std::vector<std::pair<int32_t, int64_t>> partitions;
  std::vector<std::pair<std::string, int64_t>> named_partitions;
  bool ended = false;
};

/// A sink's pending commit (Sink::PrepareCheckpoint), JSON.
struct SinkRecord {
  std::string name;
  std::string role;
  std::string pending = "{}";
};

/// What one checkpoint holds, written as `manifest.json` in its folder, last: a checkpoint whose
/// manifest is missing or unreadable was never complete.
struct Manifest {
  static constexpr int kFormat = 1;
  int format = kFormat;
  std::string pipeline;
  int64_t id = 0;
  /// Wall-clock time it was taken, ISO 8601, for messages.
  std::string created;
  /// The pipeline's watermark (microseconds since the epoch).
  int64_t watermark = 0;
  /// Totals of the runs that led here, so that a resumed run can say what it continued from.
  int64_t rows_in = 0;
  int64_t rows_out = 0;
  int64_t dead_letters = 0;
  /// Whether every source had ended: the run that took it had finished its input.
  bool finished = false;
  /// The sink whose commit decides whether the checkpoint completed (CheckpointRole::kDeciding),
  /// empty when writing the manifest is the decision.
  std::string deciding_sink;
  std::vector<SourceRecord> sources;
  std::vector<StageRecord> stages;
  std::vector<SinkRecord> sinks;

  int64_t state_bytes() const;
  std::string ToJson() const;
  /// Parses a manifest; a damaged or foreign one is an error that says what is wrong.
  static Result<Manifest> FromJson(const std::string& text);
};

}  // namespace sluice::state
