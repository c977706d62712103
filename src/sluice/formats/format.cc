#include "sluice/formats/format.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace sluice::formats {

std::string_view FormatName(Format format) {
  switch (format) {
    case Format::kCsv:
      return "csv";
    case Format::kJsonLines:
      return "jsonl";
    case Format::kParquet:
      return "parquet";
    case Format::kArrow:
      return "arrow";
    case Format::kAvro:
      return "avro";
    case Format::kOrc:
      return "orc";
  }
  return "unknown";
}

std::vector<std::string> FormatNames() { 
  return {"csv", "jsonl", "json", "parquet", "arrow", "avro", "orc"};
}

Result<Format> ParseFormatName(std::string_view name) {
  if (name == "csv") return Format::kCsv;
  if (name == "jsonl" || name == "json" || name == "ndjson") return Format::kJsonLines;
  if (name == "parquet") return Format::kParquet;
  if (name == "arrow" || name == "ipc" || name == "feather") return Format::kArrow;
  if (name == "avro") return Format::kAvro;
  if (name == "orc") return Format::kOrc;
  return Status::Invalid(fmt::format(
      "unknown format '{}' (expected csv, jsonl, json, parquet, arrow, avro or orc)", name));
}

std::optional<Format> FormatFromPath(std::string_view path) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension == ".csv") return Format::kCsv;
  if (extension == ".jsonl" || extension == ".ndjson" || extension == ".json")
    return Format::kJsonLines;
  if (extension == ".parquet" || extension == ".pq") return Format::kParquet;
  if (extension == ".arrow" || extension == ".ipc" || extension == ".feather")
    return Format::kArrow;
  if (extension == ".avro") return Format::kAvro;
  if (extension == ".orc") return Format::kOrc;
  return std::nullopt;
}

}  // namespace sluice::formats
