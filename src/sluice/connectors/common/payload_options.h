#pragma once

#include <arrow/type.h>

#include <memory>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"
#include "sluice/formats/message_codec.h"

namespace sluice::connectors {

// The options that say how message payloads are encoded, declared once for every message
// connector (kafka, mqtt, amqp, http): `format`, `schema`, `avro_schema`.

/// A message source's `format`, `avro_schema` and `schema`.
std::vector<config::OptionSpec> PayloadSourceOptionSpecs();

/// How a message source decodes payloads, from PayloadSourceOptionSpecs(); configuration
/// errors at their place in the pipeline file (a schema missing for json, given for raw, ...).
Result<formats::PayloadDecoding> PayloadDecodingFromConfig(const config::Options& options);

/// A message sink's `format` and `avro_schema`.
std::vector<config::OptionSpec> PayloadSinkOptionSpecs();

/// How a message sink encodes payloads, from PayloadSinkOptionSpecs(), for a factory that does
/// not know the rows' schema yet: make the encoder in Sink::Open() with
/// formats::PayloadEncoder::Make(encoding, schema).
Result<formats::PayloadEncoding> PayloadEncodingFromConfig(const config::Options& options);

/// The encoder of a message sink for rows of `schema`, from PayloadSinkOptionSpecs();
/// configuration errors at their place (an avro_schema that does not cover the rows, ...).
Result<std::unique_ptr<formats::PayloadEncoder>> PayloadEncoderFromConfig(
    const config::Options& options, const std::shared_ptr<arrow::Schema>& schema);

}  // namespace sluice::connectors
