#include "sluice/connectors/kafka/message_decoder.h"

#include <arrow/buffer.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/reader.h>
#include <arrow/util/base64.h>
#include <arrow/util/utf8.h>
#include <fmt/format.h>

#include <utility>

#include "sluice/formats/record_reader.h"

namespace sluice::connectors::kafka {

const char* ValueFormatName(ValueFormat format) {
  switch (format) {
    case ValueFormat::kJson:
      return "json";
    case ValueFormat::kRaw:
      return "raw";
    case ValueFormat::kCsv:
      return "csv";
    case ValueFormat::kArrow:
      return "arrow";
    case ValueFormat::kAvro:
      return "avro";
  }
  return "json";
}

arrow::FieldVector MetadataFields() {
  return {arrow::field("_key", arrow::utf8()), arrow::field("_topic", arrow::utf8()),
          arrow::field("_partition", arrow::int32()), arrow::field("_offset", arrow::int64()),
          arrow::field("_timestamp", formats::TimestampType())};
}

Result<std::unique_ptr<MessageDecoder>> MessageDecoder::Make(DecoderOptions options) {
  std::unique_ptr<MessageDecoder> decoder(new MessageDecoder(std::move(options)));
  const DecoderOptions& made = decoder->options_;
  if (made.format == ValueFormat::kJson) {
    SLUICE_ASSIGN_OR_RAISE(decoder->json_,
                           formats::JsonLinesDecoder::Make(made.value_schema, made.value_times));
  }
  if (made.format == ValueFormat::kArrow) {
    decoder->conformer_ =
        std::make_unique<formats::BatchConformer>(made.value_schema, made.value_times);
  }
  return decoder;
}

Result<int64_t> MessageDecoder::Append(const RdKafka::Message& message, const std::string& origin,
                                       std::vector<exec::DeadLetter>* rejected,
                                       std::string* reason) {
  std::string_view value(static_cast<const char*>(message.payload()), message.len());
  const std::string* key = message.key();
  if (message.payload() == nullptr) {
    *reason = "empty message (a tombstone)";
    return 0;
  }
  if (options_.metadata && key != nullptr &&
      !arrow::util::ValidateUTF8(reinterpret_cast<const uint8_t*>(key->data()),
                                 static_cast<int64_t>(key->size()))) {
    *reason = "the message key is not UTF-8 text";
    return 0;
  }
  int64_t added = 1;
  switch (options_.format) {
    case ValueFormat::kJson: {
      Status decoded = json_->Append(value);
      if (!decoded.ok()) {
        *reason = decoded.message();
        return 0;
      }
      break;
    }
    case ValueFormat::kRaw:
      if (!arrow::util::ValidateUTF8(reinterpret_cast<const uint8_t*>(value.data()),
                                     static_cast<int64_t>(value.size()))) {
        *reason = "the message is not UTF-8 text";
        return 0;
      }
      SLUICE_RETURN_NOT_OK(raw_values_.Append(value));
      break;
    case ValueFormat::kCsv: {
      SLUICE_ASSIGN_OR_RAISE(auto row, DecodeCsv(value, reason));
      if (row == nullptr) return 0;
      decoded_.push_back(std::move(row));
      break;
    }
    case ValueFormat::kAvro: {
      SLUICE_ASSIGN_OR_RAISE(bool decoded, options_.avro->Append(value, reason));
      if (!decoded) return 0;
      break;
    }
    case ValueFormat::kArrow: {
      SLUICE_ASSIGN_OR_RAISE(auto rows, DecodeArrow(value, origin, rejected, reason));
      if (rows == nullptr) return 0;
      added = rows->num_rows();
      if (added == 0) return 0;  // nothing left to deliver; the offset still moves
      decoded_.push_back(std::move(rows));
      break;
    }
  }
  if (!options_.metadata) return added;
  for (int64_t row = 0; row < added; ++row) {
    SLUICE_RETURN_NOT_OK(key == nullptr ? keys_.AppendNull() : keys_.Append(*key));
    SLUICE_RETURN_NOT_OK(topics_.Append(message.topic_name()));
    SLUICE_RETURN_NOT_OK(partitions_.Append(message.partition()));
    SLUICE_RETURN_NOT_OK(offsets_.Append(message.offset()));
    RdKafka::MessageTimestamp timestamp = message.timestamp();
    if (timestamp.type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE) {
      SLUICE_RETURN_NOT_OK(timestamps_.AppendNull());
    } else {
      SLUICE_RETURN_NOT_OK(timestamps_.Append(timestamp.timestamp * 1000));
    }
  }
  return added;
}

Result<arrow::ArrayVector> MessageDecoder::Finish() {
  arrow::ArrayVector columns;
  if (options_.format == ValueFormat::kJson) {
    SLUICE_ASSIGN_OR_RAISE(auto values, json_->Finish());
    columns = values->columns();
  } else if (options_.format == ValueFormat::kRaw) {
    SLUICE_ASSIGN_OR_RAISE(auto values, raw_values_.Finish());
    columns.push_back(std::move(values));
  } else if (options_.format == ValueFormat::kAvro) {
    SLUICE_ASSIGN_OR_RAISE(auto values, options_.avro->Finish());
    columns = values->columns();
  } else {
    SLUICE_ASSIGN_OR_RAISE(auto values, arrow::ConcatenateRecordBatches(decoded_));
    decoded_.clear();
    columns = values->columns();
  }
  if (options_.metadata) {
    for (arrow::ArrayBuilder* builder : std::initializer_list<arrow::ArrayBuilder*>{
             &keys_, &topics_, &partitions_, &offsets_, &timestamps_}) {
      SLUICE_ASSIGN_OR_RAISE(auto column, builder->Finish());
      columns.push_back(std::move(column));
    }
  }
  return columns;
}

std::string MessageDecoder::DeadLetterRecord(std::string_view value) const {
  // Arrow and Avro messages are binary; the dead-letter record is text.
  bool binary = options_.format == ValueFormat::kArrow || options_.format == ValueFormat::kAvro;
  return binary ? arrow::util::base64_encode(value) : std::string(value);
}

Result<std::shared_ptr<arrow::RecordBatch>> MessageDecoder::DecodeCsv(std::string_view value,
                                                                      std::string* reason) {
  // A copy: the decoded values must outlive the librdkafka message.
  auto input = std::make_shared<arrow::io::BufferReader>(
      arrow::Buffer::FromString(std::string(value)));
  formats::ReadOptions options;
  options.schema = options_.value_schema;
  options.times = options_.value_times;
  options.header = false;
  auto reader = formats::RecordReader::Open(std::move(input), "message", formats::Format::kCsv,
                                            options);
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

Result<std::shared_ptr<arrow::RecordBatch>> MessageDecoder::DecodeArrow(
    std::string_view value, const std::string& origin, std::vector<exec::DeadLetter>* rejected,
    std::string* reason) {
  // A copy: the IPC reader slices its input, and the rows must outlive the librdkafka message.
  auto input = std::make_shared<arrow::io::BufferReader>(
      arrow::Buffer::FromString(std::string(value)));
  auto reader = arrow::ipc::RecordBatchStreamReader::Open(std::move(input));
  if (!reader.ok()) {
    *reason = fmt::format("not an Arrow IPC stream: {}", reader.status().message());
    return nullptr;
  }
  std::shared_ptr<arrow::Schema> schema = (*reader)->schema();
  for (const auto& field : options_.value_schema->fields()) {
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
  if (batches.empty()) return arrow::RecordBatch::MakeEmpty(options_.value_schema);
  if (batches.size() == 1) return batches.front();
  return arrow::ConcatenateRecordBatches(batches);
}

}  // namespace sluice::connectors::kafka
