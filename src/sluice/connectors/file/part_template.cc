#include "sluice/connectors/file/part_template.h"

#include <arrow/compute/cast.h>
#include <arrow/type.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include "sluice/common/file_system.h"
#include "sluice/common/spelling.h"
#include "sluice/connectors/file/output_target.h"
#include "sluice/formats/utf8_text.h"
#include "sluice/formats/type_names.h"

namespace sluice::connectors {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPartPlaceholder = "part";
/// What Hive, Spark and DuckDB write for a null partition value.
constexpr std::string_view kDefaultPartition = "__HIVE_DEFAULT_PARTITION__";
constexpr int kPartDigits = 6;

/// Characters Hive escapes in partition values: path separators, `=` (which splits a
/// key=value directory), `%` (the escape itself), and what globs and URLs read specially.
bool NeedsEscape(unsigned char c) {
  if (c < 0x20 || c == 0x7f) return true;
  switch (c) {
    case '"': case '#': case '%': case '\'': case '*': case '/': case ':': case '=':
    case '?': case '\\': case '{': case '}': case '[': case ']': case '^':
      return true;
    default:
      return false;
  }
}

std::string ChildPath(const std::string& directory, std::string_view name) {
  if (directory.empty()) return std::string(name);
  if (directory.ends_with('/')) return directory + std::string(name);
  return directory + "/" + std::string(name);
}

}  // namespace

std::string EscapePathValue(std::optional<std::string_view> value) {
  if (!value || value->empty()) return std::string(kDefaultPartition);
  const bool utf8 = formats::IsValidUtf8(*value);
  std::string escaped;
  escaped.reserve(value->size());
  for (size_t i = 0; i < value->size(); ++i) {
    const auto c = static_cast<unsigned char>((*value)[i]);
    // A leading dot would make `.`, `..` or a hidden file.
    if (NeedsEscape(c) || (i == 0 && c == '.') || (!utf8 && c >= 0x80)) {
      escaped += fmt::format("%{:02X}", c);
    } else {
      escaped += static_cast<char>(c);
    }
  }
  return escaped;
}

Result<PartTemplate> PartTemplate::Parse(const config::LocatedText& path) {
  PartTemplate parsed;
  parsed.path_ = path;
  const std::string& text = path.text;
  const std::string hint = "e.g. path: out/date={date}/part-{part}.parquet";
  if (!formats::IsValidUtf8(text)) {
    // A checkpoint names its part files in JSON, which is UTF-8.
    return config::ConfigError(path.where, "with roll, path must be valid UTF-8");
  }
  // Where the first component begins: after the root, which is no template.
  size_t start = 0;
  if (text.starts_with("file://")) {
    parsed.root_ = "/";  // file:///out/x is the local path /out/x
    start = 8;
  } else if (IsUri(text)) {
    const size_t bucket_end = text.find('/', text.find("://") + 3);
    if (bucket_end == std::string::npos || text.find_first_of("{}") < bucket_end) {
      return config::ConfigError(path.where,
                                 "with roll, an object store path names its bucket and then a "
                                 "template of keys",
                                 "e.g. path: s3://lake/out/part-{part}.parquet");
    }
    parsed.root_ = text.substr(0, bucket_end + 1);
    start = parsed.root_.size();
  } else if (text.starts_with('/')) {
    parsed.root_ = "/";
    start = 1;
  }
  Component component;
  std::string literal;
  int parts = 0;
  auto end_literal = [&] {
    if (!literal.empty()) component.push_back(Segment{Segment::kLiteral, std::move(literal)});
    literal.clear();
  };
  for (size_t i = start; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '/') {
      end_literal();
      if (!component.empty()) parsed.components_.push_back(std::move(component));
      component.clear();
      continue;
    }
    if (text[i] == '}') {
      return config::ConfigError(path.At(i), "a '}' in path closes no placeholder", hint);
    }
    if (text[i] != '{') {
      literal += text[i];
      continue;
    }
    const size_t close = text.find_first_of("{}/", i + 1);
    if (close == std::string::npos || text[close] != '}') {
      return config::ConfigError(path.At(i), "a '{' in path opens a placeholder that never closes",
                                 hint);
    }
    const std::string name = text.substr(i + 1, close - i - 1);
    if (name.empty()) {
      return config::ConfigError(path.At(i), "an empty placeholder {} in path",
                                 "write {part} for the part id or {field} for a column's value");
    }
    end_literal();
    if (name == kPartPlaceholder) {
      ++parts;
      component.push_back(Segment{Segment::kPart, name});
    } else {
      auto known = std::find(parsed.fields_.begin(), parsed.fields_.end(), name);
      if (known == parsed.fields_.end()) {
        parsed.fields_.push_back(name);
        parsed.field_locations_.push_back(path.At(i));
        known = parsed.fields_.end() - 1;
      }
      component.push_back(Segment{static_cast<int>(known - parsed.fields_.begin()), name});
    }
    i = close;
  }
  const bool part_in_file_name =
      !parsed.components_.empty() &&
      std::any_of(parsed.components_.back().begin(), parsed.components_.back().end(),
                  [](const Segment& segment) { return segment.field == Segment::kPart; });
  if (parts != 1 || !part_in_file_name) {
    return config::ConfigError(
        path.where,
        parts == 0 ? "with roll, path is a template that needs {part}, the part id"
                   : "path must have {part} once, in the file name",
        "e.g. path: out/part-{part}.parquet, or out/date={date}/part-{part}.parquet for a "
        "directory per value of the column date");
  }
  return parsed;
}

Result<std::vector<int>> PartTemplate::Bind(const arrow::Schema& schema) const {
  std::vector<int> indices;
  for (size_t i = 0; i < fields_.size(); ++i) {
    const int index = schema.GetFieldIndex(fields_[i]);
    if (index < 0) {
      return config::ConfigError(
          field_locations_[i],
          fmt::format("path names the field '{}', which the sink's input does not have",
                      fields_[i]),
          SpellingHint(fields_[i], schema.field_names()));
    }
    const arrow::DataType& type = *schema.field(index)->type();
    if (!arrow::is_base_binary_like(type.id()) && !arrow::compute::CanCast(type, *arrow::utf8())) {
      return config::ConfigError(
          field_locations_[i],
          fmt::format("path names the field '{}', a {} column, which has no text for a path",
                      fields_[i], formats::TypeName(type)),
          "partition by a string, number, bool, date or timestamp column (derive one)");
    }
    indices.push_back(index);
  }
  return indices;
}

std::string PartTemplate::Partition::Path(int64_t part_id) const {
  return fmt::format("{}{:0{}}{}", before_part, part_id, kPartDigits, after_part);
}

PartTemplate::Partition PartTemplate::Fill(
    const std::vector<std::optional<std::string_view>>& values) const {
  Partition partition;
  std::string* out = &partition.before_part;
  *out += root_;
  for (size_t level = 0; level < components_.size(); ++level) {
    if (level > 0) *out += '/';
    for (const Segment& segment : components_[level]) {
      if (segment.field == Segment::kLiteral) {
        *out += segment.text;
      } else if (segment.field == Segment::kPart) {
        out = &partition.after_part;
      } else {
        *out += EscapePathValue(values[segment.field]);
      }
    }
  }
  return partition;
}

bool PartTemplate::Matches(const Component& component, size_t index, std::string_view name,
                           int64_t* part_id) {
  if (index == component.size()) return name.empty();
  const Segment& segment = component[index];
  if (segment.field == Segment::kLiteral) {
    return name.starts_with(segment.text) &&
           Matches(component, index + 1, name.substr(segment.text.size()), part_id);
  }
  for (size_t length = 1; length <= name.size(); ++length) {
    if (segment.field == Segment::kPart) {
      if (name[length - 1] < '0' || name[length - 1] > '9') return false;
      if (!Matches(component, index + 1, name.substr(length), part_id)) continue;
      auto [end, error] = std::from_chars(name.data(), name.data() + length, *part_id);
      return error == std::errc();
    }
    if (Matches(component, index + 1, name.substr(length), part_id)) return true;
  }
  return false;
}

void PartTemplate::Walk(size_t level, const std::string& directory,
                        const std::function<void(const Found&)>& found) const {
  const Component& component = components_[level];
  const bool last = level + 1 == components_.size();
  int64_t part_id = 0;
  if (!last && component.size() == 1 && component[0].field == Segment::kLiteral) {
    // A literal directory: no listing needed.
    const std::string child = ChildPath(directory, component[0].text);
    std::error_code error;
    if (fs::is_directory(child, error)) Walk(level + 1, child, found);
    return;
  }
  std::error_code error;
  const std::string listed = directory.empty() ? std::string(".") : directory;
  for (fs::directory_iterator it(listed, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    std::error_code ignored;
    if (!last) {
      if (it->is_directory(ignored) && Matches(component, 0, name, &part_id))
        Walk(level + 1, ChildPath(directory, name), found);
      continue;
    }
    if (Matches(component, 0, name, &part_id)) {
      found(Found{ChildPath(directory, name), part_id, std::nullopt});
    } else if (auto temporary = ParseTemporaryName(name)) {
      if (Matches(component, 0, temporary->first, &part_id))
        found(Found{ChildPath(directory, name), part_id, temporary->second});
    }
  }
}

void PartTemplate::FindFiles(const std::function<void(const Found&)>& found) const {
  if (root_.size() > 1) return;  // a URI
  Walk(0, root_, found);
}

std::string PartTemplate::FixedPrefix() const {
  std::string prefix = root_;
  for (size_t level = 0; level < components_.size(); ++level) {
    if (level > 0) prefix += '/';
    for (const Segment& segment : components_[level]) {
      if (segment.field != Segment::kLiteral) return prefix;
      prefix += segment.text;
    }
  }
  return prefix;
}

std::optional<int64_t> PartTemplate::PartIdOf(std::string_view path) const {
  if (!path.starts_with(root_)) return std::nullopt;
  path.remove_prefix(root_.size());
  int64_t part_id = 0;
  for (size_t level = 0; level < components_.size(); ++level) {
    const size_t slash = path.find('/');
    const bool last = level + 1 == components_.size();
    if (last != (slash == std::string_view::npos)) return std::nullopt;
    if (!Matches(components_[level], 0, path.substr(0, slash), &part_id)) return std::nullopt;
    if (!last) path.remove_prefix(slash + 1);
  }
  return part_id;
}

}  // namespace sluice::connectors
