#include "sluice/processors/filter.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>

#include "sluice/expr/expression.h"

namespace sluice::processors {
namespace {

/// Keeps the rows for which a boolean expression is true (false and NULL drop the row).
class FilterProcessor final : public exec::Processor {
 public:
  FilterProcessor(expr::CompiledExpression condition, std::shared_ptr<arrow::Schema> schema)
      : condition_(std::move(condition)), schema_(std::move(schema)) {}

  std::shared_ptr<arrow::Schema> output_schema() const override { return schema_; }
  bool row_wise() const override { return true; }
  bool filters_rows() const override { return true; }
  std::shared_ptr<arrow::Array> kept_rows() const override { return kept_; }

  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter& out) override {
    kept_.reset();
    SLUICE_ASSIGN_OR_RAISE(auto mask, expr::Evaluate(condition_, *batch));
    if (mask->null_count() == 0 && mask->type_id() == arrow::Type::BOOL) {
      const auto& flags = static_cast<const arrow::BooleanArray&>(*mask);
      if (flags.true_count() == batch->num_rows()) return out.Emit(batch);
      if (flags.true_count() == 0) return Status::OK();
    }
    if (mask->type_id() != arrow::Type::BOOL) {
      // A condition of type NULL keeps nothing.
      SLUICE_ASSIGN_OR_RAISE(mask, arrow::MakeArrayOfNull(arrow::boolean(), batch->num_rows()));
    }
    kept_ = mask;
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum kept, arrow::compute::Filter(batch, mask));
    return out.Emit(kept.record_batch());
  }

 private:
  /// The mask of the last batch, when it dropped rows.
  std::shared_ptr<arrow::Array> kept_;
  expr::CompiledExpression condition_;
  std::shared_ptr<arrow::Schema> schema_;
};

}  // namespace

void RegisterFilter(exec::Registry* registry) {
  config::PluginSpec spec;
  spec.name = "filter";
  spec.doc =
      "Keeps the rows for which the condition is true; rows where it is false or NULL are dropped.";
  spec.value_option = "condition";
  spec.options = {{"condition", config::OptionType::kExpression,
                   "A boolean expression over the input fields.", "", true}};
  spec.example = "- filter: \"ask > bid AND symbol IN ('IBM', 'MSFT')\"";
  registry->AddProcessor(
      std::move(spec),
      [](const exec::ProcessorContext&, const config::Options& options,
         const std::shared_ptr<arrow::Schema>& input) -> Result<std::unique_ptr<exec::Processor>> {
        config::LocatedText text = options.GetText("condition");
        SLUICE_ASSIGN_OR_RAISE(auto condition, expr::Compile(text, *input));
        if (condition.type->id() != arrow::Type::BOOL && condition.type->id() != arrow::Type::NA) {
          return config::ConfigError(
              text.At(0),
              "a filter condition must be true or false, but this expression gives " +
                  condition.type->ToString(),
              "compare it with something, e.g. \"" + text.text + " > 0\"");
        }
        return std::make_unique<FilterProcessor>(std::move(condition), input);
      });
}

}  // namespace sluice::processors
