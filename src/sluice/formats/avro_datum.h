#pragma once

#include <arrow/type_fwd.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "sluice/common/status.h"
#include "sluice/formats/avro_schema.h"

// Avro's binary encoding of one value of an AvroNode, to and from Arrow. Decoding checks every
// length and count against the bytes there are before using it, so that damaged input never
// makes it allocate what a corrupt length claims or read past the end.

namespace sluice::formats::avro {

/// Reads Avro binary values from a span of bytes.
struct ByteCursor {
  std::string_view data;
  size_t position = 0;

  size_t remaining() const { return data.size() - position; }
  /// Reads a zig-zag varint (an Avro int or long); false past the end or when over-long.
  bool ReadLong(int64_t* value);
};

/// Appends the zig-zag varint of `value` to `out`.
void AppendLong(int64_t value, std::string* out);

/// The result of decoding one value.
struct DecodeOutcome {
  /// Why the bytes are not a value of the node; the position of what follows is lost.
  std::string broken;
  /// Why the value, read whole, cannot be used (text that is not UTF-8, a timestamp out of
  /// range); the first such problem is kept.
  std::string unusable;
};

/// Decodes one value of `node` at `in`, appending it to `builder` (which must have been made
/// for node.arrow_type), or only checking it when `builder` is null. Returns false when the
/// value is broken (`outcome->broken` says why); the builder is then left part-filled, so
/// callers check a value first and build it only when the check passed. A Status error is an
/// allocation failure.
Result<bool> DecodeValue(const AvroNode& node, ByteCursor* in, arrow::ArrayBuilder* builder,
                         DecodeOutcome* outcome);

/// Casts `columns`, one per field of the record node `record`, to the Arrow types EncodeValue
/// reads (the fields' arrow_type); nanoseconds are cut to microseconds. A column that does not
/// convert is Status::Invalid naming its field.
Result<arrow::ArrayVector> CastForEncoding(const AvroNode& record,
                                           const arrow::ArrayVector& columns);

/// Appends value `row` of `array` (of node.arrow_type) in Avro's binary encoding.
Status EncodeValue(const AvroNode& node, const arrow::Array& array, int64_t row, std::string* out);

}  // namespace sluice::formats::avro
