#include "sluice/processors/emit.h"

#include <arrow/compute/api.h>
#include <fmt/format.h>

#include <cctype>
#include <set>

#include "sluice/expr/expression.h"

namespace sluice::processors {
namespace {

std::string_view Trim(std::string_view text, size_t* leading) {
  size_t begin = 0;
  while (begin < text.size() && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  size_t end = text.size();
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  *leading = begin;
  return text.substr(begin, end - begin);
}

/// Finds a trailing " AS name" at top level; returns the position of "AS" or npos.
size_t FindAlias(std::string_view item) {
  size_t end = item.size();
  size_t name_begin = end;
  while (name_begin > 0 && (std::isalnum(static_cast<unsigned char>(item[name_begin - 1])) ||
                            item[name_begin - 1] == '_')) {
    --name_begin;
  }
  if (name_begin == end || name_begin < 4) return std::string_view::npos;
  size_t as_end = name_begin;
  while (as_end > 0 && std::isspace(static_cast<unsigned char>(item[as_end - 1]))) --as_end;
  if (as_end == name_begin || as_end < 3) return std::string_view::npos;
  std::string_view keyword = item.substr(as_end - 2, 2);
  if (!((keyword[0] == 'a' || keyword[0] == 'A') && (keyword[1] == 's' || keyword[1] == 'S'))) {
    return std::string_view::npos;
  }
  if (!std::isspace(static_cast<unsigned char>(item[as_end - 3]))) return std::string_view::npos;
  return as_end - 2;
}

/// Projects expressions, then keeps the rows where `having` is true.
class EmitProcessor final : public exec::Processor {
 public:
  EmitProcessor(std::vector<expr::CompiledExpression> columns,
                std::shared_ptr<arrow::Schema> schema,
                std::optional<expr::CompiledExpression> having)
      : columns_(std::move(columns)), schema_(std::move(schema)), having_(std::move(having)) {}

  std::shared_ptr<arrow::Schema> output_schema() const override { return schema_; }
  bool row_wise() const override { return true; }

  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter& out) override {
    std::vector<std::shared_ptr<arrow::Array>> arrays;
    arrays.reserve(columns_.size());
    for (const auto& column : columns_) {
      SLUICE_ASSIGN_OR_RAISE(auto array, expr::Evaluate(column, *batch));
      arrays.push_back(std::move(array));
    }
    auto projected = arrow::RecordBatch::Make(schema_, batch->num_rows(), std::move(arrays));
    if (!having_) return out.Emit(std::move(projected));
    SLUICE_ASSIGN_OR_RAISE(auto mask, expr::Evaluate(*having_, *projected));
    SLUICE_ASSIGN_OR_RAISE(arrow::Datum kept, arrow::compute::Filter(projected, mask));
    return out.Emit(kept.record_batch());
  }

 private:
  std::vector<expr::CompiledExpression> columns_;
  std::shared_ptr<arrow::Schema> schema_;
  std::optional<expr::CompiledExpression> having_;
};

}  // namespace

Result<std::vector<SelectItem>> ParseSelectList(const config::LocatedText& text) {
  std::vector<SelectItem> items;
  const std::string& source = text.text;
  int depth = 0;
  char quote = 0;
  size_t start = 0;
  for (size_t i = 0; i <= source.size(); ++i) {
    char c = i < source.size() ? source[i] : ',';
    if (quote != 0) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (c == ',' && depth <= 0) {
      size_t leading = 0;
      std::string_view item = Trim(std::string_view(source).substr(start, i - start), &leading);
      size_t offset = start + leading;
      if (item.empty()) return config::ConfigError(text.At(offset), "empty item in select list");
      SelectItem parsed;
      if (item == "*") {
        parsed.star = true;
      } else if (size_t alias = FindAlias(item); alias != std::string_view::npos) {
        size_t unused = 0;
        std::string_view expression = Trim(item.substr(0, alias), &unused);
        size_t name_leading = 0;
        std::string_view name = Trim(item.substr(alias + 2), &name_leading);
        parsed.expression = config::LocatedText{std::string(expression), text.At(offset), false};
        parsed.name = std::string(name);
      } else {
        parsed.expression = config::LocatedText{std::string(item), text.At(offset), false};
        parsed.name = std::string(item);
        if (item.size() >= 2 && item.front() == '"' && item.back() == '"')
          parsed.name = std::string(item.substr(1, item.size() - 2));
      }
      items.push_back(std::move(parsed));
      start = i + 1;
    }
  }
  if (quote != 0) return config::ConfigError(text.At(0), "unterminated quote in select list");
  return items;
}

Result<std::unique_ptr<exec::Processor>> MakeEmit(const config::Options& options,
                                                  const std::shared_ptr<arrow::Schema>& input) {
  std::vector<expr::CompiledExpression> columns;
  arrow::FieldVector fields;
  std::set<std::string> names;
  auto add = [&](expr::CompiledExpression compiled, const std::string& name,
                 const config::Location& where) -> Status {
    if (!names.insert(name).second) {
      return config::ConfigError(where, fmt::format("the output has two columns called '{}'", name),
                                 "name one of them with AS");
    }
    fields.push_back(arrow::field(name, compiled.type));
    columns.push_back(std::move(compiled));
    return Status::OK();
  };
  if (options.Has("select")) {
    SLUICE_ASSIGN_OR_RAISE(auto items, ParseSelectList(options.GetText("select")));
    for (const auto& item : items) {
      if (item.star) {
        for (const auto& field : input->fields()) {
          SLUICE_ASSIGN_OR_RAISE(auto compiled,
                                 expr::Compile(config::LocatedText{"\"" + field->name() + "\"",
                                                                   options.LocationOf("select")},
                                               *input));
          SLUICE_RETURN_NOT_OK(
              add(std::move(compiled), field->name(), options.LocationOf("select")));
        }
        continue;
      }
      SLUICE_ASSIGN_OR_RAISE(auto compiled, expr::Compile(item.expression, *input));
      SLUICE_RETURN_NOT_OK(add(std::move(compiled), item.name, item.expression.where));
    }
  } else {
    for (const auto& field : input->fields()) {
      SLUICE_ASSIGN_OR_RAISE(
          auto compiled,
          expr::Compile(config::LocatedText{"\"" + field->name() + "\"", options.where()}, *input));
      SLUICE_RETURN_NOT_OK(add(std::move(compiled), field->name(), options.where()));
    }
  }
  auto schema = arrow::schema(std::move(fields));
  std::optional<expr::CompiledExpression> having;
  if (options.Has("having")) {
    config::LocatedText text = options.GetText("having");
    SLUICE_ASSIGN_OR_RAISE(auto condition, expr::Compile(text, *schema));
    if (condition.type->id() != arrow::Type::BOOL && condition.type->id() != arrow::Type::NA) {
      return config::ConfigError(text.At(0),
                                 "'having' must be a condition (true or false), but it gives " +
                                     condition.type->ToString());
    }
    having = std::move(condition);
  }
  return std::make_unique<EmitProcessor>(std::move(columns), std::move(schema), std::move(having));
}

}  // namespace sluice::processors
