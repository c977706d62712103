#pragma once

// The `group_by` and `aggregate` options and their checks, declared once for every stage that
// aggregates (`window`, `aggregate`), so that all accept the same functions and name their
// columns alike.

#include <arrow/record_batch.h>
#include <arrow/type.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/location.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"
#include "sluice/exec/time.h"
#include "sluice/processors/aggregates/accumulator.h"

namespace sluice::processors::aggregates {

/// One output column `<field>_<function>`.
struct AggregateColumn {
  int field_index = -1;
  Aggregate aggregate;
  std::string output_name;
};

/// The `group_by` option; `doc` says what the keys mean to the stage.
config::OptionSpec GroupByOption(std::string doc);

/// The `aggregate` option: a map from field to the functions computed over it.
config::OptionSpec AggregateOption();

/// The output column names of one stage, claimed one by one so that no two columns share a
/// name. `stage` names the stage in the error ("the window would produce ...").
class ColumnNames {
 public:
  explicit ColumnNames(std::string stage) : stage_(std::move(stage)) {}

  /// Claims `name`; an error at `where` when an earlier column has it.
  Status Claim(const std::string& name, const config::Location& where);

 private:
  std::string stage_;
  std::set<std::string> names_;
};

/// Reads `group_by`: the indices of its fields in `input`, whose names it claims.
Result<std::vector<int>> ReadGroupBy(const config::Options& options, const arrow::Schema& input,
                                     ColumnNames* names);

/// Reads `aggregate` (when given): one column per function of each field, checked against the
/// field's type, whose names it claims. Errors point at the field or function in the file.
Result<std::vector<AggregateColumn>> ReadAggregates(const config::Options& options,
                                                    const arrow::Schema& input, ColumnNames* names);

/// The output fields of `columns` over `input`, in order.
std::vector<std::shared_ptr<arrow::Field>> AggregateFields(
    const std::vector<AggregateColumn>& columns, const arrow::Schema& input);

/// Whether a function reads its input as doubles (the others keep the input's own storage).
bool NeedsDoubles(Function function);

/// Feeds `batch` to `accumulators` (one per column of `columns`): row i goes to slot
/// slots[i] with time times[i]. Each input field is converted once, however many functions
/// read it.
Status ConsumeBatch(const std::vector<AggregateColumn>& columns,
                    const std::vector<std::unique_ptr<Accumulator>>& accumulators,
                    const arrow::RecordBatch& batch, const exec::Timestamp* times,
                    const uint32_t* slots);

}  // namespace sluice::processors::aggregates
