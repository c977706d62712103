#include "sluice/processors/join.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/compute/initialize.h>
#include <fmt/format.h>

#include <set>

#include "sluice/common/duration.h"
#include "sluice/common/spelling.h"
#include "sluice/processors/join_internal.h"
#include "sluice/processors/window.h"

namespace sluice::processors {
namespace {

using exec::Micros;
using join::Bound;
using join::Grouper;
using join::JoinSettings;
using join::kLeft;
using join::kRight;
using join::Timestamp;

// ---------------------------------------------------------------------------------------
// Configuration.

/// A duration with an optional sign ("-5s"), for the bounds of an interval.
Result<Timestamp> ReadSignedDuration(const config::Options& section, std::string_view name) {
  const std::string given = section.GetString(name);
  std::string text = given;
  size_t begin = text.find_first_not_of(' ');
  text = begin == std::string::npos ? std::string() : text.substr(begin);
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.erase(0, 1);
  }
  auto parsed = ParseDuration(text);
  if (!parsed.ok()) {
    return config::ConfigError(
        section.LocationOf(name),
        fmt::format("interval {}: '{}' is not a duration (a unit is needed, and a sign may lead)",
                    name, given),
        "e.g. interval: {lower: -5s, upper: 10s}");
  }
  const Timestamp micros = Micros(*parsed);
  return negative ? -micros : micros;
}

/// The part of a stream's name after its last dot ("nexmark.person" → "person"), to prefix
/// field names with.
std::string ShortStreamName(const std::string& stream) {
  size_t dot = stream.rfind('.');
  return dot == std::string::npos ? stream : stream.substr(dot + 1);
}

Status ReadBound(const config::Options& options, JoinSettings* settings) {
  std::vector<std::string> bounds;
  for (const char* bound : {"window", "interval", "ttl"}) {
    if (options.Has(bound)) bounds.emplace_back(bound);
  }
  if (bounds.empty()) {
    return config::ConfigError(
        options.where(),
        "this join is unbounded: without window, interval or ttl it would keep every row of "
        "both streams forever, and its state would grow without bound",
        "add window: {tumbling: 10s} (rows of the same window join), interval: {lower: -5s, "
        "upper: 5s} (rows close in time join) or ttl: 1h (rows are kept an hour)");
  }
  if (bounds.size() > 1) {
    return config::ConfigError(
        options.LocationOf(bounds[1]),
        fmt::format("a join is bounded one way, but both '{}' and '{}' are given", bounds[0],
                    bounds[1]),
        "keep one of them");
  }
  if (bounds[0] == "window") {
    settings->bound = Bound::kWindow;
    const config::Options& window = options.GetSection("window");
    const bool tumbling = window.Has("tumbling"), sliding = window.Has("sliding");
    if (tumbling == sliding) {
      return config::ConfigError(
          options.LocationOf("window"),
          tumbling ? "a join window is tumbling or sliding, not both"
                   : "a join window needs its kind: tumbling or sliding",
          "e.g. window: {tumbling: 10s} or window: {sliding: {size: 10s, slide: 2s}}");
    }
    if (tumbling) {
      SLUICE_RETURN_NOT_OK(ReadPositiveDuration(window, "tumbling", &settings->size));
      settings->slide = settings->size;
    } else {
      SLUICE_RETURN_NOT_OK(
          ReadSliding(window.GetSection("sliding"), &settings->size, &settings->slide));
    }
  } else if (bounds[0] == "interval") {
    settings->bound = Bound::kInterval;
    const config::Options& interval = options.GetSection("interval");
    SLUICE_ASSIGN_OR_RAISE(settings->lower, ReadSignedDuration(interval, "lower"));
    SLUICE_ASSIGN_OR_RAISE(settings->upper, ReadSignedDuration(interval, "upper"));
    if (settings->lower > settings->upper) {
      return config::ConfigError(interval.LocationOf("upper"),
                                 "the interval's upper bound is below its lower bound",
                                 "right rows join when right.time - left.time is within "
                                 "[lower, upper], e.g. {lower: -5s, upper: 10s}");
    }
  } else {
    settings->bound = Bound::kTtl;
    SLUICE_RETURN_NOT_OK(ReadPositiveDuration(options, "ttl", &settings->ttl));
  }
  settings->delete_on_match = options.GetString("on_match") == "delete";
  if (settings->delete_on_match && settings->bound != Bound::kTtl) {
    return config::ConfigError(
        options.LocationOf("on_match"),
        fmt::format("on_match: delete applies to a regular join with ttl, not to a {} join",
                    bounds[0]),
        "use ttl: instead, or leave on_match out");
  }
  return Status::OK();
}

/// Reads the time of each input: both have event time, or neither (then arrival time).
Status ReadTimes(const config::Options& options, const std::vector<exec::InputStream>& inputs,
                 JoinSettings* settings) {
  std::array<bool, 2> has_time{false, false};
  for (int side : {kLeft, kRight}) {
    const exec::InputStream& input = inputs[side];
    if (input.event_time_field.empty()) continue;
    has_time[side] = true;
    const int index = input.schema->GetFieldIndex(input.event_time_field);
    if (index < 0) {
      return config::ConfigError(
          options.LocationOf(side == kLeft ? "left" : "right"),
          fmt::format("the join needs the event-time field '{}' of stream '{}', which an "
                      "earlier stage removed",
                      input.event_time_field, input.name),
          "keep the event-time field up to the join");
    }
    const auto& type = *input.schema->field(index)->type();
    if (type.id() != arrow::Type::TIMESTAMP ||
        static_cast<const arrow::TimestampType&>(type).unit() != arrow::TimeUnit::MICRO) {
      return config::ConfigError(
          options.LocationOf(side == kLeft ? "left" : "right"),
          fmt::format("the event-time field '{}' of stream '{}' is {} here, not a timestamp",
                      input.event_time_field, input.name, type.ToString()),
          "do not cast the event-time field before a join");
    }
    settings->time_columns[side] = index;
  }
  if (has_time[kLeft] != has_time[kRight]) {
    const int with = has_time[kLeft] ? kLeft : kRight;
    return config::ConfigError(
        options.LocationOf(with == kLeft ? "right" : "left"),
        fmt::format("stream '{}' has event time ('{}') but '{}' has none: a join compares the "
                    "times of both sides",
                    inputs[with].name, inputs[with].event_time_field, inputs[1 - with].name),
        "declare event_time on both sources (or on neither, to join by arrival time)");
  }
  settings->processing_time = !has_time[kLeft];
  return Status::OK();
}

Status ReadKeys(const config::Options& options, const std::vector<exec::InputStream>& inputs,
                JoinSettings* settings) {
  const arrow::Schema& left = *inputs[kLeft].schema;
  const arrow::Schema& right = *inputs[kRight].schema;
  auto pairs = options.GetMap("on");
  if (pairs.empty()) {
    return config::ConfigError(options.LocationOf("on"), "a join needs at least one key pair",
                               "e.g. on: {seller: id} (left field: right field)");
  }
  for (const auto& [left_field, right_field] : pairs) {
    const int left_index = left.GetFieldIndex(left_field);
    if (left_index < 0) {
      return config::ConfigError(options.LocationOf("on"),
                                 fmt::format("unknown field '{}' of the left stream '{}' in on",
                                             left_field, inputs[kLeft].name),
                                 SpellingHint(left_field, left.field_names()));
    }
    const int right_index = right.GetFieldIndex(right_field.text);
    if (right_index < 0) {
      return config::ConfigError(right_field.where,
                                 fmt::format("unknown field '{}' of the right stream '{}' in on",
                                             right_field.text, inputs[kRight].name),
                                 SpellingHint(right_field.text, right.field_names()));
    }
    const auto& left_type = left.field(left_index)->type();
    const auto& right_type = right.field(right_index)->type();
    if (!left_type->Equals(*right_type)) {
      return config::ConfigError(
          right_field.where,
          fmt::format("cannot join '{}' ({}) of '{}' with '{}' ({}) of '{}': key types differ",
                      left_field, left_type->ToString(), inputs[kLeft].name, right_field.text,
                      right_type->ToString(), inputs[kRight].name),
          fmt::format("cast one side first, e.g. a step '- cast: {{{}: {}}}' on '{}'",
                      right_field.text, left_type->ToString(), inputs[kRight].name));
    }
    settings->key_columns[kLeft].push_back(left_index);
    settings->key_columns[kRight].push_back(right_index);
    settings->key_types.emplace_back(left_type);
  }
  return Status::OK();
}

/// The output schema: [window_start, window_end,] the left fields, the right fields. A field
/// whose name is taken is renamed <stream>_<field>; `prefix` prefixes every field of a side.
Status BuildOutput(const config::Options& options, const std::vector<exec::InputStream>& inputs,
                   JoinSettings* settings) {
  std::vector<std::shared_ptr<arrow::Field>> fields;
  std::set<std::string> taken;
  auto time_type = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  if (settings->bound == Bound::kWindow) {
    fields.push_back(arrow::field("window_start", time_type, false));
    fields.push_back(arrow::field("window_end", time_type, false));
    taken = {"window_start", "window_end"};
  }
  const config::Options& prefix = options.GetSection("prefix");
  for (int side : {kLeft, kRight}) {
    const std::string side_prefix = prefix.GetString(side == kLeft ? "left" : "right");
    // A side whose rows may be missing (the other side's outer join) has nullable columns.
    const bool nullable = settings->outer[1 - side];
    const arrow::Schema& schema = *inputs[side].schema;
    std::vector<std::string> names;
    for (const auto& field : schema.fields()) {
      std::string name = side_prefix + field->name();
      if (taken.count(name)) name = ShortStreamName(inputs[side].name) + "_" + name;
      names.push_back(name);
    }
    for (int index = 0; index < schema.num_fields(); ++index) {
      const std::string& name = names[index];
      if (!taken.insert(name).second) {
        return config::ConfigError(
            options.LocationOf(options.Has("prefix") ? "prefix" : "right"),
            fmt::format("the join would produce two columns named '{}'", name),
            "set prefix: {left: a_, right: b_} to tell the sides' fields apart");
      }
      auto field = schema.field(index)->WithName(name);
      if (nullable) field = field->WithNullable(true);
      fields.push_back(std::move(field));
      if (side == kLeft && index == settings->time_columns[kLeft]) {
        settings->output_time_field = name;
      }
    }
  }
  settings->output = arrow::schema(std::move(fields));
  if (settings->bound == Bound::kWindow) settings->output_time_field = "window_end";
  return Status::OK();
}

Result<JoinSettings> ReadSettings(const exec::ProcessorContext& context,
                                  const config::Options& options) {
  if (context.inputs.size() != 2) {
    return config::ConfigError(
        options.where(),
        fmt::format("a join reads two streams, but {} were given to it", context.inputs.size()),
        "name them with left: and right:");
  }
  JoinSettings settings;
  const std::string type = options.GetString("type");
  settings.outer = {type == "left" || type == "full", type == "right" || type == "full"};
  SLUICE_RETURN_NOT_OK(ReadBound(options, &settings));
  SLUICE_RETURN_NOT_OK(ReadTimes(options, context.inputs, &settings));
  SLUICE_RETURN_NOT_OK(ReadKeys(options, context.inputs, &settings));
  for (int side : {kLeft, kRight}) {
    settings.stream_names[side] = context.inputs[side].name;
    settings.input_schemas[side] = context.inputs[side].schema;
  }
  SLUICE_RETURN_NOT_OK(BuildOutput(options, context.inputs, &settings));
  return settings;
}

}  // namespace

void RegisterJoin(exec::Registry* registry) {
  using config::MakeOption;
  using config::OptionType;
  config::PluginSpec spec;
  spec.name = "join";
  spec.doc =
      "Joins two streams on equal keys: inner, or left, right or full outer (the missing side "
      "of an unmatched row is NULL). The rows it keeps are bounded by exactly one of window "
      "(rows in the same tumbling or sliding window join when the watermark passes its end), "
      "interval (a right row joins a left row when right.time is within [left.time + lower, "
      "left.time + upper]; emitted at once) or ttl (a regular join: rows are kept this long "
      "after their own time). Output: window_start and window_end (window join), the left "
      "fields, then the right fields; a field whose name is taken becomes <stream>_<field>. NULL "
      "keys never match. Both streams need event time, or neither (then rows are timed by "
      "their arrival). An unmatched row of an outer join is emitted when it is freed.";
  auto left = MakeOption("left", OptionType::kString,
                         "The left input: a source's stream or a step's name.");
  left.required = true;
  auto right = MakeOption("right", OptionType::kString,
                          "The right input: a source's stream or a step's name.");
  right.required = true;
  auto on =
      MakeOption("on", OptionType::kStringMap,
                 "The key: a map from each left field to the right field it must equal "
                 "(several pairs make a composite key); the two fields' types must be equal.");
  on.required = true;
  auto type = MakeOption("type", OptionType::kEnum,
                         "inner: matched pairs only; left / right: also the unmatched rows of "
                         "that side; full: the unmatched rows of both sides.",
                         "inner");
  type.choices = {"inner", "left", "right", "full"};
  auto window = MakeOption("window", OptionType::kSection,
                           "Window join: rows of both streams in the same window join when the "
                           "watermark passes its end. Short form: window: 10s (tumbling).");
  window.short_field = "tumbling";
  window.fields = {TumblingOption(), SlidingOption()};
  auto interval = MakeOption(
      "interval", OptionType::kSection,
      "Interval join: a right row joins a left row when right.time is within [left.time + "
      "lower, left.time + upper], bounds included. Rows behind the watermark are late.");
  auto lower = MakeOption("lower", OptionType::kString,
                          "The lower bound of right.time - left.time, a duration that may be "
                          "negative (e.g. -5s).");
  lower.required = true;
  auto upper = MakeOption("upper", OptionType::kString,
                          "The upper bound of right.time - left.time (e.g. 10s); at least lower.");
  upper.required = true;
  interval.fields = {lower, upper};
  auto ttl = MakeOption("ttl", OptionType::kDuration,
                        "Regular join: each row is kept this long after its own (event) time; "
                        "matches are emitted as rows arrive.");
  auto on_match = MakeOption("on_match", OptionType::kEnum,
                             "keep: a kept row joins every later match; delete: a kept row is "
                             "removed once it matched, and an arriving row that matched is not "
                             "kept (ttl joins only).",
                             "keep");
  on_match.choices = {"keep", "delete"};
  auto prefix = MakeOption("prefix", OptionType::kSection,
                           "Prefixes for the output names of each side's fields.");
  prefix.fields = {MakeOption("left", OptionType::kString, "Prefix of the left fields.", ""),
                   MakeOption("right", OptionType::kString, "Prefix of the right fields.", "")};
  spec.options = {left, right, on, type, window, interval, ttl, on_match, prefix};
  spec.input_options = {"left", "right"};
  spec.example =
      "- join:\n"
      "    left: auctions\n"
      "    right: persons\n"
      "    on: {seller: id}\n"
      "    type: left\n"
      "    interval: {lower: -10s, upper: 10s}";
  registry->AddProcessor(
      std::move(spec),
      [](const exec::ProcessorContext& context, const config::Options& options,
         const std::shared_ptr<arrow::Schema>&) -> Result<std::unique_ptr<exec::Processor>> {
        // Take and Filter live in the compute library's optional kernels.
        SLUICE_RETURN_NOT_OK(arrow::compute::Initialize());
        SLUICE_ASSIGN_OR_RAISE(JoinSettings settings, ReadSettings(context, options));
        auto grouper = Grouper::Make(settings.key_types, arrow::compute::default_exec_context());
        if (!grouper.ok()) {
          return config::ConfigError(
              options.LocationOf("on"),
              fmt::format("these key fields cannot be compared: {}", grouper.status().message()),
              "use fields of simple types (numbers, strings, timestamps, booleans)");
        }
        if (settings.bound == Bound::kWindow) {
          return std::make_unique<join::WindowJoin>(std::move(settings), context,
                                                    std::move(*grouper));
        }
        return std::make_unique<join::ProbeJoin>(std::move(settings), context, std::move(*grouper));
      });
}

}  // namespace sluice::processors

