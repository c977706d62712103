#pragma once

#include <arrow/record_batch.h>
#include <arrow/type.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/common/status.h"

// InfluxDB line protocol: `measurement,tag=value field=value,... timestamp`, one point per
// line. Measurement names escape commas and spaces; tag keys, tag values and field keys also
// escape equals signs; a backslash before any other character stays literal, so a name ending
// in a backslash (which would escape the delimiter after it) or holding a newline (which ends the
// line) cannot be written. String field values are quoted, with `"` and `\` escaped; newlines in
// them are literal. A line starting with `#` is a comment.

namespace sluice::connectors::influxdb {

/// Which piece of a line a name or value is, for escaping.
enum class Element {
  kMeasurement,  ///< escapes `,` and space
  kTagKey,       ///< escapes `,`, `=` and space
  kTagValue,     ///< like kTagKey
  kFieldKey,     ///< like kTagKey
};

/// Appends `text` escaped as `element`.
void AppendEscaped(std::string_view text, Element element, std::string* out);

/// Appends `text` as a quoted string field value.
void AppendStringField(std::string_view text, std::string* out);

/// Why `text` cannot be written as `element` (empty, a newline, a trailing backslash, a
/// measurement starting with '#'), or empty when it can.
std::string WhyUnwritable(std::string_view text, Element element);

/// The unit of timestamps in the lines, and of the `precision` the server is told.
enum class Precision { kNanoseconds, kMicroseconds, kMilliseconds, kSeconds };

/// "ns", "us", "ms", "s".
std::string_view PrecisionName(Precision precision);

/// What makes a point of a row.
struct PointLayout {
  /// The measurement of every point, when `measurement_field` is empty.
  std::string measurement;
  /// The string field holding each row's measurement.
  std::string measurement_field;
  /// Fields that become tags (their values as text; null or empty: no tag).
  std::vector<std::string> tags;
  /// Fields that become fields; empty: every other numeric, boolean and string field.
  std::vector<std::string> fields;
  /// The timestamp (or integer, already in `precision`) field; empty: the server's time.
  std::string time_field;
  Precision precision = Precision::kNanoseconds;
};

/// The lines of one batch.
struct RenderedLines {
  /// Every line, each ending in '\n'.
  std::string text;
  /// Line i is text[ends[i-1], ends[i]) (ends[-1] = 0), and was made from row rows[i].
  std::vector<int64_t> ends;
  std::vector<int64_t> rows;
  /// Rows that make no point, with why, in row order.
  std::vector<std::pair<int64_t, std::string>> rejected;

  size_t num_lines() const { return rows.size(); }
  std::string_view Line(size_t i) const {
    int64_t begin = i == 0 ? 0 : ends[i - 1];
    return std::string_view(text).substr(begin, ends[i] - begin);
  }
};

class ColumnRenderer;

/// Renders batches of one schema into line protocol, column by column: each tag, field and the
/// time column are rendered into a buffer of their own in a loop over one typed array, then
/// the lines are gathered from those buffers. Immutable after Make(); Render() may be called
/// from any thread.
class LineRenderer {
 public:
  /// Resolves `layout` against `schema`. Errors name the option at fault ("tags", "fields",
  /// "time", "measurement", "measurement_field") at the start of their message, as
  /// "<option>: <why>", so that the caller can place them.
  static Result<std::unique_ptr<LineRenderer>> Make(PointLayout layout,
                                                    const arrow::Schema& schema);
  ~LineRenderer();

  /// The lines of `batch` (of the schema given to Make()); rows that make no point (null time,
  /// no field value, an unwritable tag value or measurement, a NaN) are in `rejected`.
  Result<RenderedLines> Render(const arrow::RecordBatch& batch) const;

  /// The fields written as InfluxDB fields, in line order.
  const std::vector<std::string>& field_names() const { return field_names_; }

 private:
  LineRenderer() = default;

  PointLayout layout_;
  /// The fixed measurement, escaped.
  std::string measurement_;
  int measurement_column_ = -1;
  int time_column_ = -1;
  std::vector<std::string> field_names_;
  /// Tags (sorted by key, as the server prefers), then fields.
  std::vector<std::unique_ptr<ColumnRenderer>> tags_;
  std::vector<std::unique_ptr<ColumnRenderer>> fields_;
};

}  // namespace sluice::connectors::influxdb
