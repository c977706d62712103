#include <arrow/array.h>
#include <arrow/array/util.h>
#include <arrow/c/abi.h>
#include <arrow/c/bridge.h>
#include <arrow/type.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <string>
#include <utility>

#include "sluice/duckdb/arrow_scan_internal.h"

namespace sluice::duckdb::internal {

namespace {

/// Owns a C schema and the DuckDB conversion information derived from it.
class ConvertedSchema {
 public:
  ConvertedSchema() = default;
  ~ConvertedSchema() {
    if (converted_ != nullptr) duckdb_destroy_arrow_converted_schema(&converted_);
    if (c_schema_.release != nullptr) c_schema_.release(&c_schema_);
  }
  ConvertedSchema(const ConvertedSchema&) = delete;
  ConvertedSchema& operator=(const ConvertedSchema&) = delete;

  Status Convert(duckdb_connection conversion, const arrow::Schema& schema) {
    if (conversion == nullptr)
      return Status::Invalid("the connection that registered this Arrow data is closed");
    SLUICE_RETURN_NOT_OK(arrow::ExportSchema(schema, &c_schema_));
    return ConsumeErrorData(duckdb_schema_from_arrow(conversion, &c_schema_, &converted_),
                            "reading an Arrow schema");
  }

  /// Wraps `batch` (of the converted schema, at most one DuckDB vector long) as a DuckDB data
  /// chunk whose vectors point into the batch's buffers.
  Result<duckdb_data_chunk> Wrap(duckdb_connection conversion,
                                 const arrow::RecordBatch& batch) const {
    if (conversion == nullptr)
      return Status::Invalid("the connection that registered this Arrow data is closed");
    struct ArrowArray c_array {};
    SLUICE_RETURN_NOT_OK(arrow::ExportRecordBatch(batch, &c_array));
    duckdb_data_chunk chunk = nullptr;
    Status status =
        ConsumeErrorData(duckdb_data_chunk_from_arrow(conversion, &c_array, converted_, &chunk),
                         "reading Arrow data");
    // On success DuckDB has taken the array over (and cleared `release`); on failure it is ours.
    if (c_array.release != nullptr) c_array.release(&c_array);
    if (!status.ok()) {
      if (chunk != nullptr) duckdb_destroy_data_chunk(&chunk);
      return status;
    }
    return chunk;
  }

 private:
  struct ArrowSchema c_schema_ {};
  duckdb_arrow_converted_schema converted_ = nullptr;
};

std::string DescribeException() {
  try {
    throw;
  } catch (const std::exception& error) {
    return error.what();
  } catch (...) {
    return "unknown exception";
  }
}

/// Whether `batch` can be read as `schema`: the same column names and types. Nullability and
/// metadata may differ, as they do between stages that agree on the data.
bool SameColumns(const arrow::Schema& batch, const arrow::Schema& schema) {
  if (&batch == &schema) return true;
  if (batch.num_fields() != schema.num_fields()) return false;
  for (int i = 0; i < schema.num_fields(); ++i) {
    if (batch.field(i)->name() != schema.field(i)->name() ||
        !batch.field(i)->type()->Equals(*schema.field(i)->type())) {
      return false;
    }
  }
  return true;
}

/// What DuckDB keeps for one bound reference to a registered name.
struct BindData {
  std::shared_ptr<ArrowScanSource> source;
};

/// The state of one scan: which columns DuckDB asked for and how far it has read.
class ScanState {
 public:
  ScanState(std::shared_ptr<ArrowScanRegistry> registry, std::shared_ptr<ArrowScanSource> source)
      : registry_(std::move(registry)), source_(std::move(source)) {}

  Status Init(duckdb_init_info info) {
    const auto& schema = *source_->schema();
    const idx_t count = duckdb_init_get_column_count(info);
    arrow::FieldVector fields;
    for (idx_t i = 0; i < count; ++i) {
      const idx_t index = duckdb_init_get_column_index(info, i);
      if (index >= static_cast<idx_t>(schema.num_fields())) {
        return Status::NotImplemented("DuckDB asked an Arrow scan for virtual column ", index);
      }
      projection_.push_back(static_cast<int>(index));
      fields.push_back(schema.field(static_cast<int>(index)));
    }
    projected_schema_ = arrow::schema(std::move(fields));
    if (!projection_.empty()) {
      SLUICE_RETURN_NOT_OK(registry_->WithConversion([&](duckdb_connection conversion) {
        return converted_.Convert(conversion, *projected_schema_);
      }));
    }
    SLUICE_ASSIGN_OR_RAISE(snapshot_, source_->TakeSnapshot());
    return Status::OK();
  }

  /// Fills `output` with the next vector's worth of rows; leaves it empty at the end.
  Status Fill(duckdb_data_chunk output) {
    SLUICE_ASSIGN_OR_RAISE(bool more, Advance());
    if (!more) {
      duckdb_data_chunk_set_size(output, 0);
      return Status::OK();
    }
    const int64_t length = std::min<int64_t>(static_cast<int64_t>(duckdb_vector_size()),
                                             current_->num_rows() - offset_);
    if (!projection_.empty()) {
      arrow::ArrayVector columns;
      columns.reserve(projection_.size());
      for (int index : projection_)
        columns.push_back(current_->column(index)->Slice(offset_, length));
      auto slice = arrow::RecordBatch::Make(projected_schema_, length, std::move(columns));
      SLUICE_ASSIGN_OR_RAISE(duckdb_data_chunk chunk,
                             registry_->WithConversion([&](duckdb_connection conversion) {
                               return converted_.Wrap(conversion, *slice);
                             }));
      for (idx_t column = 0; column < projection_.size(); ++column) {
        duckdb_vector_reference_vector(duckdb_data_chunk_get_vector(output, column),
                                       duckdb_data_chunk_get_vector(chunk, column));
      }
      duckdb_destroy_data_chunk(&chunk);
    }
    duckdb_data_chunk_set_size(output, static_cast<idx_t>(length));
    offset_ += length;
    return Status::OK();
  }

 private:
  /// Moves to a batch with rows left; false at the end of the data.
  Result<bool> Advance() {
    while (current_ == nullptr || offset_ >= current_->num_rows()) {
      offset_ = 0;
      if (next_batch_ < snapshot_.batches.size()) {
        current_ = snapshot_.batches[next_batch_++];
      } else if (snapshot_.reader != nullptr) {
        SLUICE_RETURN_NOT_OK(snapshot_.reader->ReadNext(&current_));
        if (current_ == nullptr) {
          snapshot_.reader.reset();
          return false;
        }
        if (!SameColumns(*current_->schema(), *source_->schema())) {
          return Status::Invalid("an Arrow reader produced a batch of schema ",
                                 current_->schema()->ToString(), ", not its declared ",
                                 source_->schema()->ToString());
        }
      } else {
        current_.reset();
        return false;
      }
    }
    return true;
  }

  const std::shared_ptr<ArrowScanRegistry> registry_;
  const std::shared_ptr<ArrowScanSource> source_;
  std::vector<int> projection_;
  std::shared_ptr<arrow::Schema> projected_schema_;
  ConvertedSchema converted_;
  ArrowScanSource::Snapshot snapshot_;
  size_t next_batch_ = 0;
  std::shared_ptr<arrow::RecordBatch> current_;
  int64_t offset_ = 0;
};

std::shared_ptr<ArrowScanRegistry>& RegistryOf(void* extra_info) {
  return *static_cast<std::shared_ptr<ArrowScanRegistry>*>(extra_info);
}

// The three callbacks are entered from DuckDB's C++ code: nothing may be thrown through them.

void Bind(duckdb_bind_info info) {
  try {
    duckdb_value parameter = duckdb_bind_get_parameter(info, 0);
    char* text = duckdb_get_varchar(parameter);
    std::string name = text != nullptr ? text : "";
    if (text != nullptr) duckdb_free(text);
    duckdb_destroy_value(&parameter);

    auto source = RegistryOf(duckdb_bind_get_extra_info(info))->Find(name);
    if (source == nullptr) {
      duckdb_bind_set_error(info, ("no Arrow data is registered as '" + name + "'").c_str());
      return;
    }
    const auto& schema = *source->schema();
    for (int i = 0; i < schema.num_fields(); ++i) {
      duckdb_bind_add_result_column(info, schema.field(i)->name().c_str(),
                                    source->types()[i].get());
    }
    duckdb_bind_set_bind_data(info, new BindData{std::move(source)},
                              [](void* data) { delete static_cast<BindData*>(data); });
  } catch (...) {
    duckdb_bind_set_error(info, ("Arrow scan: " + DescribeException()).c_str());
  }
}

void Init(duckdb_init_info info) {
  try {
    auto* bind_data = static_cast<BindData*>(duckdb_init_get_bind_data(info));
    auto state = std::make_unique<ScanState>(RegistryOf(duckdb_init_get_extra_info(info)),
                                             bind_data->source);
    Status status = state->Init(info);
    if (!status.ok()) {
      duckdb_init_set_error(info, status.message().c_str());
      return;
    }
    duckdb_init_set_init_data(info, state.release(),
                              [](void* data) { delete static_cast<ScanState*>(data); });
  } catch (...) {
    duckdb_init_set_error(info, ("Arrow scan: " + DescribeException()).c_str());
  }
}

void Scan(duckdb_function_info info, duckdb_data_chunk output) {
  try {
    Status status = static_cast<ScanState*>(duckdb_function_get_init_data(info))->Fill(output);
    if (!status.ok()) duckdb_function_set_error(info, status.message().c_str());
  } catch (...) {
    duckdb_function_set_error(info, ("Arrow scan: " + DescribeException()).c_str());
  }
}

std::atomic<uint64_t> next_function_id{0};

}  // namespace

Result<std::shared_ptr<ArrowScanSource>> ArrowScanSource::Make(
    duckdb_connection conversion, std::shared_ptr<arrow::Schema> schema) {
  if (schema->num_fields() == 0)
    return Status::Invalid("DuckDB cannot read Arrow data without columns");
  // Converting an empty batch tells which DuckDB type each column becomes, and whether DuckDB
  // can read them at all, before any query refers to the data.
  ConvertedSchema converted;
  SLUICE_RETURN_NOT_OK(converted.Convert(conversion, *schema));
  arrow::ArrayVector columns;
  for (const auto& field : schema->fields()) {
    SLUICE_ASSIGN_OR_RAISE(auto column, arrow::MakeEmptyArray(field->type()));
    columns.push_back(std::move(column));
  }
  auto empty = arrow::RecordBatch::Make(schema, 0, std::move(columns));
  SLUICE_ASSIGN_OR_RAISE(duckdb_data_chunk chunk, converted.Wrap(conversion, *empty));
  std::vector<LogicalType> types;
  for (int i = 0; i < schema->num_fields(); ++i) {
    types.emplace_back(
        duckdb_vector_get_column_type(duckdb_data_chunk_get_vector(chunk, static_cast<idx_t>(i))));
  }
  duckdb_destroy_data_chunk(&chunk);
  return std::shared_ptr<ArrowScanSource>(new ArrowScanSource(std::move(schema), std::move(types)));
}

Status ArrowScanSource::SetBatches(std::vector<std::shared_ptr<arrow::RecordBatch>> batches) {
  for (const auto& batch : batches) {
    if (batch == nullptr) return Status::Invalid("cannot register a null record batch");
    if (!SameColumns(*batch->schema(), *schema_)) {
      return Status::Invalid("record batch of schema ", batch->schema()->ToString(),
                             " registered where ", schema_->ToString(), " was declared");
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  batches_ = std::move(batches);
  reader_.reset();
  reader_mode_ = false;
  return Status::OK();
}

Status ArrowScanSource::SetReader(std::shared_ptr<arrow::RecordBatchReader> reader) {
  if (reader == nullptr) return Status::Invalid("cannot register a null record batch reader");
  if (!SameColumns(*reader->schema(), *schema_)) {
    return Status::Invalid("reader of schema ", reader->schema()->ToString(), " registered where ",
                           schema_->ToString(), " was declared");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  batches_.clear();
  reader_ = std::move(reader);
  reader_mode_ = true;
  return Status::OK();
}

Result<ArrowScanSource::Snapshot> ArrowScanSource::TakeSnapshot() {
  std::lock_guard<std::mutex> lock(mutex_);
  Snapshot snapshot;
  if (reader_mode_) {
    if (reader_ == nullptr) {
      return Status::Invalid(
          "an Arrow reader can be scanned only once, and this one was already read");
    }
    snapshot.reader = std::move(reader_);
  } else {
    snapshot.batches = batches_;
  }
  return snapshot;
}

void ArrowScanRegistry::Add(const std::string& name, std::shared_ptr<ArrowScanSource> source) {
  std::lock_guard<std::mutex> lock(mutex_);
  sources_[name] = std::move(source);
}

void ArrowScanRegistry::Remove(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  sources_.erase(name);
}

std::shared_ptr<ArrowScanSource> ArrowScanRegistry::Find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = sources_.find(name);
  return it == sources_.end() ? nullptr : it->second;
}

void ArrowScanRegistry::Close() {
  std::lock_guard<std::mutex> lock(mutex_);
  sources_.clear();
  conversion_ = nullptr;
}

Result<std::string> RegisterArrowScanFunction(duckdb_connection connection,
                                              std::shared_ptr<ArrowScanRegistry> registry) {
  std::string name = "sluice_arrow_scan_" + std::to_string(next_function_id.fetch_add(1));
  duckdb_table_function function = duckdb_create_table_function();
  duckdb_table_function_set_name(function, name.c_str());
  LogicalType varchar(duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR));
  duckdb_table_function_add_parameter(function, varchar.get());
  duckdb_table_function_set_extra_info(
      function, new std::shared_ptr<ArrowScanRegistry>(std::move(registry)),
      [](void* data) { delete static_cast<std::shared_ptr<ArrowScanRegistry>*>(data); });
  duckdb_table_function_set_bind(function, Bind);
  duckdb_table_function_set_init(function, Init);
  duckdb_table_function_set_function(function, Scan);
  duckdb_table_function_supports_projection_pushdown(function, true);
  const duckdb_state state = duckdb_register_table_function(connection, function);
  duckdb_destroy_table_function(&function);
  if (state != DuckDBSuccess)
    return Status::UnknownError("DuckDB: cannot register table function ", name);
  return name;
}

}  // namespace sluice::duckdb::internal
