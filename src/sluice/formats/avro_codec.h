#pragma once

#include <arrow/type_fwd.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/location.h"

// The message connectors' `format: avro`: one Avro binary-encoded record per message, without a
// container file header, its schema read from a local .avsc file (not from a schema registry).
// The Avro C library checks the schema; the types map to Arrow and the records are decoded and
// encoded by the code the Avro container files use (avro_schema.h, avro_datum.h).

namespace sluice::formats {

/// Converts between Arrow rows and Avro records of one record schema, with the type mapping of
/// Avro container files (avro_schema.h): every Avro type, with unions only as ["null", T]. Not
/// thread-safe: one codec per source or sink, used on its thread.
class AvroCodec {
 public:
  ~AvroCodec();
  AvroCodec(const AvroCodec&) = delete;
  AvroCodec& operator=(const AvroCodec&) = delete;

  /// Reads and parses the .avsc file at `path`. A missing or unreadable file, an invalid schema
  /// (with the parser's message) or an unsupported type is a configuration error at `where`.
  static Result<std::unique_ptr<AvroCodec>> Make(const std::string& path,
                                                 const config::Location& where);

  /// The Arrow schema of the decoded rows: one field per Avro field, in order.
  const std::shared_ptr<arrow::Schema>& schema() const { return schema_; }

  /// Decodes one message into the rows being built. A message that is not exactly one record of
  /// the schema adds nothing and returns false with `reason` set.
  Result<bool> Append(std::string_view message, std::string* reason);

  /// The rows appended since the last call.
  Result<std::shared_ptr<arrow::RecordBatch>> Finish();

  /// Checks that rows of `output` can be written with this (writer) schema: every Avro field is
  /// an output field of a type that converts without loss, and every output field is in the
  /// Avro schema. A configuration error at the `avro_schema` option otherwise.
  Status CheckWritable(const arrow::Schema& output) const;

  /// Brings a batch of the output schema to the types Encode() reads (call once per batch).
  Result<std::shared_ptr<arrow::RecordBatch>> Prepare(const arrow::RecordBatch& batch) const;

  /// Encodes row `row` of a prepared batch as one Avro record into `out`. False with `reason`
  /// set when the row cannot be written (a null in a field that is not nullable).
  Result<bool> Encode(const arrow::RecordBatch& prepared, int64_t row, std::string* out,
                      std::string* reason);

 private:
  struct Handles;
  AvroCodec() = default;

  std::shared_ptr<arrow::Schema> schema_;
  std::unique_ptr<Handles> handles_;
  config::Location where_;
  std::string path_;
};

}  // namespace sluice::formats
