#include "sluice/formats/record_reader.h"

#include <arrow/io/file.h>
#include <arrow/type.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sluice/formats/readers_internal.h"

namespace sluice::formats {

Result<std::unique_ptr<RecordReader>> RecordReader::Open(const std::string& path, Format format,
                                                         const ReadOptions& options) {
  auto file = arrow::io::ReadableFile::Open(path);
  if (!file.ok())
    return Status::IOError(fmt::format("cannot open '{}': {}", path, file.status().message()));
  return Open(*std::move(file), path, format, options);
}

Result<std::unique_ptr<RecordReader>> RecordReader::Open(
    std::shared_ptr<arrow::io::RandomAccessFile> file, std::string name, Format format,
    const ReadOptions& options) {
  switch (format) {
    case Format::kCsv:
      return internal::OpenCsvReader(std::move(file), std::move(name), options);
    case Format::kJsonLines:
      return internal::OpenJsonLinesReader(std::move(file), std::move(name), options);
    case Format::kParquet:
      return internal::OpenParquetReader(std::move(file), std::move(name), options);
    case Format::kArrow:
      return internal::OpenArrowReader(std::move(file), std::move(name), options);
  }
  return Status::Invalid("unknown format");
}

namespace internal {

Result<std::shared_ptr<arrow::Schema>> OutputSchema(
    const std::shared_ptr<arrow::Schema>& file_schema, const ReadOptions& options) {
  if (options.schema) return options.schema;
  if (options.columns.empty()) return file_schema;
  arrow::FieldVector fields;
  for (const auto& name : options.columns) {
    auto field = file_schema->GetFieldByName(name);
    if (!field) {
      return Status::Invalid(fmt::format("no column '{}' in the input (it has: {})", name,
                                         fmt::join(file_schema->field_names(), ", ")));
    }
    fields.push_back(field);
  }
  return arrow::schema(std::move(fields));
}

BatchSourceReader::BatchSourceReader(std::string name, std::shared_ptr<arrow::Schema> schema,
                                     int64_t size, NextBatch next, BytesRead bytes_read)
    : name_(std::move(name)),
      conformer_(std::move(schema)),
      bytes_total_(size),
      next_(std::move(next)),
      measure_(std::move(bytes_read)) {}

Result<std::shared_ptr<arrow::RecordBatch>> BatchSourceReader::Next(
    std::vector<exec::DeadLetter>* rejected) {
  if (!next_) return nullptr;
  auto batch = next_();
  if (!batch.ok()) return Status::IOError(fmt::format("{}: {}", name_, batch.status().message()));
  if (*batch == nullptr) {
    next_ = nullptr;
    bytes_read_ = bytes_total_;
    return nullptr;
  }
  bytes_read_ = std::min(measure_(), bytes_total_);
  int64_t first_row = rows_seen_;
  rows_seen_ += (*batch)->num_rows();
  return conformer_.Conform(
      *batch, [&](int64_t row) { return fmt::format("{}:row {}", name_, first_row + row + 1); },
      rejected);
}

}  // namespace internal
}  // namespace sluice::formats
