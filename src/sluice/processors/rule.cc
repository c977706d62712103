#include "sluice/processors/rule.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <fmt/format.h>

#include <set>

#include "sluice/common/spelling.h"
#include "sluice/expr/expression.h"

namespace sluice::processors {
namespace {

/// Evaluates named conditions on every row and emits one alert row per (row, rule) whose
/// condition is true: the rule's name, then the chosen fields of the row. Output rows follow
/// the input rows, and for one input row the rules' declared order. Keeps no state.
class RuleProcessor final : public exec::Processor {
 public:
  struct Rule {
    std::string name;
    expr::CompiledExpression condition;
  };

  RuleProcessor(std::vector<Rule> rules, std::vector<int> columns,
                std::shared_ptr<arrow::Schema> schema, std::shared_ptr<arrow::Array> names)
      : rules_(std::move(rules)),
        columns_(std::move(columns)),
        schema_(std::move(schema)),
        names_(std::move(names)) {}

  std::shared_ptr<arrow::Schema> output_schema() const override { return schema_; }
  /// An input row's alerts depend on that row alone.
  bool row_wise() const override { return true; }

  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter& out) override {
    const int64_t rows = batch->num_rows();
    if (rows == 0) return Status::OK();
    // A NULL condition (a NULL literal, or NULL inputs) raises no alert, as in a filter.
    std::vector<std::shared_ptr<arrow::BooleanArray>> fired;
    for (const auto& rule : rules_) {
      SLUICE_ASSIGN_OR_RAISE(auto mask, expr::Evaluate(rule.condition, *batch));
      if (mask->type_id() != arrow::Type::BOOL) {
        fired.push_back(nullptr);
        continue;
      }
      auto flags = std::static_pointer_cast<arrow::BooleanArray>(std::move(mask));
      fired.push_back(flags->true_count() > 0 ? std::move(flags) : nullptr);
    }
    arrow::Int64Builder row_indices;
    arrow::Int32Builder rule_indices;
    for (int64_t row = 0; row < rows; ++row) {
      for (size_t rule = 0; rule < fired.size(); ++rule) {
        const arrow::BooleanArray* flags = fired[rule].get();
        if (flags == nullptr || flags->IsNull(row) || !flags->Value(row)) continue;
        SLUICE_RETURN_NOT_OK(row_indices.Append(row));
        SLUICE_RETURN_NOT_OK(rule_indices.Append(static_cast<int32_t>(rule)));
      }
    }
    const int64_t alerts = row_indices.length();
    if (alerts == 0) return Status::OK();
    SLUICE_ASSIGN_OR_RAISE(auto row_array, row_indices.Finish());
    SLUICE_ASSIGN_OR_RAISE(auto rule_array, rule_indices.Finish());
    std::vector<std::shared_ptr<arrow::Array>> columns;
    columns.reserve(columns_.size() + 1);
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum names, arrow::compute::Take(names_, rule_array));
    columns.push_back(names.make_array());
    for (int column : columns_) {
      SLUICE_ASSIGN_OR_RAISE(arrow::Datum taken,
                             arrow::compute::Take(batch->column(column), row_array));
      columns.push_back(taken.make_array());
    }
    return out.Emit(arrow::RecordBatch::Make(schema_, alerts, std::move(columns)));
  }

 private:
  std::vector<Rule> rules_;
  std::vector<int> columns_;
  std::shared_ptr<arrow::Schema> schema_;
  /// The rules' names as a string array, indexed like rules_.
  std::shared_ptr<arrow::Array> names_;
};

}  // namespace

void RegisterRule(exec::Registry* registry) {
  config::PluginSpec spec;
  spec.name = "rule";
  spec.doc =
      "Evaluates named conditions on every row and emits an alert row for each row and rule whose "
      "condition "
      "is true: a `rule` column with the rule's name, then the chosen fields. Its output is the "
      "alert "
      "stream only; rows that raise no alert are not passed on. Alerts are ordered by input row, "
      "then by "
      "the rules' declared order.";
  config::OptionSpec rules{
      "rules", config::OptionType::kExpressionMap,
      "A map of rule name to boolean condition, evaluated in the order written.", "", true};
  config::OptionSpec fields{
      "fields", config::OptionType::kStringList,
      "The input fields each alert carries after `rule`; when left out, all of them.", ""};
  spec.options = {rules, fields};
  spec.example =
      "- rule:\n"
      "    rules: {wide_spread: \"ask - bid > 0.5\", big_trade: \"volume > 9000\"}\n"
      "    fields: [symbol, ts, bid, ask]";
  registry->AddProcessor(
      std::move(spec),
      [](const exec::ProcessorContext&, const config::Options& options,
         const std::shared_ptr<arrow::Schema>& input) -> Result<std::unique_ptr<exec::Processor>> {
        std::vector<RuleProcessor::Rule> rules;
        arrow::StringBuilder names;
        for (auto& [name, text] : options.GetMap("rules")) {
          SLUICE_ASSIGN_OR_RAISE(auto condition, expr::Compile(text, *input));
          if (condition.type->id() != arrow::Type::BOOL &&
              condition.type->id() != arrow::Type::NA) {
            return config::ConfigError(
                text.At(0),
                fmt::format("rule '{}' must be true or false, but this expression gives {}", name,
                            condition.type->ToString()),
                "compare it with something, e.g. \"" + text.text + " > 0\"");
          }
          SLUICE_RETURN_NOT_OK(names.Append(name));
          rules.push_back({name, std::move(condition)});
        }
        if (rules.empty()) {
          return config::ConfigError(options.LocationOf("rules"), "rule needs at least one rule",
                                     "e.g. rules: {wide_spread: \"ask - bid > 0.5\"}");
        }
        std::vector<int> columns;
        if (options.Has("fields")) {
          std::set<std::string> seen;
          for (const auto& name : options.GetStringList("fields")) {
            int index = input->GetFieldIndex(name);
            if (index < 0) {
              return config::ConfigError(options.LocationOf("fields"),
                                         fmt::format("unknown field '{}'", name),
                                         SpellingHint(name, input->field_names()));
            }
            if (!seen.insert(name).second) {
              return config::ConfigError(options.LocationOf("fields"),
                                         fmt::format("field '{}' is listed twice", name));
            }
            columns.push_back(index);
          }
        } else {
          for (int i = 0; i < input->num_fields(); ++i) columns.push_back(i);
        }
        arrow::FieldVector fields{arrow::field("rule", arrow::utf8(), /*nullable=*/false)};
        for (int column : columns) {
          if (input->field(column)->name() == "rule") {
            return config::ConfigError(
                options.LocationOf(options.Has("fields") ? "fields" : "rules"),
                "the alert's `rule` column would clash with the input field 'rule'",
                "rename that field before this stage, or leave it out of fields");
          }
          fields.push_back(input->field(column));
        }
        SLUICE_ASSIGN_OR_RAISE(auto name_array, names.Finish());
        return std::make_unique<RuleProcessor>(std::move(rules), std::move(columns),
                                               arrow::schema(std::move(fields)),
                                               std::move(name_array));
      });
}

}  // namespace sluice::processors
