#pragma once

#include <arrow/buffer.h>
#include <arrow/table.h>

#include <memory>

#include "sluice/common/status.h"
#include "sluice/state/state_snapshot.h"

namespace sluice::state {

/// `table` as one Arrow IPC file (uncompressed: state is written often and read once).
Result<std::shared_ptr<arrow::Buffer>> EncodeTable(const arrow::Table& table);

/// A table from the bytes of an Arrow IPC file written by EncodeTable(). A damaged file is an
/// IOError, never a crash.
Result<std::shared_ptr<arrow::Table>> DecodeTable(const std::shared_ptr<arrow::Buffer>& bytes);

/// `snapshot` encoded and decoded again, as a restore after a checkpoint sees it: tests restore
/// from this, so that state that does not survive a round trip through files fails them.
Result<StateSnapshot> RoundTrip(const StateSnapshot& snapshot);

}  // namespace sluice::state
