#include "sluice/connectors/influxdb/line_protocol.h"

#include <arrow/array.h>
#include <arrow/compute/api_scalar.h>
#include <arrow/compute/cast.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

namespace sluice::connectors::influxdb {

// ---------------------------------------------------------------------------------------------
// Escaping

namespace {

bool NeedsEscape(char c, Element element) {
  if (c == ',' || c == ' ') return true;
  return c == '=' && element != Element::kMeasurement;
}

/// Bytes `text` takes escaped as `element`.
size_t EscapedSize(std::string_view text, Element element) {
  size_t size = text.size();
  for (char c : text) size += NeedsEscape(c, element) ? 1 : 0;
  return size;
}

char* WriteEscaped(std::string_view text, Element element, char* out) {
  for (char c : text) {
    if (NeedsEscape(c, element)) *out++ = '\\';
    *out++ = c;
  }
  return out;
}

size_t StringFieldSize(std::string_view text) {
  size_t size = text.size() + 2;
  for (char c : text) size += (c == '"' || c == '\\') ? 1 : 0;
  return size;
}

char* WriteStringField(std::string_view text, char* out) {
  *out++ = '"';
  for (char c : text) {
    if (c == '"' || c == '\\') *out++ = '\\';
    *out++ = c;
  }
  *out++ = '"';
  return out;
}

std::string_view ElementName(Element element) {
  switch (element) {
    case Element::kMeasurement:
      return "measurement";
    case Element::kTagKey:
      return "tag key";
    case Element::kTagValue:
      return "tag value";
    case Element::kFieldKey:
      return "field key";
  }
  return "name";
}

}  // namespace

void AppendEscaped(std::string_view text, Element element, std::string* out) {
  size_t at = out->size();
  out->resize(at + EscapedSize(text, element));
  WriteEscaped(text, element, out->data() + at);
}

void AppendStringField(std::string_view text, std::string* out) {
  size_t at = out->size();
  out->resize(at + StringFieldSize(text));
  WriteStringField(text, out->data() + at);
}

std::string WhyUnwritable(std::string_view text, Element element) {
  std::string_view what = ElementName(element);
  if (text.empty()) return fmt::format("the {} is empty", what);
  if (text.find('\n') != std::string_view::npos) {
    return fmt::format("the {} holds a newline, which line protocol cannot carry outside a "
                       "string field",
                       what);
  }
  if (text.back() == '\\') {
    return fmt::format("the {} ends in a backslash, which line protocol cannot carry (it would "
                       "escape the delimiter after it)",
                       what);
  }
  if (element == Element::kMeasurement && text.front() == '#') {
    return "the measurement starts with '#', which makes the line a comment";
  }
  return {};
}

std::string_view PrecisionName(Precision precision) {
  switch (precision) {
    case Precision::kNanoseconds:
      return "ns";
    case Precision::kMicroseconds:
      return "us";
    case Precision::kMilliseconds:
      return "ms";
    case Precision::kSeconds:
      return "s";
  }
  return "ns";
}

// ---------------------------------------------------------------------------------------------
// Column renderers

/// The text of one column's values for the rows of a batch: piece r is
/// text[ends[r-1], ends[r]); an empty piece means "no value" (a null field, an empty tag).
struct Pieces {
  std::string text;
  std::vector<uint32_t> ends;
  size_t Size(int64_t row) const { return ends[row] - (row == 0 ? 0 : ends[row - 1]); }
  const char* Data(int64_t row) const { return text.data() + (row == 0 ? 0 : ends[row - 1]); }
};

/// Rows rejected while rendering, with the first reason for each.
struct Rejections {
  std::vector<uint8_t> rejected;
  std::vector<std::pair<int64_t, std::string>> reasons;
  void Reject(int64_t row, std::string reason) {
    if (rejected[row]) return;
    rejected[row] = 1;
    reasons.emplace_back(row, std::move(reason));
  }
};

/// Renders the values of one column. One virtual call per column and batch; the loop over rows
/// inside is typed.
class ColumnRenderer {
 public:
  ColumnRenderer(int column, std::string name) : column_(column), name_(std::move(name)) {}
  virtual ~ColumnRenderer() = default;
  int column() const { return column_; }
  const std::string& name() const { return name_; }
  /// `key=` escaped, written before each non-empty piece.
  const std::string& prefix() const { return prefix_; }
  void set_prefix(std::string prefix) { prefix_ = std::move(prefix); }

  virtual void Render(const arrow::Array& array, Pieces* out, Rejections* rejections) const = 0;

 private:
  int column_;
  std::string name_;
  std::string prefix_;
};

namespace {

/// Appends what `write(row, out)` produces for each row; `write` returns the end pointer,
/// writing at most `max_size` bytes (a bound for its row, from `size_of(row)`).
template <typename SizeOf, typename Write>
void RenderRows(int64_t num_rows, Pieces* out, SizeOf size_of, Write write) {
  out->ends.resize(num_rows);
  size_t total = 0;
  for (int64_t row = 0; row < num_rows; ++row) total += size_of(row);
  out->text.resize(total);
  char* begin = out->text.data();
  char* cursor = begin;
  for (int64_t row = 0; row < num_rows; ++row) {
    cursor = write(row, cursor);
    out->ends[row] = static_cast<uint32_t>(cursor - begin);
  }
  out->text.resize(cursor - begin);
}

template <typename T>
char* WriteInteger(T value, char* out) {
  return std::to_chars(out, out + 24, value).ptr;
}

template <typename T>
char* WriteFloat(T value, char* out) {
  return std::to_chars(out, out + 32, value).ptr;
}

enum class Role { kTag, kField, kMeasurement };

/// String values: escaped names for tags and measurements, quoted values for fields.
template <typename ArrayType>
class StringRenderer final : public ColumnRenderer {
 public:
  StringRenderer(int column, std::string name, Role role)
      : ColumnRenderer(column, std::move(name)), role_(role) {}

  void Render(const arrow::Array& array, Pieces* out, Rejections* rejections) const override {
    const auto& strings = static_cast<const ArrayType&>(array);
    int64_t num_rows = array.length();
    Element element = role_ == Role::kTag ? Element::kTagValue : Element::kMeasurement;
    if (role_ == Role::kField) {
      RenderRows(
          num_rows, out,
          [&](int64_t row) {
            return strings.IsNull(row) ? 0 : StringFieldSize(strings.GetView(row));
          },
          [&](int64_t row, char* cursor) {
            return strings.IsNull(row) ? cursor : WriteStringField(strings.GetView(row), cursor);
          });
      return;
    }
    RenderRows(
        num_rows, out,
        [&](int64_t row) {
          if (strings.IsNull(row)) {
            if (role_ == Role::kMeasurement) {
              rejections->Reject(row, fmt::format("the measurement field '{}' is null", name()));
            }
            return size_t{0};
          }
          std::string_view text = strings.GetView(row);
          if (text.empty() && role_ == Role::kTag) return size_t{0};  // no tag
          std::string why = WhyUnwritable(text, element);
          if (!why.empty()) {
            rejections->Reject(row, fmt::format("field '{}': {}", name(), why));
            return size_t{0};
          }
          return EscapedSize(text, element);
        },
        [&](int64_t row, char* cursor) {
          if (strings.IsNull(row) || rejections->rejected[row]) return cursor;
          return WriteEscaped(strings.GetView(row), element, cursor);
        });
  }

 private:
  Role role_;
};

/// Integers: `<n>i` as a field, `<n>` as a tag; uint64 above the int64 range cannot be a field
/// (InfluxDB 1.x integers are signed).
template <typename ArrowType>
class IntegerRenderer final : public ColumnRenderer {
 public:
  IntegerRenderer(int column, std::string name, Role role)
      : ColumnRenderer(column, std::move(name)), role_(role) {}

  void Render(const arrow::Array& array, Pieces* out, Rejections* rejections) const override {
    using CType = typename ArrowType::c_type;
    const auto& numbers = static_cast<const arrow::NumericArray<ArrowType>&>(array);
    const CType* values = numbers.raw_values();
    bool field = role_ == Role::kField;
    RenderRows(
        array.length(), out, [&](int64_t row) { return numbers.IsNull(row) ? 0 : 24; },
        [&](int64_t row, char* cursor) {
          if (numbers.IsNull(row)) return cursor;
          if constexpr (std::is_same_v<CType, uint64_t>) {
            if (field && values[row] > static_cast<uint64_t>(INT64_MAX)) {
              rejections->Reject(row, fmt::format("field '{}': {} is above the largest InfluxDB "
                                                  "integer (2^63-1)",
                                                  name(), values[row]));
              return cursor;
            }
          }
          cursor = WriteInteger(values[row], cursor);
          if (field) *cursor++ = 'i';
          return cursor;
        });
  }

 private:
  Role role_;
};

template <typename ArrowType>
class FloatRenderer final : public ColumnRenderer {
 public:
  FloatRenderer(int column, std::string name, Role role)
      : ColumnRenderer(column, std::move(name)), role_(role) {}

  void Render(const arrow::Array& array, Pieces* out, Rejections* rejections) const override {
    const auto& numbers = static_cast<const arrow::NumericArray<ArrowType>&>(array);
    const auto* values = numbers.raw_values();
    bool field = role_ == Role::kField;
    RenderRows(
        array.length(), out, [&](int64_t row) { return numbers.IsNull(row) ? 0 : 32; },
        [&](int64_t row, char* cursor) {
          if (numbers.IsNull(row)) return cursor;
          auto value = values[row];
          if (field && !std::isfinite(value)) {
            rejections->Reject(row, fmt::format("field '{}' is {}, which InfluxDB cannot store",
                                                name(), value));
            return cursor;
          }
          return WriteFloat(value, cursor);
        });
  }

 private:
  Role role_;
};

class BooleanRenderer final : public ColumnRenderer {
 public:
  BooleanRenderer(int column, std::string name) : ColumnRenderer(column, std::move(name)) {}

  void Render(const arrow::Array& array, Pieces* out, Rejections*) const override {
    const auto& booleans = static_cast<const arrow::BooleanArray&>(array);
    RenderRows(
        array.length(), out, [&](int64_t row) { return booleans.IsNull(row) ? 0 : 5; },
        [&](int64_t row, char* cursor) {
          if (booleans.IsNull(row)) return cursor;
          if (booleans.Value(row)) {
            std::memcpy(cursor, "true", 4);
            return cursor + 4;
          }
          std::memcpy(cursor, "false", 5);
          return cursor + 5;
        });
  }
};

/// The timestamp in the chosen precision, from a timestamp column (any unit: finer units are
/// floored, coarser ones multiplied) or an integer column taken as already in that precision.
class TimeRenderer final : public ColumnRenderer {
 public:
  TimeRenderer(int column, std::string name, int64_t multiply, int64_t divide)
      : ColumnRenderer(column, std::move(name)), multiply_(multiply), divide_(divide) {}

  void Render(const arrow::Array& array, Pieces* out, Rejections* rejections) const override {
    const int64_t* values = array.data()->GetValues<int64_t>(1);
    RenderRows(
        array.length(), out, [&](int64_t row) { return array.IsNull(row) ? 0 : 21; },
        [&](int64_t row, char* cursor) {
          if (array.IsNull(row)) {
            rejections->Reject(row, fmt::format("the time field '{}' is null", name()));
            return cursor;
          }
          int64_t value = values[row];
          if (divide_ > 1) {
            int64_t quotient = value / divide_;
            if (value % divide_ != 0 && value < 0) --quotient;  // floor
            value = quotient;
          } else if (multiply_ > 1 && __builtin_mul_overflow(value, multiply_, &value)) {
            rejections->Reject(row, fmt::format("the time field '{}' is out of the range of "
                                                "nanosecond timestamps",
                                                name()));
            return cursor;
          }
          return WriteInteger(value, cursor);
        });
  }

 private:
  int64_t multiply_;
  int64_t divide_;
};

int64_t NanosecondsPer(arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND:
      return 1000000000;
    case arrow::TimeUnit::MILLI:
      return 1000000;
    case arrow::TimeUnit::MICRO:
      return 1000;
    case arrow::TimeUnit::NANO:
      return 1;
  }
  return 1;
}

int64_t NanosecondsPer(Precision precision) {
  switch (precision) {
    case Precision::kSeconds:
      return 1000000000;
    case Precision::kMilliseconds:
      return 1000000;
    case Precision::kMicroseconds:
      return 1000;
    case Precision::kNanoseconds:
      return 1;
  }
  return 1;
}

/// The type a column is rendered from: a dictionary's value type (dictionaries are decoded
/// first).
std::shared_ptr<arrow::DataType> ValueType(const std::shared_ptr<arrow::DataType>& type) {
  if (type->id() == arrow::Type::DICTIONARY) {
    return static_cast<const arrow::DictionaryType&>(*type).value_type();
  }
  return type;
}

/// A renderer for `type` in `role`, or null when the type cannot be one.
std::unique_ptr<ColumnRenderer> MakeRenderer(int column, const std::string& name,
                                             const arrow::DataType& type, Role role) {
  switch (type.id()) {
    case arrow::Type::STRING:
      return std::make_unique<StringRenderer<arrow::StringArray>>(column, name, role);
    case arrow::Type::LARGE_STRING:
      return std::make_unique<StringRenderer<arrow::LargeStringArray>>(column, name, role);
    default:
      break;
  }
  if (role == Role::kMeasurement) return nullptr;
  switch (type.id()) {
    case arrow::Type::INT8:
      return std::make_unique<IntegerRenderer<arrow::Int8Type>>(column, name, role);
    case arrow::Type::INT16:
      return std::make_unique<IntegerRenderer<arrow::Int16Type>>(column, name, role);
    case arrow::Type::INT32:
      return std::make_unique<IntegerRenderer<arrow::Int32Type>>(column, name, role);
    case arrow::Type::INT64:
      return std::make_unique<IntegerRenderer<arrow::Int64Type>>(column, name, role);
    case arrow::Type::UINT8:
      return std::make_unique<IntegerRenderer<arrow::UInt8Type>>(column, name, role);
    case arrow::Type::UINT16:
      return std::make_unique<IntegerRenderer<arrow::UInt16Type>>(column, name, role);
    case arrow::Type::UINT32:
      return std::make_unique<IntegerRenderer<arrow::UInt32Type>>(column, name, role);
    case arrow::Type::UINT64:
      return std::make_unique<IntegerRenderer<arrow::UInt64Type>>(column, name, role);
    case arrow::Type::FLOAT:
      return std::make_unique<FloatRenderer<arrow::FloatType>>(column, name, role);
    case arrow::Type::DOUBLE:
      return std::make_unique<FloatRenderer<arrow::DoubleType>>(column, name, role);
    case arrow::Type::BOOL:
      return std::make_unique<BooleanRenderer>(column, name);
    default:
      return nullptr;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// LineRenderer

LineRenderer::~LineRenderer() = default;

Result<std::unique_ptr<LineRenderer>> LineRenderer::Make(PointLayout layout,
                                                         const arrow::Schema& schema) {
  std::unique_ptr<LineRenderer> renderer(new LineRenderer());
  auto find = [&](const std::string& option, const std::string& name) -> Result<int> {
    int index = schema.GetFieldIndex(name);
    if (index < 0) {
      return Status::Invalid(option, ": the stream has no field '", name, "' (it has ",
                             fmt::format("{}", fmt::join(schema.field_names(), ", ")), ")");
    }
    return index;
  };
  std::set<int> used;
  if (layout.measurement_field.empty()) {
    std::string why = WhyUnwritable(layout.measurement, Element::kMeasurement);
    if (!why.empty()) return Status::Invalid("measurement: ", why);
    AppendEscaped(layout.measurement, Element::kMeasurement, &renderer->measurement_);
  } else {
    SLUICE_ASSIGN_OR_RAISE(renderer->measurement_column_,
                           find("measurement_field", layout.measurement_field));
    auto type = ValueType(schema.field(renderer->measurement_column_)->type());
    auto measurement = MakeRenderer(renderer->measurement_column_, layout.measurement_field,
                                    *type, Role::kMeasurement);
    if (measurement == nullptr) {
      return Status::Invalid("measurement_field: '", layout.measurement_field, "' is ",
                             type->ToString(), ", not a string");
    }
    renderer->tags_.push_back(std::move(measurement));  // first piece of the line
    used.insert(renderer->measurement_column_);
  }
  if (!layout.time_field.empty()) {
    SLUICE_ASSIGN_OR_RAISE(renderer->time_column_, find("time", layout.time_field));
    used.insert(renderer->time_column_);
  }
  auto check_name = [](const std::string& option, const std::string& name,
                       Element element) -> Status {
    std::string why = WhyUnwritable(name, element);
    if (!why.empty()) return Status::Invalid(option, ": '", name, "': ", why);
    if (name == "time") {
      return Status::Invalid(option, ": InfluxDB refuses a tag or field named 'time' (set "
                                     "time: time, or rename the field)");
    }
    return Status::OK();
  };
  std::vector<std::string> tags = layout.tags;
  std::sort(tags.begin(), tags.end());
  for (const auto& tag : tags) {
    SLUICE_ASSIGN_OR_RAISE(int column, find("tags", tag));
    if (!used.insert(column).second) {
      return Status::Invalid("tags: '", tag, "' is also the measurement or time field, or "
                                             "listed twice");
    }
    SLUICE_RETURN_NOT_OK(check_name("tags", tag, Element::kTagKey));
    auto type = ValueType(schema.field(column)->type());
    auto part = MakeRenderer(column, tag, *type, Role::kTag);
    if (part == nullptr) {
      return Status::Invalid("tags: '", tag, "' is ", type->ToString(),
                             "; a tag must be a string, number or boolean (cast it)");
    }
    std::string prefix = ",";
    AppendEscaped(tag, Element::kTagKey, &prefix);
    prefix += '=';
    part->set_prefix(std::move(prefix));
    renderer->tags_.push_back(std::move(part));
  }
  std::vector<std::string> fields = layout.fields;
  bool by_default = fields.empty();
  if (by_default) {
    for (int column = 0; column < schema.num_fields(); ++column) {
      if (used.count(column) > 0) continue;
      auto type = ValueType(schema.field(column)->type());
      if (MakeRenderer(column, "", *type, Role::kField) != nullptr) {
        fields.push_back(schema.field(column)->name());
      }
    }
    if (fields.empty()) {
      return Status::Invalid("fields: the stream has no numeric, boolean or string field "
                             "left for the point's fields; a point needs at least one");
    }
  }
  for (const auto& field : fields) {
    SLUICE_ASSIGN_OR_RAISE(int column, find("fields", field));
    if (!used.insert(column).second) {
      return Status::Invalid("fields: '", field, "' is also a tag, the measurement or time "
                                               "field, or listed twice");
    }
    SLUICE_RETURN_NOT_OK(check_name("fields", field, Element::kFieldKey));
    auto type = ValueType(schema.field(column)->type());
    auto part = MakeRenderer(column, field, *type, Role::kField);
    if (part == nullptr) {
      return Status::Invalid("fields: '", field, "' is ", type->ToString(),
                             "; a field must be a number, boolean or string (cast it)");
    }
    std::string prefix;
    AppendEscaped(field, Element::kFieldKey, &prefix);
    prefix += '=';
    part->set_prefix(std::move(prefix));
    renderer->field_names_.push_back(field);
    renderer->fields_.push_back(std::move(part));
  }
  if (renderer->time_column_ >= 0) {
    const auto& type = *schema.field(renderer->time_column_)->type();
    int64_t target = NanosecondsPer(layout.precision);
    int64_t multiply = 1;
    int64_t divide = 1;
    if (type.id() == arrow::Type::TIMESTAMP) {
      int64_t source = NanosecondsPer(static_cast<const arrow::TimestampType&>(type).unit());
      if (source >= target) {
        multiply = source / target;
      } else {
        divide = target / source;
      }
    } else if (type.id() != arrow::Type::INT64) {
      return Status::Invalid("time: '", layout.time_field, "' is ", type.ToString(),
                             "; it must be a timestamp, or an int64 in the unit of precision");
    }
    renderer->fields_.push_back(
        std::make_unique<TimeRenderer>(renderer->time_column_, layout.time_field, multiply,
                                       divide));
  }
  renderer->layout_ = std::move(layout);
  return renderer;
}

Result<RenderedLines> LineRenderer::Render(const arrow::RecordBatch& batch) const {
  const int64_t num_rows = batch.num_rows();
  Rejections rejections;
  rejections.rejected.assign(num_rows, 0);
  // Column by column: the text of every value, and the rows that make no point.
  auto render = [&](const ColumnRenderer& part, Pieces* pieces) -> Status {
    std::shared_ptr<arrow::Array> column = batch.column(part.column());
    if (column->type_id() == arrow::Type::DICTIONARY) {
      auto value_type = ValueType(column->type());
      SLUICE_ASSIGN_OR_RAISE(column, arrow::compute::Cast(*column, value_type));
    }
    part.Render(*column, pieces, &rejections);
    return Status::OK();
  };
  std::vector<Pieces> tags(tags_.size());
  std::vector<Pieces> fields(fields_.size());
  for (size_t i = 0; i < tags_.size(); ++i) SLUICE_RETURN_NOT_OK(render(*tags_[i], &tags[i]));
  for (size_t i = 0; i < fields_.size(); ++i) {
    SLUICE_RETURN_NOT_OK(render(*fields_[i], &fields[i]));
  }
  const size_t num_fields = field_names_.size();  // fields_ may end with the time
  const bool has_time = time_column_ >= 0;
  // A point needs a field value.
  for (int64_t row = 0; row < num_rows; ++row) {
    if (rejections.rejected[row]) continue;
    bool any = false;
    for (size_t i = 0; i < num_fields && !any; ++i) any = fields[i].Size(row) > 0;
    if (!any) {
      rejections.Reject(row, fmt::format("no field value: a point needs at least one, and {} "
                                         "{} null",
                                         fmt::join(field_names_, ", "),
                                         num_fields == 1 ? "is" : "are all"));
    }
  }
  // Gather the lines.
  size_t bound = 0;
  for (const auto& pieces : tags) bound += pieces.text.size();
  for (const auto& pieces : fields) bound += pieces.text.size();
  size_t per_row = measurement_.size() + 2;
  for (const auto& part : tags_) per_row += part->prefix().size();
  for (const auto& part : fields_) per_row += part->prefix().size() + 1;
  RenderedLines lines;
  lines.text.resize(bound + per_row * num_rows);
  lines.ends.reserve(num_rows);
  lines.rows.reserve(num_rows);
  char* const begin = lines.text.data();
  char* cursor = begin;
  auto copy = [&cursor](const char* data, size_t size) {
    std::memcpy(cursor, data, size);
    cursor += size;
  };
  for (int64_t row = 0; row < num_rows; ++row) {
    if (rejections.rejected[row]) continue;
    copy(measurement_.data(), measurement_.size());
    for (size_t i = 0; i < tags_.size(); ++i) {
      size_t size = tags[i].Size(row);
      if (size == 0) continue;
      copy(tags_[i]->prefix().data(), tags_[i]->prefix().size());
      copy(tags[i].Data(row), size);
    }
    char separator = ' ';
    for (size_t i = 0; i < num_fields; ++i) {
      size_t size = fields[i].Size(row);
      if (size == 0) continue;
      *cursor++ = separator;
      separator = ',';
      copy(fields_[i]->prefix().data(), fields_[i]->prefix().size());
      copy(fields[i].Data(row), size);
    }
    if (has_time) {
      *cursor++ = ' ';
      copy(fields[num_fields].Data(row), fields[num_fields].Size(row));
    }
    *cursor++ = '\n';
    lines.ends.push_back(cursor - begin);
    lines.rows.push_back(row);
  }
  lines.text.resize(cursor - begin);
  std::sort(rejections.reasons.begin(), rejections.reasons.end());
  lines.rejected = std::move(rejections.reasons);
  return lines;
}

}  // namespace sluice::connectors::influxdb
