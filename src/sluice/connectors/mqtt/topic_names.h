#pragma once

#include <arrow/record_batch.h>
#include <arrow/type.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/location.h"

// MQTT topic names and filters: what a subscription may name, and the sink's topics made from
// fields.

namespace sluice::connectors::mqtt {

/// Checks a topic filter of a subscription: levels separated by `/`, `+` a whole level, `#` a
/// whole last level, no NUL; `$share/<group>/<filter>` a shared subscription. Status::Invalid
/// with the reason otherwise.
Status CheckTopicFilter(std::string_view filter);

/// Checks a topic name to publish to: not empty, no `+`, `#` or NUL, at most 65535 bytes.
Status CheckTopicName(std::string_view name);

/// The sink's `topic`: text with `{field}` placeholders that stand for a row's values
/// (`alerts/{symbol}`). `{{` and `}}` stand for braces. Immutable once bound.
class TopicTemplate {
 public:
  /// Parses `topic` (with where it stands, for errors).
  static Result<TopicTemplate> Parse(const config::LocatedText& topic);

  /// Checks that every placeholder names a field of `schema`; a config error at the
  /// placeholder otherwise.
  Status Bind(const arrow::Schema& schema);

  /// Whether the topic is the same for every row (no placeholder).
  bool fixed() const { return fields_.empty(); }
  /// A fixed topic.
  const std::string& text() const { return literal_; }

  /// The topic of row `row` of `batch` (of the bound schema). False with `reason` set when a
  /// value is null or the result is not a topic name.
  bool Render(const arrow::RecordBatch& batch, int64_t row, std::string* topic,
              std::string* reason) const;

 private:
  struct Segment {
    std::string text;
    /// The placeholder's field, or empty for literal text.
    std::string field;
    config::Location where;
    int index = -1;
  };
  std::vector<Segment> segments_;
  std::vector<std::string> fields_;
  std::string literal_;
};

}  // namespace sluice::connectors::mqtt
