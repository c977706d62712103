#include "sluice/formats/json_row_encoder.h"

#include <arrow/record_batch.h>
#include <arrow/type.h>

#include <algorithm>

namespace sluice::formats {

JsonRowEncoder::JsonRowEncoder(const arrow::Schema& schema, InvalidUtf8 invalid)
    : invalid_(invalid) {
  keys_.reserve(static_cast<size_t>(schema.num_fields()));
  for (const auto& field : schema.fields()) {
    std::string key;
    AppendJsonString(field->name(), &key, invalid_);
    key.push_back(':');
    keys_.push_back(std::move(key));
  }
}

void JsonRowEncoder::AppendRow(const arrow::RecordBatch& batch, int64_t row,
                               std::string* out) const {
  out->push_back('{');
  int num_columns = std::min(batch.num_columns(), static_cast<int>(keys_.size()));
  for (int column = 0; column < num_columns; ++column) {
    if (column > 0) out->push_back(',');
    out->append(keys_[static_cast<size_t>(column)]);
    AppendJsonValue(*batch.column(column), row, out, invalid_);
  }
  out->push_back('}');
}

}  // namespace sluice::formats
