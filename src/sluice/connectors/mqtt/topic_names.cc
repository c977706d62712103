#include "sluice/connectors/mqtt/topic_names.h"

#include <arrow/array.h>
#include <fmt/format.h>

#include <utility>

#include "sluice/common/spelling.h"
#include "sluice/formats/value_text.h"

namespace sluice::connectors::mqtt {

Status CheckTopicFilter(std::string_view filter) {
  if (filter.empty()) return Status::Invalid("a topic filter cannot be empty");
  if (filter.size() > 65535) return Status::Invalid("a topic filter is at most 65535 bytes");
  if (filter.find('\0') != std::string_view::npos)
    return Status::Invalid("a topic filter cannot hold NUL");
  std::string_view rest = filter;
  if (rest.rfind("$share/", 0) == 0) {
    rest.remove_prefix(7);
    size_t slash = rest.find('/');
    std::string_view group = rest.substr(0, slash);
    if (slash == std::string_view::npos || group.empty() || slash + 1 == rest.size()) {
      return Status::Invalid(
          fmt::format("'{}': a shared subscription is $share/<group>/<filter>", filter));
    }
    if (group.find_first_of("+#") != std::string_view::npos) {
      return Status::Invalid(fmt::format("'{}': a share group name cannot hold + or #", filter));
    }
    rest.remove_prefix(slash + 1);
  }
  size_t start = 0;
  while (true) {
    size_t end = rest.find('/', start);
    std::string_view level =
        rest.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (level.find_first_of("+#") != std::string_view::npos && level.size() > 1) {
      return Status::Invalid(
          fmt::format("'{}': + and # must stand alone in a level (like a/+/c or a/#)", filter));
    }
    if (level == "#" && end != std::string_view::npos) {
      return Status::Invalid(fmt::format("'{}': # must be the last level", filter));
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return Status::OK();
}

Status CheckTopicName(std::string_view name) {
  if (name.empty()) return Status::Invalid("the topic is empty");
  if (name.size() > 65535) return Status::Invalid("the topic is longer than 65535 bytes");
  if (name.find_first_of("+#") != std::string_view::npos)
    return Status::Invalid(fmt::format("topic '{}' holds a wildcard (+ or #)", name));
  if (name.find('\0') != std::string_view::npos)
    return Status::Invalid("the topic holds a NUL character");
  return Status::OK();
}

Result<TopicTemplate> TopicTemplate::Parse(const config::LocatedText& topic) {
  TopicTemplate parsed;
  const std::string& text = topic.text;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) parsed.segments_.push_back({std::move(literal), {}, {}});
    literal.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      literal += c;
      ++i;
      continue;
    }
    if (c == '}') {
      return config::ConfigError(topic.At(i), "unmatched } in the topic",
                                 "write }} for a brace, {field} for a field's value");
    }
    if (c != '{') {
      literal += c;
      continue;
    }
    size_t close = text.find('}', i + 1);
    if (close == std::string::npos || close == i + 1) {
      return config::ConfigError(topic.At(i), "a { in the topic must open a {field} placeholder",
                                 "write {{ for a brace");
    }
    flush();
    std::string field = text.substr(i + 1, close - i - 1);
    parsed.segments_.push_back({{}, field, topic.At(i + 1)});
    parsed.fields_.push_back(std::move(field));
    i = close;
  }
  flush();
  if (parsed.fields_.empty()) {
    parsed.literal_ = parsed.segments_.empty() ? std::string() : parsed.segments_[0].text;
    Status valid = CheckTopicName(parsed.literal_);
    if (!valid.ok()) return config::ConfigError(topic.where, valid.message());
  }
  return parsed;
}

Status TopicTemplate::Bind(const arrow::Schema& schema) {
  for (auto& segment : segments_) {
    if (segment.field.empty()) continue;
    segment.index = schema.GetFieldIndex(segment.field);
    if (segment.index < 0) {
      return config::ConfigError(
          segment.where, fmt::format("topic field '{}' is not in the output", segment.field),
          SpellingHint(segment.field, schema.field_names()));
    }
  }
  return Status::OK();
}

bool TopicTemplate::Render(const arrow::RecordBatch& batch, int64_t row, std::string* topic,
                           std::string* reason) const {
  topic->clear();
  for (const auto& segment : segments_) {
    if (segment.field.empty()) {
      *topic += segment.text;
      continue;
    }
    const arrow::Array& column = *batch.column(segment.index);
    if (column.IsNull(row)) {
      *reason = fmt::format("topic field '{}' is null", segment.field);
      return false;
    }
    formats::AppendPlainValue(column, row, topic);
  }
  Status valid = CheckTopicName(*topic);
  if (!valid.ok()) {
    *reason = valid.message();
    return false;
  }
  return true;
}

}  // namespace sluice::connectors::mqtt
