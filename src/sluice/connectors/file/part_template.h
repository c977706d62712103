#pragma once

#include <arrow/type_fwd.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/location.h"

namespace sluice::connectors {

/// The `path` of a rolling file sink: a path whose `{part}` stands for the part id and whose
/// `{field}` placeholders stand for values of the input's columns (Hive-style partitions:
/// `out/date={date}/part-{part}.parquet`).
///
/// The part id is written zero-padded to six digits (`part-000001`), wider when it needs to be.
/// A field value is written as text, escaped for a path as Hive does: `/`, `\`, `%`, `:`, `=`,
/// the characters globs and URLs treat specially, control characters and bytes that are not
/// UTF-8 become `%XX`, `.` and `..` are escaped whole, and a null or empty value is
/// `__HIVE_DEFAULT_PARTITION__`. So a value never leaves its directory.
///
/// Immutable once parsed; safe to share between threads.
class PartTemplate {
 public:
  /// Parses `path` (with where it stands, for errors). `{part}` must appear once, in the file
  /// name; a brace that does not open or close a placeholder is an error.
  static Result<PartTemplate> Parse(const config::LocatedText& path);

  /// Checks that every field placeholder names a column of `schema`, and returns the column
  /// indices in the order of fields(). A config error at the placeholder otherwise.
  Result<std::vector<int>> Bind(const arrow::Schema& schema) const;

  /// The distinct field names of the placeholders, in order of first appearance.
  const std::vector<std::string>& fields() const { return fields_; }

  /// A template with field values put in (escaped values, one per fields()), still waiting
  /// for its part id; Path() completes it.
  struct Partition {
    std::string before_part;
    std::string after_part;
    std::string Path(int64_t part_id) const;
  };
  /// Puts `values` (raw text, or nullopt for null; one per fields()) into the template.
  Partition Fill(const std::vector<std::optional<std::string_view>>& values) const;

  /// A file the template could have made, found on disk.
  struct Found {
    std::string path;
    int64_t part_id = 0;
    /// For a hidden temporary file (".<name>.sluice-<pid>.tmp"): the process that wrote it.
    std::optional<pid_t> writer;
  };
  /// The text every path the template makes begins with, up to its first placeholder
  /// ("s3://lake/out/part-"): where to list to find them in an object store.
  std::string FixedPrefix() const;

  /// The part id of `path` when the template could have made it (a path as Partition::Path()
  /// makes them, not a temporary name), else nullopt.
  std::optional<int64_t> PartIdOf(std::string_view path) const;

  /// Calls `found` for every part file and every temporary part file on disk that the template
  /// could have made, walking only the directories it could have made. Unreadable directories
  /// are skipped. Local paths only: a URI's template finds nothing.
  void FindFiles(const std::function<void(const Found&)>& found) const;

 private:
  /// A literal piece of text, or a placeholder: the part id (kPart) or a field's index.
  struct Segment {
    static constexpr int kLiteral = -2;
    static constexpr int kPart = -1;
    int field = kLiteral;
    std::string text;
  };
  using Component = std::vector<Segment>;

  /// Whether `name` matches `component` from segment `index` on; a field matches one character
  /// or more, the part id one digit or more (its value goes to `part_id`).
  static bool Matches(const Component& component, size_t index, std::string_view name,
                      int64_t* part_id);
  void Walk(size_t level, const std::string& directory,
            const std::function<void(const Found&)>& found) const;

  config::LocatedText path_;
  /// What comes before the first component: "/" for an absolute path, "s3://bucket/" for a
  /// URI (whose bucket is not a template), empty for a relative path.
  std::string root_;
  /// The path's components between slashes, each a sequence of segments.
  std::vector<Component> components_;
  std::vector<std::string> fields_;
  /// Where each field's first placeholder stands, for errors.
  std::vector<config::Location> field_locations_;
};

/// `value` as it may stand in a path component (see PartTemplate).
std::string EscapePathValue(std::optional<std::string_view> value);

}  // namespace sluice::connectors
