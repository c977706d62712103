#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sluice/common/status.h"

namespace sluice {

/// Parses a size in bytes: "512B", "64KB", "128MB", "4GB", "1TB" (powers of 1024, as Flink and
/// Kafka users write them; "KiB", "MiB", "GiB", "TiB" mean the same), also "1.5GB". A bare
/// number is an error: a unit is always required.
Result<int64_t> ParseByteSize(std::string_view text);

/// A size for messages: "512 B", "1.5 MB", "4 GB".
std::string FormatByteSize(int64_t bytes);

}  // namespace sluice
