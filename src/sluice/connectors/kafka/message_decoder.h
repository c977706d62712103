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
#include "sluice/connectors/kafka/avro_codec.h"
#include "sluice/exec/dead_letter.h"
#include "sluice/formats/batch_conformer.h"
#include "sluice/formats/jsonl_decoder.h"
#include "sluice/formats/time_text.h"
#include "sluice/formats/type_names.h"

namespace sluice::connectors::kafka {

/// How the value of a Kafka message is encoded (the source's `format`).
enum class ValueFormat { kJson, kRaw, kCsv, kArrow, kAvro };

/// The name of `format` in pipeline files.
const char* ValueFormatName(ValueFormat format);

/// The fields `metadata: true` adds after the value's fields, in this order: _key, _topic,
/// _partition, _offset and _timestamp.
arrow::FieldVector MetadataFields();

/// What a MessageDecoder decodes.
struct DecoderOptions {
  ValueFormat format = ValueFormat::kJson;
  /// The fields of a message's value.
  std::shared_ptr<arrow::Schema> value_schema;
  /// The epoch units the schema declares (timestamp_ms, ...).
  formats::TimeReadings value_times;
  /// avro: decodes the messages with the schema of the `avro_schema` file.
  std::shared_ptr<AvroCodec> avro;
  /// Add MetadataFields() to every row.
  bool metadata = false;
};

/// Decodes the messages of the Kafka source into the columns of a micro-batch: each message's
/// value in the source's format, then the metadata fields. A message that cannot be decoded is
/// rejected with a reason, for a dead letter. Source thread only.
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
  std::string DeadLetterRecord(std::string_view value) const;

 private:
  explicit MessageDecoder(DecoderOptions options) : options_(std::move(options)) {}

  /// Decodes a csv message: exactly one CSV record, no header, its fields in the order of the
  /// declared schema, read and converted by the CSV file reader so that both agree on every
  /// value. Returns nullptr with `reason` set when the message is rejected.
  Result<std::shared_ptr<arrow::RecordBatch>> DecodeCsv(std::string_view value,
                                                        std::string* reason);

  /// Decodes an arrow message: an Arrow IPC stream whose batches are conformed to the declared
  /// schema. Rows whose values do not convert go to `rejected`; a message that is not an IPC
  /// stream, or lacks a declared field, is rejected as a whole (nullptr with `reason` set).
  Result<std::shared_ptr<arrow::RecordBatch>> DecodeArrow(std::string_view value,
                                                          const std::string& origin,
                                                          std::vector<exec::DeadLetter>* rejected,
                                                          std::string* reason);

  const DecoderOptions options_;
  /// json: the decoder of the value's fields.
  std::unique_ptr<formats::JsonLinesDecoder> json_;
  /// arrow: brings each message's batches to the declared schema.
  std::unique_ptr<formats::BatchConformer> conformer_;
  /// csv and arrow: the decoded rows of the batch being built.
  std::vector<std::shared_ptr<arrow::RecordBatch>> decoded_;
  arrow::StringBuilder raw_values_;
  arrow::StringBuilder keys_;
  arrow::StringBuilder topics_;
  arrow::Int32Builder partitions_;
  arrow::Int64Builder offsets_;
  arrow::TimestampBuilder timestamps_{formats::TimestampType(), arrow::default_memory_pool()};
};

}  // namespace sluice::connectors::kafka
