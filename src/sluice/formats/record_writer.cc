#include "sluice/formats/record_writer.h"

#include <arrow/io/file.h>
#include <arrow/io/interfaces.h>
#include <arrow/ipc/writer.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <fmt/format.h>
#include <parquet/arrow/writer.h>
#include <parquet/properties.h>

#include <map>

#include "sluice/formats/writers_internal.h"

namespace sluice::formats {
namespace {

class ParquetWriter final : public RecordWriter {
 public:
  ParquetWriter(std::shared_ptr<arrow::io::OutputStream> stream,
                std::unique_ptr<parquet::arrow::FileWriter> writer)
      : stream_(std::move(stream)), writer_(std::move(writer)) {}

  Status Write(const arrow::RecordBatch& batch) override {
    try {
      return writer_->WriteRecordBatch(batch);
    } catch (const std::exception& error) {
      return Status::IOError(error.what());
    }
  }

  Status Close() override {
    try {
      SLUICE_RETURN_NOT_OK(writer_->Close());
    } catch (const std::exception& error) {
      return Status::IOError(error.what());
    }
    return stream_->Close();
  }

 private:
  std::shared_ptr<arrow::io::OutputStream> stream_;
  std::unique_ptr<parquet::arrow::FileWriter> writer_;
};

class ArrowWriter final : public RecordWriter {
 public:
  ArrowWriter(std::shared_ptr<arrow::io::OutputStream> stream,
              std::shared_ptr<arrow::ipc::RecordBatchWriter> writer)
      : stream_(std::move(stream)), writer_(std::move(writer)) {}

  Status Write(const arrow::RecordBatch& batch) override {
    return writer_->WriteRecordBatch(batch);
  }

  Status Close() override {
    SLUICE_RETURN_NOT_OK(writer_->Close());
    return stream_->Close();
  }

 private:
  std::shared_ptr<arrow::io::OutputStream> stream_;
  std::shared_ptr<arrow::ipc::RecordBatchWriter> writer_;
};

Result<std::unique_ptr<RecordWriter>> OpenParquetWriter(
    std::shared_ptr<arrow::io::OutputStream> stream, const std::shared_ptr<arrow::Schema>& schema,
    const WriteOptions& options) {
  static const std::map<std::string, arrow::Compression::type, std::less<>> kCodecs = {
      {"zstd", arrow::Compression::ZSTD},
      {"snappy", arrow::Compression::SNAPPY},
      {"gzip", arrow::Compression::GZIP},
      {"none", arrow::Compression::UNCOMPRESSED}};
  auto codec = kCodecs.find(options.parquet_compression);
  if (codec == kCodecs.end()) {
    return Status::Invalid("unknown Parquet compression '", options.parquet_compression, "'");
  }
  auto properties = parquet::WriterProperties::Builder()
                        .compression(codec->second)
                        ->max_row_group_length(options.parquet_row_group_size)
                        ->build();
  // Storing the Arrow schema keeps types Parquet has no word for (e.g. a timestamp's zone).
  auto arrow_properties = parquet::ArrowWriterProperties::Builder().store_schema()->build();
  try {
    SLUICE_ASSIGN_OR_RAISE(
        auto writer, parquet::arrow::FileWriter::Open(*schema, arrow::default_memory_pool(), stream,
                                                      properties, arrow_properties));
    return std::make_unique<ParquetWriter>(std::move(stream), std::move(writer));
  } catch (const std::exception& error) {
    return Status::Invalid(error.what());
  }
}

}  // namespace

Result<std::unique_ptr<RecordWriter>> RecordWriter::Open(
    const std::string& path, Format format, const std::shared_ptr<arrow::Schema>& schema,
    const WriteOptions& options) {
  auto stream = arrow::io::FileOutputStream::Open(path);
  if (!stream.ok())
    return Status::IOError(fmt::format("cannot create '{}': {}", path, stream.status().message()));
  return Open(*std::move(stream), format, schema, options);
}

Result<std::unique_ptr<RecordWriter>> RecordWriter::Open(
    std::shared_ptr<arrow::io::OutputStream> stream, Format format,
    const std::shared_ptr<arrow::Schema>& schema, const WriteOptions& options) {
  switch (format) {
    case Format::kCsv:
      return internal::OpenCsvWriter(std::move(stream), schema, options);
    case Format::kJsonLines:
      return internal::OpenJsonLinesWriter(std::move(stream), schema);
    case Format::kParquet:
      return OpenParquetWriter(std::move(stream), schema, options);
    case Format::kAvro:
      return internal::OpenAvroWriter(std::move(stream), schema, options);
    case Format::kOrc:
      return Status::Invalid("ORC is read, not written: write parquet, arrow or avro instead");
    case Format::kArrow: {
      std::shared_ptr<arrow::ipc::RecordBatchWriter> writer;
      if (options.arrow_stream) {
        SLUICE_ASSIGN_OR_RAISE(writer, arrow::ipc::MakeStreamWriter(stream, schema));
      } else {
        SLUICE_ASSIGN_OR_RAISE(writer, arrow::ipc::MakeFileWriter(stream, schema));
      }
      return std::make_unique<ArrowWriter>(std::move(stream), std::move(writer));
    }
  }
  return Status::Invalid("unknown format");
}

}  // namespace sluice::formats
