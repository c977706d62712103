#include "sluice/connectors/file/pending_parts.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <filesystem>

#include "sluice/formats/value_text.h"

namespace sluice::connectors {
namespace {

Status Unreadable(std::string_view text, std::string_view why) {
  return Status::Invalid(fmt::format(
      "file sink: the checkpoint's description of pending parts cannot be read ({}): {}", why,
      text.substr(0, 200)));
}

/// The upload of an object's part: its id (`upload_id`), size and uploaded parts.
Status ReadUpload(std::string_view text, simdjson::dom::element part, std::string_view upload_id,
                  PendingPart* pending) {
  if (upload_id.empty()) return Unreadable(text, "an empty upload id");
  pending->upload_id = std::string(upload_id);
  simdjson::dom::array uploaded;
  if (part["size"].get_int64().get(pending->size) != simdjson::SUCCESS || pending->size < 0 ||
      part["uploaded"].get_array().get(uploaded) != simdjson::SUCCESS) {
    return Unreadable(text, "an upload without its size and parts");
  }
  for (simdjson::dom::element entry : uploaded) {
    int64_t number = 0;
    std::string_view etag;
    simdjson::dom::array pair;
    if (entry.get_array().get(pair) != simdjson::SUCCESS || pair.size() != 2 ||
        pair.at(0).get_int64().get(number) != simdjson::SUCCESS ||
        pair.at(1).get_string().get(etag) != simdjson::SUCCESS || number < 1 || number > 10000) {
      return Unreadable(text, "an uploaded part that is not [number, ETag]");
    }
    pending->uploaded.push_back(UploadedPart{static_cast<int>(number), std::string(etag)});
  }
  return Status::OK();
}

}  // namespace

std::string PendingPart::Identity() const {
  return is_object() ? "upload " + upload_id
                     : std::filesystem::path(temporary).lexically_normal().string();
}

std::string PendingParts::ToJson() const {
  std::string json = "{\"parts\":[";
  for (size_t i = 0; i < parts.size(); ++i) {
    const PendingPart& part = parts[i];
    json += i == 0 ? "{" : ",{";
    // Valid UTF-8: PartTemplate refuses a path that is not, and escapes the values it puts in.
    if (!part.is_object()) {
      json += "\"temporary\":";
      formats::AppendJsonString(part.temporary, &json, formats::InvalidUtf8::kKeep);
      json += ',';
    }
    json += "\"final\":";
    formats::AppendJsonString(part.final_path, &json, formats::InvalidUtf8::kKeep);
    if (part.is_object()) {
      json += ",\"upload_id\":";
      formats::AppendJsonString(part.upload_id, &json, formats::InvalidUtf8::kReplace);
      json += fmt::format(",\"size\":{},\"uploaded\":[", part.size);
      for (size_t j = 0; j < part.uploaded.size(); ++j) {
        json += fmt::format("{}[{},", j == 0 ? "" : ",", part.uploaded[j].number);
        formats::AppendJsonString(part.uploaded[j].etag, &json, formats::InvalidUtf8::kReplace);
        json += ']';
      }
      json += ']';
    }
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
    std::string_view final_path;
    if (part["final"].get_string().get(final_path) != simdjson::SUCCESS || final_path.empty()) {
      return Unreadable(text, "a part without its final path");
    }
    PendingPart pending_part;
    pending_part.final_path = std::string(final_path);
    std::string_view value;
    if (part["upload_id"].get_string().get(value) == simdjson::SUCCESS) {
      SLUICE_RETURN_NOT_OK(ReadUpload(text, part, value, &pending_part));
    } else if (part["temporary"].get_string().get(value) == simdjson::SUCCESS && !value.empty()) {
      pending_part.temporary = std::string(value);
    } else {
      return Unreadable(text, "a part with neither a temporary path nor an upload");
    }
    pending.parts.push_back(std::move(pending_part));
  }
  return pending;
}

}  // namespace sluice::connectors
