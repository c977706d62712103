#pragma once

#include <arrow/type_fwd.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::formats {

/// Parses a type name as written in a pipeline's `schema:` or `cast:` map. Accepted: bool,
/// int8..int64, uint8..uint64, float32/float, float64/double, string/utf8, large_string,
/// binary, timestamp and date, plus Arrow's spellings of them (boolean, utf8, date32, ...).
/// `timestamp` is timestamp[us, tz=UTC]: microseconds are precise enough for event time and
/// UTC keeps results independent of the machine's zone. `date` is date32.
/// An unknown name is Status::Invalid whose message lists or suggests the known names.
Result<std::shared_ptr<arrow::DataType>> ParseTypeName(std::string_view name);

/// The name a user would write for `type` (the inverse of ParseTypeName where one exists,
/// Arrow's ToString() otherwise), for messages and `sluice plugins`.
std::string TypeName(const arrow::DataType& type);

/// The canonical type names, for "did you mean" hints.
std::vector<std::string> TypeNames();

/// timestamp[us, tz=UTC], the one timestamp type Sluice produces when decoding text.
const std::shared_ptr<arrow::DataType>& TimestampType();

}  // namespace sluice::formats
