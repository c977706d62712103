#pragma once

#include <cstdint>
#include <string>

#include "sluice/common/status.h"
#include "sluice/exec/sink.h"

namespace sluice::connectors {

/// A sink that keeps rows waiting for a request to fill, and sends everything that waits
/// whenever the pipeline needs its output delivered: after each input batch (Commit()), at
/// Flush(), and at each checkpoint (PrepareCheckpoint()). Nothing stays held past a checkpoint,
/// and what was sent after it is sent again after a restart: at-least-once. Subclasses (the
/// influxdb and http sinks) implement SendPending() and Write(). Pipeline thread only.
class BatchingSink : public exec::Sink {
 public:
  exec::CheckpointRole checkpoint_role() const override {
    return exec::CheckpointRole::kAtLeastOnce;
  }

  Status Flush() override { return SendPending(); }

  Status Commit(const exec::InputDone& done) override {
    (void)done;
    return SendPending();
  }

  Result<std::string> PrepareCheckpoint(int64_t id) override {
    (void)id;
    SLUICE_RETURN_NOT_OK(SendPending());
    return std::string("{}");
  }

 protected:
  /// Sends every row that waits; an error fails the run.
  virtual Status SendPending() = 0;
};

}  // namespace sluice::connectors
