#include "sluice/state/manifest.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "sluice/formats/value_text.h"

namespace sluice::state {
namespace {

std::string Quoted(std::string_view text) {
  std::string out;
  formats::AppendJsonString(text, &out);
  return out;
}

std::string ValuesJson(const std::map<std::string, std::string>& values) {
  std::string out = "{";
  for (const auto& [key, value] : values) {
    if (out.size() > 1) out += ", ";
    out += Quoted(key) + ": " + Quoted(value);
  }
  return out + "}";
}

/// Reads a manifest field, naming it when it is missing or of the wrong type.
class Reader {
 public:
  explicit Reader(std::string* error) : error_(error) {}

  template <typename T>
  T Get(simdjson::dom::element object, const char* key) {
    T value{};
    if (!error_->empty()) return value;
    auto field = object[key];
    if (field.error()) {
      *error_ = fmt::format("field '{}' is missing", key);
    } else if (field.get(value)) {
      *error_ = fmt::format("field '{}' has the wrong type", key);
    }
    return value;
  }

  std::string Text(simdjson::dom::element object, const char* key) {
    return std::string(Get<std::string_view>(object, key));
  }

  /// The elements of an array field; none when it is missing or not an array.
  std::vector<simdjson::dom::element> Items(simdjson::dom::element object, const char* key) {
    std::vector<simdjson::dom::element> items;
    auto array = Get<simdjson::dom::array>(object, key);
    if (!error_->empty()) return items;
    for (auto item : array) items.push_back(item);
    return items;
  }

  /// The members of an object field; none when it is missing or not an object.
  std::vector<std::pair<std::string, simdjson::dom::element>> Members(
      simdjson::dom::element object, const char* key) {
    std::vector<std::pair<std::string, simdjson::dom::element>> members;
    auto fields = Get<simdjson::dom::object>(object, key);
    if (!error_->empty()) return members;
    for (auto [name, value] : fields) members.emplace_back(std::string(name), value);
    return members;
  }

  /// A nested JSON value, kept as text (a source's position, a sink's pending commit).
  std::string Raw(simdjson::dom::element object, const char* key) {
    if (!error_->empty()) return {};
    auto field = object[key];
    if (field.error()) {
      *error_ = fmt::format("field '{}' is missing", key);
      return {};
    }
    return simdjson::minify(field.value_unsafe());
  }

 private:
  std::string* error_;
};

}  // namespace

int64_t Manifest::state_bytes() const {
  int64_t total = 0;
  for (const auto& stage : stages) total += stage.state_bytes;
  return total;
}

std::string Manifest::ToJson() const {
  std::string out = "{\n";
  out += fmt::format("  \"format\": {},\n  \"pipeline\": {},\n  \"id\": {},\n", format,
                     Quoted(pipeline), id);
  out += fmt::format("  \"created\": {},\n  \"watermark\": {},\n", Quoted(created), watermark);
  out += fmt::format("  \"rows_in\": {},\n  \"rows_out\": {},\n  \"dead_letters\": {},\n",
                     rows_in, rows_out, dead_letters);
  out += fmt::format("  \"finished\": {},\n  \"deciding_sink\": {},\n", finished ? "true" : "false",
                     Quoted(deciding_sink));
  out += "  \"sources\": [";
  for (size_t i = 0; i < sources.size(); ++i) {
    const SourceRecord& source = sources[i];
    std::string partitions;
    for (const auto& [partition, latest] : source.partitions) {
      if (!partitions.empty()) partitions += ", ";
      partitions += fmt::format("[{}, {}]", partition, latest);
    }
    std::string named;
    for (const auto& [name, latest] : source.named_partitions) {
      if (!named.empty()) named += ", ";
      named += fmt::format("[{}, {}]", Quoted(name), latest);
    }
    out += fmt::format(
        "{}\n    {{\"name\": {}, \"batches\": {}, \"ended\": {}, \"partitions\": [{}],\n     "
        "\"named_partitions\": [{}],\n     \"position\": {}}}",
        i == 0 ? "" : ",", Quoted(source.name), source.batches, source.ended ? "true" : "false",
        partitions, named, source.position);
  }
  out += "\n  ],\n  \"stages\": [";
  for (size_t i = 0; i < stages.size(); ++i) {
    const StageRecord& stage = stages[i];
    std::string files;
    for (const auto& file : stage.files) {
      if (!files.empty()) files += ",";
      files += fmt::format(
          "\n       {{\"table\": {}, \"path\": {}, \"size\": {}, \"crc32\": {}}}",
          Quoted(file.table), Quoted(file.path), file.size, file.crc32);
    }
    out += fmt::format(
        "{}\n    {{\"id\": {}, \"processor\": {}, \"state_bytes\": {},\n     \"config\": {},\n     "
        "\"input_schema\": {},\n     \"values\": {},\n     \"files\": [{}]}}",
        i == 0 ? "" : ",", Quoted(stage.id), Quoted(stage.processor), stage.state_bytes,
        Quoted(stage.config), Quoted(stage.input_schema), ValuesJson(stage.values), files);
  }
  out += "\n  ],\n  \"sinks\": [";
  for (size_t i = 0; i < sinks.size(); ++i) {
    out += fmt::format("{}\n    {{\"name\": {}, \"role\": {}, \"pending\": {}}}",
                       i == 0 ? "" : ",", Quoted(sinks[i].name), Quoted(sinks[i].role),
                       sinks[i].pending);
  }
  out += "\n  ]\n}\n";
  return out;
}

Result<Manifest> Manifest::FromJson(const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(text).get(root)) {
    return Status::IOError("the manifest is not valid JSON (", simdjson::error_message(error),
                           "): it was torn or damaged");
  }
  std::string error;
  Reader read(&error);
  Manifest manifest;
  manifest.format = static_cast<int>(read.Get<int64_t>(root, "format"));
  if (error.empty() && manifest.format != kFormat) {
    return Status::IOError("the manifest has format ", manifest.format, ", this sluice reads ",
                           kFormat);
  }
  manifest.pipeline = read.Text(root, "pipeline");
  manifest.id = read.Get<int64_t>(root, "id");
  manifest.created = read.Text(root, "created");
  manifest.watermark = read.Get<int64_t>(root, "watermark");
  manifest.rows_in = read.Get<int64_t>(root, "rows_in");
  manifest.rows_out = read.Get<int64_t>(root, "rows_out");
  manifest.dead_letters = read.Get<int64_t>(root, "dead_letters");
  manifest.finished = read.Get<bool>(root, "finished");
  manifest.deciding_sink = read.Text(root, "deciding_sink");
  for (auto source : read.Items(root, "sources")) {
    SourceRecord record;
    record.name = read.Text(source, "name");
    record.batches = read.Get<int64_t>(source, "batches");
    record.ended = read.Get<bool>(source, "ended");
    record.position = read.Raw(source, "position");
    for (auto pair : read.Items(source, "partitions")) {
      simdjson::dom::array items;
      int64_t partition = 0, latest = 0;
      if (pair.get(items) || items.size() != 2 || items.at(0).get(partition) ||
          items.at(1).get(latest)) {
        if (error.empty()) error = "field 'partitions' is damaged";
        break;
      }
      record.partitions.emplace_back(static_cast<int32_t>(partition), latest);
    }
    for (auto pair : read.Items(source, "named_partitions")) {
      simdjson::dom::array items;
      std::string_view name;
      int64_t latest = 0;
      if (pair.get(items) || items.size() != 2 || items.at(0).get(name) ||
          items.at(1).get(latest)) {
        if (error.empty()) error = "field 'named_partitions' is damaged";
        break;
      }
      record.named_partitions.emplace_back(std::string(name), latest);
    }
    manifest.sources.push_back(std::move(record));
  }
  for (auto stage : read.Items(root, "stages")) {
    StageRecord record;
    record.id = read.Text(stage, "id");
    record.processor = read.Text(stage, "processor");
    record.state_bytes = read.Get<int64_t>(stage, "state_bytes");
    record.config = read.Text(stage, "config");
    record.input_schema = read.Text(stage, "input_schema");
    for (auto [key, value] : read.Members(stage, "values")) {
      std::string_view text;
      if (value.get(text)) {
        if (error.empty()) error = "field 'values' is damaged";
        break;
      }
      record.values.emplace(key, std::string(text));
    }
    for (auto file : read.Items(stage, "files")) {
      StateFile state_file;
      state_file.table = read.Text(file, "table");
      state_file.path = read.Text(file, "path");
      state_file.size = read.Get<int64_t>(file, "size");
      state_file.crc32 = static_cast<uint32_t>(read.Get<int64_t>(file, "crc32"));
      record.files.push_back(std::move(state_file));
    }
    manifest.stages.push_back(std::move(record));
  }
  for (auto sink : read.Items(root, "sinks")) {
    SinkRecord record;
    record.name = read.Text(sink, "name");
    record.role = read.Text(sink, "role");
    record.pending = read.Raw(sink, "pending");
    manifest.sinks.push_back(std::move(record));
  }
  if (!error.empty()) return Status::IOError("the manifest is damaged: ", error);
  return manifest;
}

}  // namespace sluice::state
