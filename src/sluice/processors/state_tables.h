#pragma once

// Reading and writing the tables and values of a stage's checkpoint (state::StateSnapshot) for
// the keyed stages (dedup, cdc, aggregate): what every one of them checks on a restore, so that
// a damaged or foreign snapshot is an error rather than a crash or silently wrong state.

#include <arrow/api.h>
#include <arrow/compute/row/grouper.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/state/state_snapshot.h"

namespace sluice::processors {

/// A new int64 array holding a copy of `values[0..length)`: a snapshot must share no buffer the
/// stage changes later.
Result<std::shared_ptr<arrow::Array>> CopyInt64Column(const int64_t* values, int64_t length);

/// The table `name` of `snapshot` as one batch, checked against `schema`: the same number of
/// columns of the same types (names are for readers of the files, not compared). An IOError
/// when the table is missing or differs: the snapshot was not made by this stage.
Result<std::shared_ptr<arrow::RecordBatch>> ReadStateTable(const state::StateSnapshot& snapshot,
                                                           const std::string& name,
                                                           const arrow::Schema& schema);

/// The values of int64 column `column` of `batch`, which must hold no NULL (IOError otherwise).
Result<const int64_t*> StateInt64Values(const arrow::RecordBatch& batch, int column);

/// Feeds the first `key_count` columns of `table` (one row per key) to the empty `grouper` and
/// returns the id it gave each row: a grouper numbers the new keys of a batch in an order of its
/// own, not always the rows'. An IOError when a key comes twice.
Result<std::vector<uint32_t>> RestoreKeys(arrow::compute::Grouper& grouper,
                                          const arrow::RecordBatch& table, int key_count);

/// The integer value `name` of `snapshot`; IOError when it is missing or not an integer.
Result<int64_t> ReadStateInteger(const state::StateSnapshot& snapshot, const std::string& name);

}  // namespace sluice::processors
