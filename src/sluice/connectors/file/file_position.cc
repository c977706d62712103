#include "sluice/connectors/file/file_position.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string_view>

#include "sluice/formats/value_text.h"

namespace sluice::connectors {

FileStamp StampOf(const std::string& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error) return {};
  const auto modified = std::filesystem::last_write_time(path, error);
  if (error) return {};
  return {static_cast<int64_t>(size),
          std::chrono::duration_cast<std::chrono::nanoseconds>(modified.time_since_epoch())
              .count()};
}

std::string EncodeFilePositions(const std::vector<FilePosition>& files) {
  std::string text = "{\"files\":[";
  for (size_t i = 0; i < files.size(); ++i) {
    const FilePosition& file = files[i];
    if (i > 0) text += ',';
    text += "{\"path\":";
    formats::AppendJsonString(file.path, &text);
    text += fmt::format(
        ",\"partition\":{},\"rows\":{},\"latest\":{},\"done\":{},\"size\":{},\"modified_ns\":{}}}",
        file.partition, file.rows, file.latest, file.done ? "true" : "false", file.stamp.size,
        file.stamp.modified_ns);
  }
  text += "]}";
  return text;
}

Result<std::vector<FilePosition>> DecodeFilePositions(const std::string& text) {
  auto invalid = [&](std::string_view why) {
    return Status::Invalid(
        fmt::format("the file source's position in the checkpoint is not valid ({}): {}", why,
                    text.substr(0, 200)));
  };
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array list;
  if (parser.parse(text).get(root) != simdjson::SUCCESS) return invalid("not JSON");
  if (root["files"].get_array().get(list) != simdjson::SUCCESS) return invalid("no files");
  std::vector<FilePosition> files;
  std::set<std::string> paths;
  std::set<int32_t> partitions;
  for (simdjson::dom::element element : list) {
    FilePosition file;
    std::string_view path;
    int64_t partition = 0;
    if (element["path"].get_string().get(path) != simdjson::SUCCESS ||
        element["partition"].get_int64().get(partition) != simdjson::SUCCESS ||
        element["rows"].get_int64().get(file.rows) != simdjson::SUCCESS ||
        element["latest"].get_int64().get(file.latest) != simdjson::SUCCESS ||
        element["done"].get_bool().get(file.done) != simdjson::SUCCESS ||
        element["size"].get_int64().get(file.stamp.size) != simdjson::SUCCESS ||
        element["modified_ns"].get_int64().get(file.stamp.modified_ns) != simdjson::SUCCESS) {
      return invalid("a file lacks a field");
    }
    if (partition < 0 || partition > INT32_MAX || file.rows < 0) return invalid("out of range");
    file.path = std::string(path);
    file.partition = static_cast<int32_t>(partition);
    if (!paths.insert(file.path).second || !partitions.insert(file.partition).second) {
      return invalid(fmt::format("'{}' or its partition is listed twice", file.path));
    }
    files.push_back(std::move(file));
  }
  return files;
}

}  // namespace sluice::connectors
