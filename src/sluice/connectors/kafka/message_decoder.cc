#include "sluice/connectors/kafka/message_decoder.h"

#include <utility>

#include "sluice/formats/utf8_text.h"

namespace sluice::connectors::kafka {

arrow::FieldVector MetadataFields() {
  return {arrow::field("_key", arrow::utf8()), arrow::field("_topic", arrow::utf8()),
          arrow::field("_partition", arrow::int32()), arrow::field("_offset", arrow::int64()),
          arrow::field("_timestamp", formats::TimestampType())};
}

Result<std::unique_ptr<MessageDecoder>> MessageDecoder::Make(DecoderOptions options) {
  std::unique_ptr<MessageDecoder> decoder(new MessageDecoder(std::move(options)));
  SLUICE_ASSIGN_OR_RAISE(decoder->value_, formats::PayloadDecoder::Make(decoder->options_.value));
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
      !formats::IsValidUtf8(*key)) {
    *reason = "the message key is not UTF-8 text";
    return 0;
  }
  // An arrow message may add no row (all of them rejected): its offset still moves.
  SLUICE_ASSIGN_OR_RAISE(int64_t added, value_->Append(value, origin, rejected, reason));
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
  SLUICE_ASSIGN_OR_RAISE(arrow::ArrayVector columns, value_->Finish());
  if (options_.metadata) {
    for (arrow::ArrayBuilder* builder : std::initializer_list<arrow::ArrayBuilder*>{
             &keys_, &topics_, &partitions_, &offsets_, &timestamps_}) {
      SLUICE_ASSIGN_OR_RAISE(auto column, builder->Finish());
      columns.push_back(std::move(column));
    }
  }
  return columns;
}

}  // namespace sluice::connectors::kafka
