#include "sluice/connectors/file/pending_parts.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "sluice/formats/value_text.h"

namespace sluice::connectors {
namespace {

Status Unreadable(std::string_view text, std::string_view why) {
  return Status::Invalid(fmt::format(
      "file sink: the checkpoint's description of pending parts cannot be read ({}): {}", why,
      text.substr(0, 200)));
}

}  // namespace

std::string PendingParts::ToJson() const {
  std::string json = "{\"parts\":[";
  for (size_t i = 0; i < parts.size(); ++i) {
    json += i == 0 ? "{\"temporary\":" : ",{\"temporary\":";
    // Valid UTF-8: PartTemplate refuses a path that is not, and escapes the values it puts in.
    formats::AppendJsonString(parts[i].temporary, &json, formats::InvalidUtf8::kKeep);
    json += ",\"final\":";
    formats::AppendJsonString(parts[i].final_path, &json, formats::InvalidUtf8::kKeep);
    json += '}';
  }
  json += fmt::format("],\"next_part\":{}}}", next_part);
  return json;
}

Result<PendingParts> PendingParts::FromJson(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  simdjson::padded_string padded(text);
  if (parser.parse(padded).get(document) != simdjson::SUCCESS)
    return Unreadable(text, "not JSON");
  simdjson::dom::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS)
    return Unreadable(text, "not an object");
  PendingParts pending;
  int64_t next_part = 0;
  simdjson::error_code next_error = object["next_part"].get_int64().get(next_part);
  if (next_error == simdjson::SUCCESS) {
    if (next_part < 0) return Unreadable(text, "next_part is negative");
    pending.next_part = next_part;
  } else if (next_error != simdjson::NO_SUCH_FIELD) {
    return Unreadable(text, "next_part is not a whole number");
  }
  simdjson::dom::array parts;
  simdjson::error_code parts_error = object["parts"].get_array().get(parts);
  if (parts_error == simdjson::NO_SUCH_FIELD) return pending;
  if (parts_error != simdjson::SUCCESS) return Unreadable(text, "parts is not a list");
  for (simdjson::dom::element part : parts) {
    std::string_view temporary;
    std::string_view final_path;
    if (part["temporary"].get_string().get(temporary) != simdjson::SUCCESS ||
        part["final"].get_string().get(final_path) != simdjson::SUCCESS || temporary.empty() ||
        final_path.empty()) {
      return Unreadable(text, "a part without its temporary and final paths");
    }
    pending.parts.push_back(PendingPart{std::string(temporary), std::string(final_path)});
  }
  return pending;
}

}  // namespace sluice::connectors
