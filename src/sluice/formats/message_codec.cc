#include "sluice/formats/message_codec.h"

#include <arrow/buffer.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/reader.h>
#include <arrow/ipc/writer.h>
#include <arrow/util/base64.h>
#include <fmt/format.h>

#include <utility>

#include "sluice/formats/record_reader.h"
#include "sluice/formats/record_writer.h"
#include "sluice/formats/type_names.h"
#include "sluice/formats/utf8_text.h"

namespace sluice::formats {

namespace {

constexpr MessageFormat kAllFormats[] = {MessageFormat::kJson, MessageFormat::kCsv,
                                         MessageFormat::kAvro, MessageFormat::kArrow,
                                         MessageFormat::kRaw};

/// A buffer holding a copy of `payload`: decoded values must outlive the client's message.
std::shared_ptr<arrow::io::BufferReader> CopyOf(std::string_view payload) {
  return std::make_shared<arrow::io::BufferReader>(
      arrow::Buffer::FromString(std::string(payload)));
}

}  // namespace

const char* MessageFormatName(MessageFormat format) {
  switch (format) {
    case MessageFormat::kJson:
      return "json";
    case MessageFormat::kCsv:
      return "csv";
    case MessageFormat::kAvro:
      return "avro";
    case MessageFormat::kArrow:
      return "arrow";
    case MessageFormat::kRaw:
      return "raw";
  }
  return "json";
}

std::optional<MessageFormat> MessageFormatNamed(std::string_view name) {
  for (MessageFormat format : kAllFormats) {
    if (name == MessageFormatName(format)) return format;
  }
  return std::nullopt;
}

bool IsBinary(MessageFormat format) {
  return format == MessageFormat::kArrow || format == MessageFormat::kAvro;
}

// ---- decoding ----------------------------------------------------------------------------------

Result<std::unique_ptr<PayloadDecoder>> PayloadDecoder::Make(PayloadDecoding decoding) {
  std::unique_ptr<PayloadDecoder> decoder(new PayloadDecoder(std::move(decoding)));
  const PayloadDecoding& made = decoder->decoding_;
  if (made.format == MessageFormat::kJson) {
    SLUICE_ASSIGN_OR_RAISE(decoder->json_, JsonLinesDecoder::Make(made.schema, made.times));
  }
  if (made.format == MessageFormat::kArrow) {
    decoder->conformer_ = std::make_unique<BatchConformer>(made.schema, made.times);
  }
  if (made.format == MessageFormat::kAvro && made.avro == nullptr) {
    return Status::Invalid("format avro needs its codec");
  }
  return decoder;
}

Result<int64_t> PayloadDecoder::Append(std::string_view payload, const std::string& origin,
                                       std::vector<exec::DeadLetter>* rejected,
                                       std::string* reason) {
  switch (decoding_.format) {
    case MessageFormat::kJson: {
      Status decoded = json_->Append(payload);
      if (!decoded.ok()) {
        *reason = decoded.message();
        return 0;
      }
      return 1;
    }
    case MessageFormat::kRaw:
      if (!IsValidUtf8(payload)) {
        *reason = "the message is not UTF-8 text";
        return 0;
      }
      SLUICE_RETURN_NOT_OK(raw_values_.Append(payload));
      return 1;
    case MessageFormat::kCsv: {
      SLUICE_ASSIGN_OR_RAISE(auto row, DecodeCsv(payload, reason));
      if (row == nullptr) return 0;
      decoded_.push_back(std::move(row));
      return 1;
    }
    case MessageFormat::kAvro: {
      SLUICE_ASSIGN_OR_RAISE(bool decoded, decoding_.avro->Append(payload, reason));
      return decoded ? 1 : 0;
    }
    case MessageFormat::kArrow: {
      SLUICE_ASSIGN_OR_RAISE(auto rows, DecodeArrow(payload, origin, rejected, reason));
      if (rows == nullptr || rows->num_rows() == 0) return 0;
      int64_t added = rows->num_rows();
      decoded_.push_back(std::move(rows));
      return added;
    }
  }
  return 0;
}

Result<arrow::ArrayVector> PayloadDecoder::Finish() {
  switch (decoding_.format) {
    case MessageFormat::kJson: {
      SLUICE_ASSIGN_OR_RAISE(auto values, json_->Finish());
      return values->columns();
    }
    case MessageFormat::kRaw: {
      SLUICE_ASSIGN_OR_RAISE(auto values, raw_values_.Finish());
      return arrow::ArrayVector{std::move(values)};
    }
    case MessageFormat::kAvro: {
      SLUICE_ASSIGN_OR_RAISE(auto values, decoding_.avro->Finish());
      return values->columns();
    }
    case MessageFormat::kCsv:
    case MessageFormat::kArrow:
      break;
  }
  std::vector<std::shared_ptr<arrow::RecordBatch>> decoded = std::move(decoded_);
  decoded_.clear();
  if (decoded.empty()) {
    SLUICE_ASSIGN_OR_RAISE(auto empty, arrow::RecordBatch::MakeEmpty(decoding_.schema));
    return empty->columns();
  }
  SLUICE_ASSIGN_OR_RAISE(auto values, arrow::ConcatenateRecordBatches(decoded));
  return values->columns();
}

std::string PayloadDecoder::DeadLetterRecord(std::string_view payload) const {
  // The dead-letter record is text.
  return IsBinary(decoding_.format) ? arrow::util::base64_encode(payload) : std::string(payload);
}

Result<std::shared_ptr<arrow::RecordBatch>> PayloadDecoder::DecodeCsv(std::string_view payload,
                                                                      std::string* reason) {
  // Read and converted by the CSV file reader, so that a message and a file agree on every value.
  ReadOptions options;
  options.schema = decoding_.schema;
  options.times = decoding_.times;
  options.header = false;
  auto reader = RecordReader::Open(CopyOf(payload), "message", Format::kCsv, options);
  if (!reader.ok()) {
    *reason = fmt::format("not a CSV record: {}", reader.status().message());
    return nullptr;
  }
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  std::vector<exec::DeadLetter> rejected;
  int64_t rows = 0;
  while (true) {
    auto batch = (*reader)->Next(&rejected);
    if (!batch.ok()) {
      *reason = fmt::format("not a CSV record: {}", batch.status().message());
      return nullptr;
    }
    if (*batch == nullptr) break;
    rows += (*batch)->num_rows();
    if ((*batch)->num_rows() > 0) batches.push_back(*std::move(batch));
  }
  int64_t records = rows + static_cast<int64_t>(rejected.size());
  if (records != 1) {
    *reason = records == 0 ? std::string("empty message: no CSV record")
                           : fmt::format("a csv message holds one record, not {}", records);
    return nullptr;
  }
  if (!rejected.empty()) {
    *reason = std::move(rejected.front().reason);
    return nullptr;
  }
  return batches.front();
}

Result<std::shared_ptr<arrow::RecordBatch>> PayloadDecoder::DecodeArrow(
    std::string_view payload, const std::string& origin, std::vector<exec::DeadLetter>* rejected,
    std::string* reason) {
  auto reader = arrow::ipc::RecordBatchStreamReader::Open(CopyOf(payload));
  if (!reader.ok()) {
    *reason = fmt::format("not an Arrow IPC stream: {}", reader.status().message());
    return nullptr;
  }
  std::shared_ptr<arrow::Schema> schema = (*reader)->schema();
  for (const auto& field : decoding_.schema->fields()) {
    if (schema->GetFieldIndex(field->name()) < 0) {
      *reason = fmt::format("the Arrow message has no field '{}' (its schema: {})",
                            field->name(), schema->ToString());
      return nullptr;
    }
  }
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  while (true) {
    std::shared_ptr<arrow::RecordBatch> batch;
    arrow::Status read = (*reader)->ReadNext(&batch);
    if (read.ok() && batch != nullptr) read = batch->ValidateFull();
    if (!read.ok()) {
      *reason = fmt::format("not a valid Arrow IPC stream: {}", read.message());
      return nullptr;
    }
    if (batch == nullptr) break;
    auto origin_of = [&](int64_t) { return origin; };
    SLUICE_ASSIGN_OR_RAISE(auto conformed, conformer_->Conform(batch, origin_of, rejected));
    if (conformed->num_rows() > 0) batches.push_back(std::move(conformed));
  }
  if (batches.empty()) return arrow::RecordBatch::MakeEmpty(decoding_.schema);
  if (batches.size() == 1) return batches.front();
  return arrow::ConcatenateRecordBatches(batches);
}

// ---- encoding ----------------------------------------------------------------------------------

PayloadEncoder::PayloadEncoder(PayloadEncoding encoding, const arrow::Schema& schema)
    : encoding_(std::move(encoding)), json_(schema) {}

Result<std::unique_ptr<PayloadEncoder>> PayloadEncoder::Make(
    PayloadEncoding encoding, const std::shared_ptr<arrow::Schema>& schema) {
  if (encoding.format == MessageFormat::kAvro) {
    if (encoding.avro == nullptr) return Status::Invalid("format avro needs avro_schema");
    SLUICE_RETURN_NOT_OK(encoding.avro->CheckWritable(*schema));
  }
  if (encoding.format == MessageFormat::kRaw &&
      (schema->num_fields() != 1 || schema->field(0)->type()->id() != arrow::Type::STRING)) {
    return config::ConfigError(
        encoding.where,
        fmt::format("format raw writes one string field per message, and the rows have {}",
                    schema->num_fields() == 1
                        ? fmt::format("a field '{}' of type {}", schema->field(0)->name(),
                                      TypeName(*schema->field(0)->type()))
                        : fmt::format("{} fields", schema->num_fields())),
        "select one string field, or use format: json");
  }
  return std::unique_ptr<PayloadEncoder>(new PayloadEncoder(std::move(encoding), *schema));
}

Status PayloadEncoder::Prepare(std::shared_ptr<arrow::RecordBatch> batch) {
  if (encoding_.format == MessageFormat::kAvro) {
    SLUICE_ASSIGN_OR_RAISE(prepared_, encoding_.avro->Prepare(*batch));
  }
  batch_ = std::move(batch);
  return Status::OK();
}

Result<bool> PayloadEncoder::EncodeRow(int64_t row, std::string* out, std::string* reason) {
  switch (encoding_.format) {
    case MessageFormat::kJson:
      json_.AppendRow(*batch_, row, out);
      return true;
    case MessageFormat::kCsv:
      SLUICE_RETURN_NOT_OK(AppendCsvRow(row, out));
      return true;
    case MessageFormat::kAvro:
      return encoding_.avro->Encode(*prepared_, row, out, reason);
    case MessageFormat::kRaw: {
      const auto& values = static_cast<const arrow::StringArray&>(*batch_->column(0));
      if (values.IsNull(row)) {
        *reason = fmt::format("field '{}' is null", batch_->schema()->field(0)->name());
        return false;
      }
      out->append(values.GetView(row));
      return true;
    }
    case MessageFormat::kArrow:
      break;
  }
  return Status::Invalid("format arrow encodes whole batches");
}

Status PayloadEncoder::AppendCsvRow(int64_t row, std::string* out) const {
  // Written by the CSV file writer, so that a csv message holds exactly what a line of a CSV
  // file would (shortest round-trip doubles, ISO 8601 timestamps, an empty field for null).
  SLUICE_ASSIGN_OR_RAISE(auto stream, arrow::io::BufferOutputStream::Create(256));
  WriteOptions options;
  options.header = false;
  SLUICE_ASSIGN_OR_RAISE(auto writer,
                         RecordWriter::Open(stream, Format::kCsv, batch_->schema(), options));
  SLUICE_RETURN_NOT_OK(writer->Write(*batch_->Slice(row, 1)));
  SLUICE_RETURN_NOT_OK(writer->Close());
  SLUICE_ASSIGN_OR_RAISE(auto buffer, stream->Finish());
  std::string_view line(reinterpret_cast<const char*>(buffer->data()),
                        static_cast<size_t>(buffer->size()));
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  out->append(line);
  return Status::OK();
}

Result<std::string> PayloadEncoder::EncodeBatch(const arrow::RecordBatch& batch) {
  SLUICE_ASSIGN_OR_RAISE(auto stream, arrow::io::BufferOutputStream::Create());
  SLUICE_ASSIGN_OR_RAISE(auto writer, arrow::ipc::MakeStreamWriter(stream, batch.schema()));
  SLUICE_RETURN_NOT_OK(writer->WriteRecordBatch(batch));
  SLUICE_RETURN_NOT_OK(writer->Close());
  SLUICE_ASSIGN_OR_RAISE(auto buffer, stream->Finish());
  return buffer->ToString();
}

}  // namespace sluice::formats
