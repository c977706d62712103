#pragma once

#include <arrow/type_fwd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"

// The one mapping between Avro schemas and Arrow types, used by the Avro container reader and
// writer: an Avro schema (JSON) is parsed into a tree of AvroNode, each knowing its Arrow type;
// an Arrow schema is turned into such a tree (and its JSON) for writing.

namespace sluice::formats::avro {

/// The Avro types a node can have; a union is not a type of its own here: ["null", T] is the
/// node of T with `nullable` set, and other unions are refused.
enum class AvroType {
  kNull,
  kBoolean,
  kInt,
  kLong,
  kFloat,
  kDouble,
  kBytes,
  kString,
  kRecord,
  kEnum,
  kArray,
  kMap,
  kFixed,
};

/// The logical types Sluice reads into Arrow types of their own; others are read as their
/// underlying type, as the Avro specification says.
enum class AvroLogical {
  kNone,
  kDate,                  ///< int → date32
  kTimeMillis,            ///< int → time32[ms]
  kTimeMicros,            ///< long → time64[us]
  kTimestampMillis,       ///< long → timestamp[us, UTC]
  kTimestampMicros,       ///< long → timestamp[us, UTC]
  kLocalTimestampMillis,  ///< long → timestamp[us]
  kLocalTimestampMicros,  ///< long → timestamp[us]
  kDecimal,               ///< bytes or fixed → decimal128(precision, scale)
  kUuid,                  ///< string → string
};

/// One Avro type of a schema, with the Arrow type its values are read into. Immutable once
/// built; shared between the places a named type is used.
struct AvroNode {
  AvroType type = AvroType::kNull;
  AvroLogical logical = AvroLogical::kNone;
  /// In a ["null", T] union: whether null is branch 0 (else branch 1).
  bool nullable = false;
  int null_branch = 0;
  int precision = 0;
  int scale = 0;
  /// kFixed: the size in bytes.
  int64_t fixed_size = 0;
  /// kRecord and kEnum, kFixed: the full name.
  std::string name;
  /// kRecord: the field names; kEnum: the symbols.
  std::vector<std::string> names;
  /// kRecord: one per field; kArray: the items; kMap: the values.
  std::vector<std::shared_ptr<const AvroNode>> children;
  /// The smallest number of bytes a value takes, to bound counts a damaged input claims.
  int64_t min_size = 0;
  std::shared_ptr<arrow::DataType> arrow_type;
};

/// Parses a container file's writer schema, which must be a record: its fields become the
/// columns. Unions other than ["null", T], recursive types and malformed schemas are
/// Status::Invalid naming the field.
Result<std::shared_ptr<const AvroNode>> ParseSchema(std::string_view json);

/// The Arrow schema of the rows of a record node.
std::shared_ptr<arrow::Schema> ArrowSchemaOf(const AvroNode& record);

/// The Avro record schema rows of `schema` are written with; nullable fields become
/// ["null", T]. Its nodes' Arrow types are what the values are cast to before encoding (and
/// what reading the file back gives). A type Avro cannot hold (a map with non-string keys, a
/// union, a duration) is Status::TypeError naming the field.
Result<std::shared_ptr<const AvroNode>> SchemaFromArrow(const arrow::Schema& schema);

/// The JSON text of a node made by SchemaFromArrow.
std::string SchemaJson(const AvroNode& node);

}  // namespace sluice::formats::avro
