#include "sluice/processors/derive.h"

#include <arrow/compute/api.h>

#include "sluice/expr/expression.h"

namespace sluice::processors {
namespace {

/// Adds or replaces fields computed from expressions. Fields are derived in the order written,
/// so a later expression may use an earlier derived field.
class DeriveProcessor final : public exec::Processor {
 public:
  struct Step {
    std::string field;
    expr::CompiledExpression expression;
    /// Index of the replaced field in the schema before this step, or -1 to append.
    int replaces = -1;
  };

  DeriveProcessor(std::vector<Step> steps, std::shared_ptr<arrow::Schema> schema)
      : steps_(std::move(steps)), schema_(std::move(schema)) {}

  std::shared_ptr<arrow::Schema> output_schema() const override { return schema_; }
  bool row_wise() const override { return true; }
  bool preserves_rows() const override { return true; }

  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter& out) override {
    std::shared_ptr<arrow::RecordBatch> current = batch;
    for (const auto& step : steps_) {
      SLUICE_ASSIGN_OR_RAISE(auto column, expr::Evaluate(step.expression, *current));
      auto field = arrow::field(step.field, step.expression.type);
      if (step.replaces >= 0) {
        SLUICE_ASSIGN_OR_RAISE(current, current->SetColumn(step.replaces, field, column));
      } else {
        SLUICE_ASSIGN_OR_RAISE(current, current->AddColumn(current->num_columns(), field, column));
      }
    }
    return out.Emit(std::move(current));
  }

 private:
  std::vector<Step> steps_;
  std::shared_ptr<arrow::Schema> schema_;
};

}  // namespace

void RegisterDerive(exec::Registry* registry) {
  config::PluginSpec spec;
  spec.name = "derive";
  spec.doc =
      "Adds fields computed from expressions, or replaces fields of the same name. "
      "Later fields may use earlier ones.";
  spec.value_option = "fields";
  spec.options = {{"fields", config::OptionType::kExpressionMap,
                   "A map of field name to expression.", "", true}};
  spec.example = "- derive: {spread: \"ask - bid\", mid: \"(ask + bid) / 2\"}";
  registry->AddProcessor(
      std::move(spec),
      [](const exec::ProcessorContext&, const config::Options& options,
         const std::shared_ptr<arrow::Schema>& input) -> Result<std::unique_ptr<exec::Processor>> {
        std::vector<DeriveProcessor::Step> steps;
        std::shared_ptr<arrow::Schema> schema = input;
        for (auto& [field, text] : options.GetMap("fields")) {
          SLUICE_ASSIGN_OR_RAISE(auto expression, expr::Compile(text, *schema));
          int index = schema->GetFieldIndex(field);
          auto new_field = arrow::field(field, expression.type);
          if (index >= 0) {
            SLUICE_ASSIGN_OR_RAISE(schema, schema->SetField(index, new_field));
          } else {
            SLUICE_ASSIGN_OR_RAISE(schema, schema->AddField(schema->num_fields(), new_field));
          }
          steps.push_back({field, std::move(expression), index});
        }
        return std::make_unique<DeriveProcessor>(std::move(steps), schema);
      });
}

}  // namespace sluice::processors
