#pragma once

#include <arrow/builder.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/location.h"
#include "sluice/exec/dead_letter.h"
#include "sluice/formats/avro_codec.h"
#include "sluice/formats/batch_conformer.h"
#include "sluice/formats/json_row_encoder.h"
#include "sluice/formats/jsonl_decoder.h"
#include "sluice/formats/time_text.h"

// The payload codecs of every message connector (Kafka, MQTT, AMQP, HTTP): one message's
// payload is one record (json, csv, avro), one text value (raw) or a whole batch (arrow). A
// source decodes a batch of messages into the value columns of one micro-batch, with a dead
// letter for each undecodable message; a sink encodes rows (or a batch) into payloads. The
// connector adds its own metadata columns (topic, key, headers) beside the value columns.

namespace sluice::formats {

/// How a message's payload is encoded (the connectors' `format`).
enum class MessageFormat { kJson, kCsv, kAvro, kArrow, kRaw };

/// The name of `format` in pipeline files.
const char* MessageFormatName(MessageFormat format);

/// The format named `name`, or nullopt.
std::optional<MessageFormat> MessageFormatNamed(std::string_view name);

/// Whether payloads of `format` are binary (their dead-letter records are base64).
bool IsBinary(MessageFormat format);

/// What a PayloadDecoder decodes.
struct PayloadDecoding {
  MessageFormat format = MessageFormat::kJson;
  /// The fields of a payload (raw: {value: string}; avro: the .avsc file's).
  std::shared_ptr<arrow::Schema> schema;
  /// The epoch units the schema declares (timestamp_ms, ...).
  TimeReadings times;
  /// avro: the codec of the `avro_schema` file. Not shared between threads.
  std::shared_ptr<AvroCodec> avro;
};

/// Decodes message payloads into the value columns of a micro-batch. Not thread-safe: one
/// decoder per source thread.
class PayloadDecoder {
 public:
  static Result<std::unique_ptr<PayloadDecoder>> Make(PayloadDecoding decoding);

  const std::shared_ptr<arrow::Schema>& schema() const { return decoding_.schema; }
  MessageFormat format() const { return decoding_.format; }

  /// Decodes one payload into the rows being built and returns how many it added: one, or for
  /// an arrow payload its number of rows (possibly zero). A payload rejected as a whole adds
  /// none and sets `reason`; rows of an arrow payload whose values do not convert go to
  /// `rejected`, named by `origin`. An error Status only for a failure that is not the
  /// payload's fault (out of memory).
  Result<int64_t> Append(std::string_view payload, const std::string& origin,
                         std::vector<exec::DeadLetter>* rejected, std::string* reason);

  /// The value columns of the rows added since the last call (of schema()).
  Result<arrow::ArrayVector> Finish();

  /// The record of a rejected payload's dead letter: its text, or base64 for a binary format.
  std::string DeadLetterRecord(std::string_view payload) const;

 private:
  explicit PayloadDecoder(PayloadDecoding decoding) : decoding_(std::move(decoding)) {}

  Result<std::shared_ptr<arrow::RecordBatch>> DecodeCsv(std::string_view payload,
                                                        std::string* reason);
  Result<std::shared_ptr<arrow::RecordBatch>> DecodeArrow(std::string_view payload,
                                                          const std::string& origin,
                                                          std::vector<exec::DeadLetter>* rejected,
                                                          std::string* reason);

  const PayloadDecoding decoding_;
  std::unique_ptr<JsonLinesDecoder> json_;
  std::unique_ptr<BatchConformer> conformer_;
  /// csv and arrow: the decoded rows of the batch being built.
  std::vector<std::shared_ptr<arrow::RecordBatch>> decoded_;
  arrow::StringBuilder raw_values_;
};

/// What a PayloadEncoder encodes.
struct PayloadEncoding {
  MessageFormat format = MessageFormat::kJson;
  /// avro: the writer schema, from the `avro_schema` file.
  std::shared_ptr<AvroCodec> avro;
  /// Where `format` is set, for configuration errors found when the rows' schema is known.
  config::Location where;
};

/// Encodes rows of a sink's input into message payloads: json, csv, avro and raw make one
/// payload per row, arrow one per batch (per_batch()). Not thread-safe.
class PayloadEncoder {
 public:
  /// Checks that rows of `schema` can be encoded (avro: the writer schema covers them; raw: one
  /// string field); a configuration error at `encoding.where` otherwise.
  static Result<std::unique_ptr<PayloadEncoder>> Make(PayloadEncoding encoding,
                                                      const std::shared_ptr<arrow::Schema>& schema);

  MessageFormat format() const { return encoding_.format; }
  /// Whether a whole batch is one payload (arrow): use EncodeBatch(), not EncodeRow().
  bool per_batch() const { return encoding_.format == MessageFormat::kArrow; }

  /// Prepares `batch` (of the schema given to Make()) for EncodeRow(); call once per batch.
  Status Prepare(std::shared_ptr<arrow::RecordBatch> batch);

  /// Appends row `row` of the prepared batch to `out` (not cleared). False with `reason` set
  /// when the row cannot be encoded (avro: a null in a field that is not nullable).
  Result<bool> EncodeRow(int64_t row, std::string* out, std::string* reason);

  /// The whole batch as one payload: an Arrow IPC stream (schema, one batch, end marker).
  static Result<std::string> EncodeBatch(const arrow::RecordBatch& batch);

 private:
  PayloadEncoder(PayloadEncoding encoding, const arrow::Schema& schema);

  Status AppendCsvRow(int64_t row, std::string* out) const;

  const PayloadEncoding encoding_;
  JsonRowEncoder json_;
  std::shared_ptr<arrow::RecordBatch> batch_;
  /// avro: the batch brought to the types the codec reads.
  std::shared_ptr<arrow::RecordBatch> prepared_;
};

}  // namespace sluice::formats
