#include "sluice/processors/grouper_rebuild.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>

namespace sluice::processors {

Result<RebuiltGrouper> RebuildGrouper(arrow::compute::Grouper& grouper,
                                      const std::vector<arrow::TypeHolder>& types,
                                      const std::vector<uint8_t>& keep, int64_t kept) {
  SLUICE_ASSIGN_OR_RAISE(arrow::compute::ExecBatch uniques, grouper.GetUniques());
  arrow::BooleanBuilder mask;
  SLUICE_RETURN_NOT_OK(mask.AppendValues(keep.data(), grouper.num_groups()));
  SLUICE_ASSIGN_OR_RAISE(auto mask_array, mask.Finish());
  std::vector<arrow::Datum> live_keys;
  for (const auto& column : uniques.values) {
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum filtered, arrow::compute::Filter(column, mask_array));
    live_keys.push_back(std::move(filtered));
  }
  arrow::compute::ExecBatch live_batch(std::move(live_keys), kept);
  RebuiltGrouper rebuilt;
  SLUICE_ASSIGN_OR_RAISE(rebuilt.grouper, arrow::compute::Grouper::Make(
                                              types, arrow::compute::default_exec_context()));
  SLUICE_ASSIGN_OR_RAISE(arrow::Datum ids,
                         rebuilt.grouper->Consume(arrow::compute::ExecSpan(live_batch)));
  const uint32_t* new_ids = ids.array()->GetValues<uint32_t>(1);
  rebuilt.new_ids.assign(new_ids, new_ids + kept);
  return rebuilt;
}

}  // namespace sluice::processors
