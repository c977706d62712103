#include "sluice/formats/record_reader.h"

#include <arrow/buffer.h>
#include <arrow/io/file.h>
#include <arrow/type.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "sluice/formats/readers_internal.h"
#include "sluice/formats/type_names.h"

namespace sluice::formats {
namespace {

/// A stream whose first bytes were read ahead (to tell the input's kind) and are handed out
/// again before the rest. Reads return what the underlying stream has, never waiting to fill
/// a whole block, so that a reader keeps up with a live pipe; with `whole_reads` they wait for
/// the whole request (or the end), for readers that take a short read for a truncated input.
class PrefixedInputStream final : public arrow::io::InputStream {
 public:
  PrefixedInputStream(std::string prefix, std::shared_ptr<arrow::io::InputStream> rest,
                      bool whole_reads)
      : prefix_(std::move(prefix)), rest_(std::move(rest)), whole_reads_(whole_reads) {}

  arrow::Status Close() override { return rest_->Close(); }
  bool closed() const override { return rest_->closed(); }
  arrow::Result<int64_t> Tell() const override { return position_; }

  arrow::Result<int64_t> Read(int64_t nbytes, void* out) override {
    if (!whole_reads_) return ReadSome(nbytes, out);
    int64_t filled = 0;
    while (filled < nbytes) {
      ARROW_ASSIGN_OR_RAISE(int64_t read,
                            ReadSome(nbytes - filled, static_cast<char*>(out) + filled));
      if (read == 0) break;
      filled += read;
    }
    return filled;
  }

  arrow::Result<std::shared_ptr<arrow::Buffer>> Read(int64_t nbytes) override {
    ARROW_ASSIGN_OR_RAISE(auto buffer, arrow::AllocateResizableBuffer(nbytes));
    ARROW_ASSIGN_OR_RAISE(int64_t read, Read(nbytes, buffer->mutable_data()));
    ARROW_RETURN_NOT_OK(buffer->Resize(read, /*shrink_to_fit=*/false));
    return std::shared_ptr<arrow::Buffer>(std::move(buffer));
  }

 private:
  arrow::Result<int64_t> ReadSome(int64_t nbytes, void* out) {
    int64_t read = 0;
    if (prefix_used_ < prefix_.size()) {
      read = std::min<int64_t>(nbytes, static_cast<int64_t>(prefix_.size() - prefix_used_));
      std::memcpy(out, prefix_.data() + prefix_used_, static_cast<size_t>(read));
      prefix_used_ += static_cast<size_t>(read);
    } else {
      ARROW_ASSIGN_OR_RAISE(read, rest_->Read(nbytes, out));
    }
    position_ += read;
    return read;
  }

  std::string prefix_;
  size_t prefix_used_ = 0;
  std::shared_ptr<arrow::io::InputStream> rest_;
  bool whole_reads_;
  int64_t position_ = 0;
};

/// Appends input to `head` until `enough(head)` or the input ends; false at the end.
Result<bool> ReadHeadUntil(arrow::io::InputStream& stream, std::string* head,
                           const std::function<bool(const std::string&)>& enough) {
  constexpr int64_t kChunk = 1 << 16;
  while (!enough(*head)) {
    size_t size = head->size();
    head->resize(size + kChunk);
    SLUICE_ASSIGN_OR_RAISE(int64_t read, stream.Read(kChunk, head->data() + size));
    head->resize(size + static_cast<size_t>(read));
    if (read == 0) return false;
  }
  return true;
}

}  // namespace

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
    case Format::kCsv: {
      SLUICE_ASSIGN_OR_RAISE(int64_t size, file->GetSize());
      return internal::OpenCsvReader(std::move(file), size, std::move(name), options);
    }
    case Format::kJsonLines: {
      SLUICE_ASSIGN_OR_RAISE(int64_t size, file->GetSize());
      return internal::OpenJsonLinesReader(std::move(file), size, std::move(name), options);
    }
    case Format::kParquet:
      return internal::OpenParquetReader(std::move(file), std::move(name), options);
    case Format::kArrow:
      return internal::OpenArrowReader(std::move(file), std::move(name), options);
    case Format::kAvro: {
      SLUICE_ASSIGN_OR_RAISE(int64_t size, file->GetSize());
      return internal::OpenAvroReader(std::move(file), size, std::move(name), options);
    }
    case Format::kOrc:
      return internal::OpenOrcReader(std::move(file), std::move(name), options);
  }
  return Status::Invalid("unknown format");
}

Result<std::unique_ptr<RecordReader>> RecordReader::OpenStream(
    std::shared_ptr<arrow::io::InputStream> stream, std::string name, Format format,
    const ReadOptions& options) {
  if (format == Format::kParquet || format == Format::kOrc) {
    return Status::Invalid(fmt::format(
        "{}: {} cannot be read from a stream, its metadata is at the end of the file; "
        "stream csv, jsonl, arrow or avro instead, or read a file",
        name, format == Format::kParquet ? "Parquet" : "ORC"));
  }
  if (format == Format::kAvro) {
    // The container format is read front to back as it is.
    return internal::OpenAvroReader(std::move(stream), kUnknownSize, std::move(name), options);
  }
  // The Arrow file format is the stream format between an 8-byte "ARROW1" header and a footer,
  // so reading it front to back needs only the header skipped.
  constexpr size_t kArrowFileHeader = 8;
  std::string head;
  auto enough = [&](const std::string& text) {
    if (format != Format::kCsv) return text.size() >= kArrowFileHeader;
    // The CSV parser needs its first block to hold the header and a first row whole.
    auto lines = std::count(text.begin(), text.end(), '\n');
    return lines >= (options.header ? 2 : 1);
  };
  SLUICE_RETURN_NOT_OK(ReadHeadUntil(*stream, &head, enough).status());
  const int64_t size = head.empty() ? 0 : kUnknownSize;
  if (format == Format::kArrow) {
    if (head.compare(0, 6, "ARROW1") == 0) head.erase(0, kArrowFileHeader);
  }
  // The Arrow IPC reader takes a short read for a truncated message.
  auto input = std::make_shared<PrefixedInputStream>(std::move(head), std::move(stream),
                                                     /*whole_reads=*/format == Format::kArrow);
  switch (format) {
    case Format::kCsv:
      return internal::OpenCsvReader(std::move(input), size, std::move(name), options);
    case Format::kJsonLines:
      return internal::OpenJsonLinesReader(std::move(input), size, std::move(name), options);
    case Format::kArrow:
      return internal::OpenArrowStreamReader(std::move(input), size, std::move(name), options);
    case Format::kParquet:
    case Format::kAvro:
    case Format::kOrc:
      break;
  }
  return Status::Invalid("unknown format");
}

namespace internal {

Result<std::shared_ptr<arrow::Schema>> OutputSchema(
    const std::shared_ptr<arrow::Schema>& file_schema, const ReadOptions& options) {
  if (options.schema) return options.schema;
  std::shared_ptr<arrow::Schema> schema = file_schema;
  for (const auto& [name, time] : options.times.fields) {
    int index = schema->GetFieldIndex(name);
    if (index < 0) {
      return Status::Invalid(
          fmt::format("no field '{}' in the input to read a time from (it has: {})", name,
                      fmt::join(schema->field_names(), ", ")));
    }
    arrow::Type::type id = schema->field(index)->type()->id();
    if (time.format.empty() || id == arrow::Type::TIMESTAMP || id == arrow::Type::DATE32) continue;
    SLUICE_ASSIGN_OR_RAISE(
        schema, schema->SetField(index, schema->field(index)->WithType(TimestampType())));
  }
  if (options.columns.empty()) return schema;
  arrow::FieldVector fields;
  for (const auto& name : options.columns) {
    auto field = schema->GetFieldByName(name);
    if (!field) {
      return Status::Invalid(fmt::format("no column '{}' in the input (it has: {})", name,
                                         fmt::join(schema->field_names(), ", ")));
    }
    fields.push_back(field);
  }
  return arrow::schema(std::move(fields));
}

Status ReportDamage(const ReadOptions& options, exec::DeadLetter letter,
                    std::vector<exec::DeadLetter>* rejected) {
  if (options.skip_damaged) {
    rejected->push_back(std::move(letter));
    return Status::OK();
  }
  return Status::IOError(fmt::format(
      "{}: {}{}", letter.origin, letter.reason,
      options.option_hints
          ? "; set on_unreadable: skip to count damaged input as dead letters and read on"
          : ""));
}

std::string RecordLimit(const ReadOptions& options) {
  return fmt::format("{} ({} bytes)",
                     options.option_hints ? "max_record_size" : "the record size limit",
                     options.max_record_size);
}

std::string OneLine(std::string_view message) {
  std::string line;
  for (char c : message) {
    if (c == '\n' || c == '\r') c = ' ';
    if (c == ' ' && (line.empty() || line.back() == ' ')) continue;
    line.push_back(c);
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

std::optional<exec::DeadLetter> Shrunk(const std::string& name, int64_t read, int64_t total) {
  if (total == RecordReader::kUnknownSize || read >= total) return std::nullopt;
  exec::DeadLetter letter;
  letter.reason = fmt::format(
      "the file ended at byte {} of the {} it had when opened (it shrank while being read); the "
      "last {} bytes are lost",
      read, total, total - read);
  letter.origin = fmt::format("{}:byte {}", name, read);
  letter.skipped_bytes = total - read;
  return letter;
}

Status CheckDeclaredFields(const std::string& name, const std::vector<std::string>& input_fields,
                           const ReadOptions& options, std::vector<std::string>* warnings) {
  if (!options.schema) return Status::OK();
  std::vector<std::string> missing;
  for (const auto& field : options.schema->field_names()) {
    if (std::find(input_fields.begin(), input_fields.end(), field) == input_fields.end())
      missing.push_back(field);
  }
  if (missing.empty()) return Status::OK();
  if (options.missing_fields_null) {
    warnings->push_back(
        fmt::format("{}: no field {} in the input; read as null (missing_fields: "
                    "null)",
                    name, fmt::join(missing, ", ")));
    return Status::OK();
  }
  return Status::TypeError(fmt::format(
      "{}: the schema declares {} '{}', which the input does not have (it has: {}){}", name,
      missing.size() == 1 ? "field" : "fields", fmt::join(missing, "', '"),
      fmt::join(input_fields, ", "),
      options.option_hints
          ? "; fix the schema, or set missing_fields: null to read missing fields as null"
          : ""));
}

BatchSourceReader::BatchSourceReader(std::string name, std::shared_ptr<arrow::Schema> schema,
                                     int64_t size, NextBatch next, BytesRead bytes_read,
                                     const ReadOptions& options,
                                     std::vector<std::string> input_fields)
    : name_(std::move(name)),
      conformer_(std::move(schema), options.times),
      input_fields_(std::move(input_fields)),
      bytes_total_(size),
      next_(std::move(next)),
      measure_(std::move(bytes_read)) {}

Result<std::shared_ptr<arrow::RecordBatch>> BatchSourceReader::Next(
    std::vector<exec::DeadLetter>* rejected) {
  if (!next_) return nullptr;
  auto batch = next_(rejected);
  if (!batch.ok()) return batch.status();
  if (*batch == nullptr) {
    next_ = nullptr;
    bytes_read_ = bytes_total_ == kUnknownSize ? measure_() : bytes_total_;
    return nullptr;
  }
  bytes_read_ = bytes_total_ == kUnknownSize ? measure_() : std::min(measure_(), bytes_total_);
  int64_t first_row = rows_seen_;
  rows_seen_ += (*batch)->num_rows();
  return conformer_.Conform(
      *batch, [&](int64_t row) { return fmt::format("{}:row {}", name_, first_row + row + 1); },
      rejected);
}

Status BatchSourceReader::Init(const ReadOptions& options) {
  return CheckDeclaredFields(name_, input_fields_, options, &warnings_);
}

Result<std::unique_ptr<RecordReader>> BatchSourceReader::Make(
    std::string name, const std::shared_ptr<arrow::Schema>& file_schema, int64_t size,
    NextBatch next, BytesRead bytes_read, const ReadOptions& options) {
  SLUICE_ASSIGN_OR_RAISE(auto schema, OutputSchema(file_schema, options));
  auto source = std::make_unique<BatchSourceReader>(std::move(name), schema, size, std::move(next),
                                                    std::move(bytes_read), options,
                                                    file_schema->field_names());
  SLUICE_RETURN_NOT_OK(source->Init(options));
  return source;
}

}  // namespace internal
}  // namespace sluice::formats
