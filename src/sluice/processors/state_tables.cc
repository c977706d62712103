#include "sluice/processors/state_tables.h"

#include <arrow/compute/exec.h>

#include <charconv>
#include <cstring>

namespace sluice::processors {

Result<std::shared_ptr<arrow::Array>> CopyInt64Column(const int64_t* values, int64_t length) {
  SLUICE_ASSIGN_OR_RAISE(auto buffer,
                         arrow::AllocateBuffer(length * static_cast<int64_t>(sizeof(int64_t))));
  if (length > 0) std::memcpy(buffer->mutable_data(), values, length * sizeof(int64_t));
  return std::make_shared<arrow::Int64Array>(length, std::move(buffer));
}

Result<std::shared_ptr<arrow::RecordBatch>> ReadStateTable(const state::StateSnapshot& snapshot,
                                                           const std::string& name,
                                                           const arrow::Schema& schema) {
  std::shared_ptr<arrow::Table> table = snapshot.Table(name);
  if (table == nullptr) return Status::IOError("the state has no table '", name, "'");
  if (table->num_columns() != schema.num_fields()) {
    return Status::IOError("the state table '", name, "' has ", table->num_columns(),
                           " columns, not ", schema.num_fields());
  }
  for (int i = 0; i < schema.num_fields(); ++i) {
    if (!table->column(i)->type()->Equals(*schema.field(i)->type())) {
      return Status::IOError("column ", i, " of the state table '", name, "' is ",
                             table->column(i)->type()->ToString(), ", not ",
                             schema.field(i)->type()->ToString());
    }
  }
  return table->CombineChunksToBatch();
}

Result<const int64_t*> StateInt64Values(const arrow::RecordBatch& batch, int column) {
  const auto& array = *batch.column(column);
  if (array.type_id() != arrow::Type::INT64 || array.null_count() > 0) {
    return Status::IOError("the state column '", batch.schema()->field(column)->name(),
                           "' is not a column of int64 values without NULL");
  }
  return static_cast<const arrow::Int64Array&>(array).raw_values();
}

Result<std::vector<uint32_t>> RestoreKeys(arrow::compute::Grouper& grouper,
                                          const arrow::RecordBatch& table, int key_count) {
  const int64_t rows = table.num_rows();
  if (rows == 0) return std::vector<uint32_t>();
  std::vector<arrow::Datum> keys;
  for (int i = 0; i < key_count; ++i) keys.emplace_back(table.column(i));
  arrow::compute::ExecBatch batch(std::move(keys), rows);
  SLUICE_ASSIGN_OR_RAISE(arrow::Datum ids, grouper.Consume(arrow::compute::ExecSpan(batch)));
  if (static_cast<int64_t>(grouper.num_groups()) != rows) {
    return Status::IOError("the state holds a key more than once");
  }
  const uint32_t* values = ids.array()->GetValues<uint32_t>(1);
  return std::vector<uint32_t>(values, values + rows);
}

Result<int64_t> ReadStateInteger(const state::StateSnapshot& snapshot, const std::string& name) {
  auto found = snapshot.values.find(name);
  if (found == snapshot.values.end()) return Status::IOError("the state has no value '", name, "'");
  const std::string& text = found->second;
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return Status::IOError("the state value '", name, "' is not an integer: '", text, "'");
  }
  return value;
}

}  // namespace sluice::processors
