#include "sluice/processors/cast.h"

#include <arrow/compute/api.h>
#include <fmt/format.h>

#include "sluice/common/spelling.h"
#include "sluice/formats/type_names.h"

namespace sluice::processors {
namespace {

/// Converts fields to other types. A value that does not convert (e.g. 'abc' to int64) fails
/// the batch with a data error; the driver then isolates the row into the dead letters.
class CastProcessor final : public exec::Processor {
 public:
  struct Conversion {
    int column;
    std::shared_ptr<arrow::DataType> type;
  };

  CastProcessor(std::vector<Conversion> conversions, std::shared_ptr<arrow::Schema> schema)
      : conversions_(std::move(conversions)), schema_(std::move(schema)) {}

  std::shared_ptr<arrow::Schema> output_schema() const override { return schema_; }
  bool row_wise() const override { return true; }
  bool preserves_rows() const override { return true; }

  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter& out) override {
    std::vector<std::shared_ptr<arrow::Array>> columns = batch->columns();
    for (const auto& conversion : conversions_) {
      const auto& source = columns[conversion.column];
      auto converted =
          arrow::compute::Cast(*source, conversion.type, arrow::compute::CastOptions::Safe());
      if (!converted.ok()) {
        return Status::Invalid("cannot cast field '", schema_->field(conversion.column)->name(),
                               "' to ", formats::TypeName(*conversion.type), ": ",
                               converted.status().message());
      }
      columns[conversion.column] = *converted;
    }
    return out.Emit(arrow::RecordBatch::Make(schema_, batch->num_rows(), std::move(columns)));
  }

 private:
  std::vector<Conversion> conversions_;
  std::shared_ptr<arrow::Schema> schema_;
};

}  // namespace

void RegisterCast(exec::Registry* registry) {
  config::PluginSpec spec;
  spec.name = "cast";
  spec.doc = "Converts fields to other types; a value that does not convert becomes a dead letter.";
  spec.value_option = "fields";
  spec.options = {
      {"fields", config::OptionType::kStringMap,
       "A map of field name to type (bool, int32, int64, double, string, timestamp, date, ...).",
       "", true}};
  spec.example = "- cast: {volume: int64, ts: timestamp}";
  registry->AddProcessor(
      std::move(spec),
      [](const exec::ProcessorContext&, const config::Options& options,
         const std::shared_ptr<arrow::Schema>& input) -> Result<std::unique_ptr<exec::Processor>> {
        std::vector<CastProcessor::Conversion> conversions;
        arrow::FieldVector fields = input->fields();
        for (const auto& [name, type_text] : options.GetMap("fields")) {
          int index = input->GetFieldIndex(name);
          if (index < 0) {
            return config::ConfigError(options.LocationOf("fields"),
                                       fmt::format("unknown field '{}'", name),
                                       SpellingHint(name, input->field_names()));
          }
          auto type = formats::ParseTypeName(type_text.text);
          if (!type.ok()) return config::ConfigError(type_text.where, type.status().message());
          if (!arrow::compute::CanCast(*input->field(index)->type(), **type)) {
            return config::ConfigError(
                type_text.where,
                fmt::format("field '{}' of type {} cannot be cast to {}", name,
                            formats::TypeName(*input->field(index)->type()), type_text.text));
          }
          fields[index] = fields[index]->WithType(*type);
          conversions.push_back({index, *type});
        }
        return std::make_unique<CastProcessor>(std::move(conversions),
                                               arrow::schema(std::move(fields)));
      });
}

}  // namespace sluice::processors
