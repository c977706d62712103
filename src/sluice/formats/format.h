#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::formats {

/// The file and message formats Sluice reads and writes.
enum class Format {
  kCsv,        ///< comma-separated values with an optional header row
  kJsonLines,  ///< one JSON object per line ("jsonl", also accepted as "json")
  kParquet,    ///< Apache Parquet
  kArrow,      ///< Arrow IPC, file or stream format
  kAvro,       ///< Avro object container files
  kOrc,        ///< Apache ORC (read only)
};

/// The canonical name of a format: "csv", "jsonl", "parquet", "arrow", "avro" or "orc".
std::string_view FormatName(Format format);

/// The names accepted in pipeline files (for `enum` option declarations and hints).
std::vector<std::string> FormatNames();

/// Parses a format name; "json" is taken as JSON lines because a stream of JSON documents is
/// what users mean by it in a pipeline.
Result<Format> ParseFormatName(std::string_view name);

/// Guesses the format from a file's extension (.csv, .jsonl/.ndjson/.json, .parquet/.pq,
/// .arrow/.ipc/.feather, .avro, .orc); std::nullopt when the extension says nothing.
std::optional<Format> FormatFromPath(std::string_view path);

}  // namespace sluice::formats
