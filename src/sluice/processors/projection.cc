#include "sluice/processors/projection.h"

#include <fmt/format.h>

#include <set>

#include "sluice/common/spelling.h"

namespace sluice::processors {
namespace {

/// Picks columns by index and names them: the one implementation behind select, drop and rename.
/// Zero-copy: the output shares the input's column buffers.
class ProjectionProcessor final : public exec::Processor {
 public:
  ProjectionProcessor(std::vector<int> columns, std::shared_ptr<arrow::Schema> schema)
      : columns_(std::move(columns)), schema_(std::move(schema)) {}

  std::shared_ptr<arrow::Schema> output_schema() const override { return schema_; }
  bool row_wise() const override { return true; }
  bool preserves_rows() const override { return true; }

  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter& out) override {
    std::vector<std::shared_ptr<arrow::Array>> arrays;
    arrays.reserve(columns_.size());
    for (int column : columns_) arrays.push_back(batch->column(column));
    return out.Emit(arrow::RecordBatch::Make(schema_, batch->num_rows(), std::move(arrays)));
  }

 private:
  std::vector<int> columns_;
  std::shared_ptr<arrow::Schema> schema_;
};

std::vector<std::string> FieldNames(const arrow::Schema& schema) { return schema.field_names(); }

Result<int> FindField(const arrow::Schema& schema, const std::string& name,
                      const config::Location& where) {
  int index = schema.GetFieldIndex(name);
  if (index < 0) {
    if (schema.GetAllFieldIndices(name).size() > 1) {
      return config::ConfigError(
          where, fmt::format("field '{}' is ambiguous: the input has it more than once", name));
    }
    return config::ConfigError(where, fmt::format("unknown field '{}'", name),
                               SpellingHint(name, FieldNames(schema)));
  }
  return index;
}

Result<std::unique_ptr<exec::Processor>> MakeSelect(const config::Options& options,
                                                    const std::shared_ptr<arrow::Schema>& input) {
  std::vector<int> columns;
  arrow::FieldVector fields;
  std::set<std::string> seen;
  for (const auto& name : options.GetStringList("fields")) {
    SLUICE_ASSIGN_OR_RAISE(int index, FindField(*input, name, options.LocationOf("fields")));
    if (!seen.insert(name).second) {
      return config::ConfigError(options.LocationOf("fields"),
                                 fmt::format("field '{}' is selected twice", name));
    }
    columns.push_back(index);
    fields.push_back(input->field(index));
  }
  return std::make_unique<ProjectionProcessor>(std::move(columns),
                                               arrow::schema(std::move(fields)));
}

Result<std::unique_ptr<exec::Processor>> MakeDrop(const config::Options& options,
                                                  const std::shared_ptr<arrow::Schema>& input) {
  std::set<int> dropped;
  for (const auto& name : options.GetStringList("fields")) {
    SLUICE_ASSIGN_OR_RAISE(int index, FindField(*input, name, options.LocationOf("fields")));
    dropped.insert(index);
  }
  std::vector<int> columns;
  arrow::FieldVector fields;
  for (int i = 0; i < input->num_fields(); ++i) {
    if (dropped.count(i)) continue;
    columns.push_back(i);
    fields.push_back(input->field(i));
  }
  return std::make_unique<ProjectionProcessor>(std::move(columns),
                                               arrow::schema(std::move(fields)));
}

Result<std::unique_ptr<exec::Processor>> MakeRename(const config::Options& options,
                                                    const std::shared_ptr<arrow::Schema>& input) {
  arrow::FieldVector fields = input->fields();
  for (const auto& [from, to] : options.GetMap("fields")) {
    SLUICE_ASSIGN_OR_RAISE(int index, FindField(*input, from, options.LocationOf("fields")));
    fields[index] = fields[index]->WithName(to.text);
  }
  std::set<std::string> names;
  for (const auto& field : fields) {
    if (!names.insert(field->name()).second) {
      return config::ConfigError(
          options.LocationOf("fields"),
          fmt::format("after renaming, two fields are called '{}'", field->name()));
    }
  }
  std::vector<int> columns(input->num_fields());
  for (int i = 0; i < input->num_fields(); ++i) columns[i] = i;
  return std::make_unique<ProjectionProcessor>(std::move(columns),
                                               arrow::schema(std::move(fields)));
}

using Maker = Result<std::unique_ptr<exec::Processor>> (*)(const config::Options&,
                                                           const std::shared_ptr<arrow::Schema>&);

void Register(exec::Registry* registry, config::PluginSpec spec, Maker make) {
  registry->AddProcessor(
      std::move(spec),
      [make](const exec::ProcessorContext&, const config::Options& options,
             const std::shared_ptr<arrow::Schema>& input) { return make(options, input); });
}

}  // namespace

void RegisterSelect(exec::Registry* registry) {
  config::PluginSpec spec;
  spec.name = "select";
  spec.doc = "Keeps only the listed fields, in the order listed.";
  spec.value_option = "fields";
  spec.options = {{"fields", config::OptionType::kStringList, "The fields to keep.", "", true}};
  spec.example = "- select: [symbol, spread, mid]";
  Register(registry, std::move(spec), MakeSelect);
}

void RegisterDrop(exec::Registry* registry) {
  config::PluginSpec spec;
  spec.name = "drop";
  spec.doc = "Removes the listed fields.";
  spec.value_option = "fields";
  spec.options = {{"fields", config::OptionType::kStringList, "The fields to remove.", "", true}};
  spec.example = "- drop: [venue]";
  Register(registry, std::move(spec), MakeDrop);
}

void RegisterRename(exec::Registry* registry) {
  config::PluginSpec spec;
  spec.name = "rename";
  spec.doc = "Renames fields; the others keep their names and positions.";
  spec.value_option = "fields";
  spec.options = {
      {"fields", config::OptionType::kStringMap, "A map of old name to new name.", "", true}};
  spec.example = "- rename: {ts: event_time}";
  Register(registry, std::move(spec), MakeRename);
}

}  // namespace sluice::processors
