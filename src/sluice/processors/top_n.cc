#include "sluice/processors/top_n.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/compute/row/grouper.h>
#include <fmt/format.h>

#include <set>

#include "sluice/common/spelling.h"

namespace sluice::processors {
namespace {

using arrow::compute::Grouper;

/// Keeps the n best rows by one field in each group of a batch. A window emits one batch per
/// firing, so after a window "per batch" means "per window".
///
/// One stable multi-key sort does the work: by group id (dense, in order of first appearance)
/// and then by the ranked field, so ties keep their input order and NULLs rank last. Keeps no
/// state between batches; the grouper is reset after each one.
class TopNProcessor final : public exec::Processor {
 public:
  TopNProcessor(std::shared_ptr<arrow::Schema> schema, int64_t n, int by_column,
                arrow::compute::SortOrder order, bool with_ties, std::vector<int> per_columns,
                std::unique_ptr<Grouper> grouper)
      : schema_(std::move(schema)),
        n_(n),
        with_ties_(with_ties),
        by_column_(by_column),
        order_(order),
        per_columns_(std::move(per_columns)),
        grouper_(std::move(grouper)) {}

  std::shared_ptr<arrow::Schema> output_schema() const override { return schema_; }

  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter& out) override {
    const int64_t rows = batch->num_rows();
    if (rows == 0) return Status::OK();
    std::shared_ptr<arrow::Array> groups;
    if (grouper_ != nullptr) {
      std::vector<arrow::Datum> keys;
      for (int column : per_columns_) keys.emplace_back(batch->column(column));
      arrow::compute::ExecBatch key_batch(std::move(keys), rows);
      SLUICE_ASSIGN_OR_RAISE(arrow::Datum ids,
                             grouper_->Consume(arrow::compute::ExecSpan(key_batch)));
      SLUICE_RETURN_NOT_OK(grouper_->Reset());
      groups = ids.make_array();
    } else {
      SLUICE_ASSIGN_OR_RAISE(groups, arrow::MakeArrayFromScalar(arrow::UInt32Scalar(0), rows));
    }
    auto ranking = arrow::RecordBatch::Make(
        arrow::schema({arrow::field("group", arrow::uint32()),
                       arrow::field("by", batch->column(by_column_)->type())}),
        rows, {groups, batch->column(by_column_)});
    arrow::compute::SortOptions sort(
        {arrow::compute::SortKey("group", arrow::compute::SortOrder::Ascending,
                                 arrow::compute::NullPlacement::AtEnd),
         arrow::compute::SortKey("by", order_, arrow::compute::NullPlacement::AtEnd)});
    SLUICE_ASSIGN_OR_RAISE(auto sorted, arrow::compute::SortIndices(arrow::Datum(ranking), sort));
    const uint64_t* order = sorted->data()->GetValues<uint64_t>(1);
    const uint32_t* group = groups->data()->GetValues<uint32_t>(1);

    arrow::UInt64Builder kept;
    SLUICE_RETURN_NOT_OK(kept.Reserve(std::min(rows, n_)));
    const arrow::Array& values = *batch->column(by_column_);
    uint32_t current = 0;
    int64_t taken = 0;
    uint64_t last_kept = 0;
    for (int64_t i = 0; i < rows; ++i) {
      const uint32_t row_group = group[order[i]];
      if (i == 0 || row_group != current) {
        current = row_group;
        taken = 0;
      }
      const bool keep =
          taken < n_ || (with_ties_ && values.RangeEquals(static_cast<int64_t>(order[i]),
                                                          static_cast<int64_t>(order[i]) + 1,
                                                          static_cast<int64_t>(last_kept), values));
      ++taken;
      if (!keep) continue;
      // A row past the n-th is kept only when it equals the n-th (rows are sorted, so it ties).
      SLUICE_RETURN_NOT_OK(kept.Append(order[i]));
      last_kept = order[i];
    }
    SLUICE_ASSIGN_OR_RAISE(auto indices, kept.Finish());
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum result, arrow::compute::Take(batch, indices));
    return out.Emit(result.record_batch());
  }

 private:
  std::shared_ptr<arrow::Schema> schema_;
  int64_t n_;
  /// Also keep the rows that tie with the n-th (SQL's FETCH FIRST n ROWS WITH TIES).
  bool with_ties_;
  int by_column_;
  arrow::compute::SortOrder order_;
  std::vector<int> per_columns_;
  /// Numbers the groups of `per` in a batch; null without `per` (the batch is one group).
  std::unique_ptr<Grouper> grouper_;
};

bool Sortable(const arrow::DataType& type) {
  return arrow::is_numeric(type.id()) || arrow::is_temporal(type.id()) ||
         arrow::is_base_binary_like(type.id()) || arrow::is_decimal(type.id()) ||
         type.id() == arrow::Type::BOOL;
}

}  // namespace

void RegisterTopN(exec::Registry* registry) {
  config::PluginSpec spec;
  spec.name = "top_n";
  spec.doc =
      "Keeps the n rows with the largest (desc) or smallest (asc) value of a field in each group "
      "of a batch; "
      "after a window, each batch is one firing, so this ranks within each window. Ties keep their "
      "input "
      "order and NULLs rank last. Groups come out in the order they first appear, best row first.";
  config::OptionSpec n{"n", config::OptionType::kInteger, "How many rows to keep per group.", "",
                       true};
  n.min = 1;
  config::OptionSpec by{"by", config::OptionType::kString, "The field to rank rows by.", "", true};
  config::OptionSpec order{"order", config::OptionType::kEnum,
                           "desc keeps the largest values, asc the smallest.", "desc"};
  order.choices = {"desc", "asc"};
  config::OptionSpec per{
      "per", config::OptionType::kStringList,
      "Fields whose values form the groups ranked separately; when left out, the whole batch "
      "is one group.",
      ""};
  config::OptionSpec with_ties = config::MakeOption(
      "with_ties", config::OptionType::kBool,
      "Also keep the rows whose value equals the n-th row's (SQL's WITH TIES), so a group can "
      "keep more than n rows.",
      "false");
  spec.options = {n, by, order, per, with_ties};
  spec.example = "- top_n: {n: 3, by: volume_sum, order: desc, per: [window_start]}";
  registry->AddProcessor(
      std::move(spec),
      [](const exec::ProcessorContext&, const config::Options& options,
         const std::shared_ptr<arrow::Schema>& input) -> Result<std::unique_ptr<exec::Processor>> {
        std::string by = options.GetString("by");
        int by_column = input->GetFieldIndex(by);
        if (by_column < 0) {
          return config::ConfigError(options.LocationOf("by"),
                                     fmt::format("unknown field '{}'", by),
                                     SpellingHint(by, input->field_names()));
        }
        if (!Sortable(*input->field(by_column)->type())) {
          return config::ConfigError(options.LocationOf("by"),
                                     fmt::format("cannot rank by '{}': {} values have no order", by,
                                                 input->field(by_column)->type()->ToString()),
                                     "rank by a number, string or time field");
        }
        std::vector<int> per_columns;
        std::vector<arrow::TypeHolder> per_types;
        std::set<std::string> seen;
        for (const auto& name : options.GetStringList("per")) {
          int index = input->GetFieldIndex(name);
          if (index < 0) {
            return config::ConfigError(options.LocationOf("per"),
                                       fmt::format("unknown field '{}'", name),
                                       SpellingHint(name, input->field_names()));
          }
          if (!seen.insert(name).second) {
            return config::ConfigError(options.LocationOf("per"),
                                       fmt::format("field '{}' is listed twice", name));
          }
          per_columns.push_back(index);
          per_types.emplace_back(input->field(index)->type());
        }
        std::unique_ptr<Grouper> grouper;
        if (!per_columns.empty()) {
          auto made = Grouper::Make(per_types, arrow::compute::default_exec_context());
          if (!made.ok()) {
            return config::ConfigError(
                options.LocationOf("per"),
                fmt::format("cannot group by these fields: {}", made.status().message()),
                "group by fields of simple types (numbers, strings, timestamps)");
          }
          grouper = std::move(*made);
        }
        auto order = options.GetString("order") == "asc" ? arrow::compute::SortOrder::Ascending
                                                         : arrow::compute::SortOrder::Descending;
        return std::make_unique<TopNProcessor>(input, options.GetInteger("n"), by_column, order,
                                               options.GetBool("with_ties"), std::move(per_columns),
                                               std::move(grouper));
      });
}

}  // namespace sluice::processors
