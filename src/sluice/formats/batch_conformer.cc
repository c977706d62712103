#include "sluice/formats/batch_conformer.h"

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/compute/api.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <arrow/util/checked_cast.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "sluice/formats/json_row_encoder.h"
#include "sluice/formats/time_text.h"
#include "sluice/formats/type_names.h"
#include "sluice/formats/value_text.h"

namespace sluice::formats {
namespace {

using arrow::internal::checked_cast;

bool IsText(arrow::Type::type id) {
  return id == arrow::Type::STRING || id == arrow::Type::LARGE_STRING;
}
bool IsBinary(arrow::Type::type id) {
  return id == arrow::Type::BINARY || id == arrow::Type::LARGE_BINARY;
}

/// A text view of a binary column without copying: the layouts are the same.
std::shared_ptr<arrow::Array> AsText(const std::shared_ptr<arrow::Array>& values) {
  auto data = values->data()->Copy();
  data->type = values->type_id() == arrow::Type::BINARY ? arrow::utf8() : arrow::large_utf8();
  return arrow::MakeArray(std::move(data));
}

template <typename ArrayType, typename Parse>
Result<std::shared_ptr<arrow::Array>> ConvertTextToTime(
    const arrow::Array& values, const std::shared_ptr<arrow::DataType>& type, Parse parse) {
  const auto& strings = checked_cast<const ArrayType&>(values);
  std::unique_ptr<arrow::ArrayBuilder> builder;
  SLUICE_RETURN_NOT_OK(arrow::MakeBuilder(arrow::default_memory_pool(), type, &builder));
  SLUICE_RETURN_NOT_OK(builder->Reserve(values.length()));
  for (int64_t i = 0; i < values.length(); ++i) {
    if (strings.IsNull(i)) {
      SLUICE_RETURN_NOT_OK(builder->AppendNull());
      continue;
    }
    std::string_view text = strings.GetView(i);
    auto parsed = parse(text);
    if (!parsed) return Status::Invalid(fmt::format("'{}' is not a {}", text, TypeName(*type)));
    if constexpr (std::is_same_v<decltype(*parsed), int32_t&>) {
      SLUICE_RETURN_NOT_OK(checked_cast<arrow::Date32Builder&>(*builder).Append(*parsed));
    } else {
      SLUICE_RETURN_NOT_OK(checked_cast<arrow::TimestampBuilder&>(*builder).Append(*parsed));
    }
  }
  return builder->Finish();
}

/// Epoch numbers to timestamp[us] in `unit`, or by magnitude (see EpochToMicros).
Result<std::shared_ptr<arrow::Array>> ConvertNumbersToTimestamp(
    const std::shared_ptr<arrow::Array>& values, const std::shared_ptr<arrow::DataType>& type,
    std::optional<arrow::TimeUnit::type> unit) {
  bool floating = arrow::is_floating(values->type_id());
  SLUICE_ASSIGN_OR_RAISE(
      auto widened, arrow::compute::Cast(*values, floating ? arrow::float64() : arrow::int64()));
  arrow::TimestampBuilder builder(type, arrow::default_memory_pool());
  SLUICE_RETURN_NOT_OK(builder.Reserve(values->length()));
  for (int64_t i = 0; i < widened->length(); ++i) {
    if (widened->IsNull(i)) {
      SLUICE_RETURN_NOT_OK(builder.AppendNull());
      continue;
    }
    std::optional<int64_t> micros =
        floating ? EpochToMicros(checked_cast<const arrow::DoubleArray&>(*widened).Value(i), unit)
                 : EpochToMicros(checked_cast<const arrow::Int64Array&>(*widened).Value(i), unit);
    if (!micros) return Status::Invalid("epoch time out of range");
    SLUICE_RETURN_NOT_OK(builder.Append(*micros));
  }
  return builder.Finish();
}

/// `batch` with binary columns shown as text, for messages: CSV fields arrive as binary.
std::shared_ptr<arrow::RecordBatch> Displayable(const std::shared_ptr<arrow::RecordBatch>& batch) {
  arrow::FieldVector fields;
  std::vector<std::shared_ptr<arrow::Array>> columns;
  for (int i = 0; i < batch->num_columns(); ++i) {
    auto column =
        IsBinary(batch->column(i)->type_id()) ? AsText(batch->column(i)) : batch->column(i);
    fields.push_back(arrow::field(batch->schema()->field(i)->name(), column->type()));
    columns.push_back(std::move(column));
  }
  return arrow::RecordBatch::Make(arrow::schema(std::move(fields)), batch->num_rows(),
                                  std::move(columns));
}

std::string ShortText(const std::shared_ptr<arrow::Array>& column, int64_t row) {
  auto values = IsBinary(column->type_id()) ? AsText(column) : column;
  if (values->IsNull(row)) return "null";
  std::string text;
  AppendPlainValue(*values, row, &text);
  constexpr size_t kLimit = 80;
  if (text.size() > kLimit) {
    text.resize(kLimit);
    text += "...";
  }
  return text;
}

/// Appends to `bad` the rows of values[offset, offset + length) that do not convert.
void FindBadRows(const std::shared_ptr<arrow::Array>& values,
                 const std::shared_ptr<arrow::DataType>& type, const TimeReading& time,
                 int64_t offset, int64_t length, std::vector<int64_t>* bad) {
  if (length == 0 || ConvertColumn(values->Slice(offset, length), type, time).ok()) return;
  if (length == 1) {
    bad->push_back(offset);
    return;
  }
  int64_t half = length / 2;
  FindBadRows(values, type, time, offset, half, bad);
  FindBadRows(values, type, time, offset + half, length - half, bad);
}

}  // namespace

Result<std::shared_ptr<arrow::Array>> ConvertColumn(const std::shared_ptr<arrow::Array>& values,
                                                    const std::shared_ptr<arrow::DataType>& type,
                                                    const TimeReading& time) {
  if (values->type()->Equals(*type)) return values;
  arrow::Type::type from = values->type_id();
  if (IsBinary(from) && !IsText(type->id())) return ConvertColumn(AsText(values), type, time);
  if (IsText(from) && type->id() == arrow::Type::TIMESTAMP) {
    const auto& timestamp = checked_cast<const arrow::TimestampType&>(*type);
    auto micros_type = arrow::timestamp(arrow::TimeUnit::MICRO, timestamp.timezone());
    auto parse = [&time](std::string_view text) { return ParseTimestampText(text, time); };
    std::shared_ptr<arrow::Array> converted;
    if (from == arrow::Type::STRING) {
      SLUICE_ASSIGN_OR_RAISE(converted,
                             ConvertTextToTime<arrow::StringArray>(*values, micros_type, parse));
    } else {
      SLUICE_ASSIGN_OR_RAISE(
          converted, ConvertTextToTime<arrow::LargeStringArray>(*values, micros_type, parse));
    }
    return ConvertColumn(converted, type);
  }
  if (IsText(from) && type->id() == arrow::Type::DATE32) {
    auto parse = [&time](std::string_view text) { return ParseDateText(text, time); };
    if (from == arrow::Type::STRING)
      return ConvertTextToTime<arrow::StringArray>(*values, type, parse);
    return ConvertTextToTime<arrow::LargeStringArray>(*values, type, parse);
  }
  if ((arrow::is_integer(from) || arrow::is_floating(from)) &&
      type->id() == arrow::Type::TIMESTAMP) {
    const auto& timestamp = checked_cast<const arrow::TimestampType&>(*type);
    auto micros_type = arrow::timestamp(arrow::TimeUnit::MICRO, timestamp.timezone());
    SLUICE_ASSIGN_OR_RAISE(auto converted,
                           ConvertNumbersToTimestamp(values, micros_type, time.epoch_unit));
    return ConvertColumn(converted, type);
  }
  SLUICE_ASSIGN_OR_RAISE(auto cast,
                         arrow::compute::Cast(*values, type, arrow::compute::CastOptions::Safe()));
  return cast;
}

Result<std::shared_ptr<arrow::DataType>> InferTextType(
    const std::shared_ptr<arrow::Array>& values) {
  std::shared_ptr<arrow::Array> text = IsBinary(values->type_id()) ? AsText(values) : values;
  if (text->null_count() == text->length() || text->type_id() != arrow::Type::STRING)
    return arrow::utf8();
  if (ConvertColumn(text, arrow::int64()).ok()) return arrow::int64();
  const auto& strings = checked_cast<const arrow::StringArray&>(*text);
  if (ConvertColumn(text, arrow::float64()).ok()) {
    // Whole numbers that int64 refused are too large for it: a double would round them.
    std::string_view too_large;
    for (int64_t i = 0; i < strings.length(); ++i) {
      if (strings.IsNull(i)) continue;
      std::string_view value = strings.GetView(i);
      std::string_view digits =
          value.substr(!value.empty() && (value[0] == '-' || value[0] == '+'));
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos)
        return arrow::float64();
      if (too_large.empty()) {
        auto as_int = ConvertColumn(text->Slice(i, 1), arrow::int64());
        if (!as_int.ok()) too_large = value;
      }
    }
    return Status::Invalid(fmt::format(
        "whole numbers beyond the int64 range (e.g. {}) cannot be inferred as a type without "
        "losing digits; declare the column in schema as double or string",
        too_large));
  }
  bool all_bool = true;
  bool all_time = true;
  bool any_timestamp = false;
  for (int64_t i = 0; i < strings.length() && (all_bool || all_time); ++i) {
    if (strings.IsNull(i)) continue;
    std::string_view value = strings.GetView(i);
    if (all_bool) {
      std::string lowered(value);
      std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      all_bool = lowered == "true" || lowered == "false";
    }
    if (all_time) {
      TimeTextKind kind = ClassifyTimeText(value);
      all_time = kind != TimeTextKind::kNone;
      any_timestamp = any_timestamp || kind == TimeTextKind::kTimestamp;
    }
  }
  if (all_bool) return arrow::boolean();
  if (all_time) return any_timestamp ? TimestampType() : arrow::date32();
  return arrow::utf8();
}

BatchConformer::BatchConformer(std::shared_ptr<arrow::Schema> target, TimeReadings times)
    : target_(std::move(target)) {
  for (const auto& field : target_->fields()) times_.push_back(times.For(field->name()));
}

Result<std::shared_ptr<arrow::RecordBatch>> BatchConformer::Conform(
    const std::shared_ptr<arrow::RecordBatch>& batch, const RowOrigin& origin,
    std::vector<exec::DeadLetter>* rejected) const {
  if (batch->schema()->Equals(*target_, /*check_metadata=*/false)) return batch;
  const int64_t num_rows = batch->num_rows();
  std::vector<std::shared_ptr<arrow::Array>> columns(static_cast<size_t>(target_->num_fields()));
  std::vector<std::shared_ptr<arrow::Array>> sources(columns.size());
  std::map<int64_t, std::string> bad_rows;  // row → reason, in row order
  for (int i = 0; i < target_->num_fields(); ++i) {
    const auto& field = target_->field(i);
    int index = batch->schema()->GetFieldIndex(field->name());
    if (index < 0 && i < batch->num_columns() &&
        batch->schema()->field(i)->name() == field->name()) {
      index = i;  // a repeated name (e.g. two empty CSV headers) is matched by position
    }
    if (index < 0) {
      SLUICE_ASSIGN_OR_RAISE(columns[static_cast<size_t>(i)],
                             arrow::MakeArrayOfNull(field->type(), num_rows));
      continue;
    }
    sources[static_cast<size_t>(i)] = batch->column(index);
    const TimeReading& time = times_[static_cast<size_t>(i)];
    auto converted = ConvertColumn(batch->column(index), field->type(), time);
    if (converted.ok()) {
      columns[static_cast<size_t>(i)] = *std::move(converted);
      continue;
    }
    std::vector<int64_t> bad;
    FindBadRows(batch->column(index), field->type(), time, 0, num_rows, &bad);
    if (bad.empty()) return converted.status();  // fails as a whole only: not a per-value problem
    for (int64_t row : bad) {
      std::string reason =
          fmt::format("field '{}': cannot convert '{}' to {}", field->name(),
                      ShortText(batch->column(index), row), TypeName(*field->type()));
      auto [it, inserted] = bad_rows.emplace(row, reason);
      if (!inserted) it->second += "; " + reason;
    }
  }
  if (bad_rows.empty()) return arrow::RecordBatch::Make(target_, num_rows, std::move(columns));

  auto shown = Displayable(batch);
  // Kept bytes: the dead letters escape them (DeadLettersToBatch), so the evidence stays exact.
  JsonRowEncoder encoder(*shown->schema(), InvalidUtf8::kKeep);
  arrow::BooleanBuilder keep;
  SLUICE_RETURN_NOT_OK(keep.Reserve(num_rows));
  auto next_bad = bad_rows.begin();
  for (int64_t row = 0; row < num_rows; ++row) {
    bool is_bad = next_bad != bad_rows.end() && next_bad->first == row;
    keep.UnsafeAppend(!is_bad);
    if (!is_bad) continue;
    exec::DeadLetter letter;
    letter.reason = std::move(next_bad->second);
    letter.origin = origin ? origin(row) : fmt::format("row {}", row + 1);
    encoder.AppendRow(*shown, row, &letter.record);
    rejected->push_back(std::move(letter));
    ++next_bad;
  }
  SLUICE_ASSIGN_OR_RAISE(auto mask, keep.Finish());
  for (size_t i = 0; i < columns.size(); ++i) {
    // A column that failed is converted again from its surviving source rows; the others are
    // filtered as converted.
    const auto& input = columns[i] ? columns[i] : sources[i];
    SLUICE_ASSIGN_OR_RAISE(auto filtered, arrow::compute::Filter(input, mask));
    columns[i] = filtered.make_array();
    if (!columns[i]->type()->Equals(*target_->field(static_cast<int>(i))->type())) {
      SLUICE_ASSIGN_OR_RAISE(
          columns[i],
          ConvertColumn(columns[i], target_->field(static_cast<int>(i))->type(), times_[i]));
    }
  }
  int64_t kept = num_rows - static_cast<int64_t>(bad_rows.size());
  return arrow::RecordBatch::Make(target_, kept, std::move(columns));
}

}  // namespace sluice::formats
