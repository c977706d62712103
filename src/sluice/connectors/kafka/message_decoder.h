#pragma once

#include <arrow/builder.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/exec/dead_letter.h"
#include "sluice/formats/message_codec.h"
#include "sluice/formats/time_text.h"
#include "sluice/formats/type_names.h"

namespace sluice::connectors::kafka {

/// The fields `metadata: true` adds after the value's fields, in this order: _key, _topic,
/// _partition, _offset and _timestamp.
arrow::FieldVector MetadataFields();

/// What a MessageDecoder decodes.
struct DecoderOptions {
  /// How a message's value is decoded (format, schema, avro_schema).
  formats::PayloadDecoding value;
  /// Add MetadataFields() to every row.
  bool metadata = false;
};

/// Decodes the messages of the Kafka source into the columns of a micro-batch: each message's
/// value through the shared payload decoder, then the metadata fields. A message that cannot be
/// decoded is rejected with a reason, for a dead letter. Source thread only.
class MessageDecoder {
 public:
  static Result<std::unique_ptr<MessageDecoder>> Make(DecoderOptions options);

  /// Decodes `message` into the rows being built and returns how many it added: one, or for an
  /// arrow message its number of rows. A message rejected as a whole adds none and sets
  /// `reason`; rows of an arrow message whose values do not convert go to `rejected`, named by
  /// `origin` (topic/partition@offset).
  Result<int64_t> Append(const RdKafka::Message& message, const std::string& origin,
                         std::vector<exec::DeadLetter>* rejected, std::string* reason);

  /// The columns of the rows added since the last call (at least one): the value's fields, then
  /// the metadata fields.
  Result<arrow::ArrayVector> Finish();

  /// The record of a rejected message's dead letter: its text, or base64 for a binary format.
  std::string DeadLetterRecord(std::string_view value) const {
    return value_->DeadLetterRecord(value);
  }

 private:
  explicit MessageDecoder(DecoderOptions options) : options_(std::move(options)) {}

  const DecoderOptions options_;
  std::unique_ptr<formats::PayloadDecoder> value_;
  arrow::StringBuilder keys_;
  arrow::StringBuilder topics_;
  arrow::Int32Builder partitions_;
  arrow::Int64Builder offsets_;
  arrow::TimestampBuilder timestamps_{formats::TimestampType(), arrow::default_memory_pool()};
};

}  // namespace sluice::connectors::kafka
