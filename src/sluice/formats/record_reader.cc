#include "sluice/formats/record_reader.h"

#include <arrow/io/file.h>
#include <arrow/type.h>
#include <fmt/format.h>

#include "sluice/formats/readers_internal.h"

namespace sluice::formats {

Result<std::unique_ptr<RecordReader>> RecordReader::Open(const std::string& path, Format format,
                                                         const ReadOptions& options) {
  auto file = arrow::io::ReadableFile::Open(path);
  if (!file.ok()) return Status::IOError(fmt::format("cannot open '{}': {}", path, file.status().message()));
  return Open(*std::move(file), path, format, options);
}

Result<std::unique_ptr<RecordReader>> RecordReader::Open(std::shared_ptr<arrow::io::RandomAccessFile> file,
                                                         std::string name, Format format,
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

Result<std::shared_ptr<arrow::Schema>> OutputSchema(const std::shared_ptr<arrow::Schema>& file_schema,
                                                    const ReadOptions& options) {
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

}  // namespace internal
}  // namespace sluice::formats
