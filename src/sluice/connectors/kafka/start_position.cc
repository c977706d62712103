#include "sluice/connectors/kafka/start_position.h"

#include <fmt/format.h>

#include <memory>

#include "sluice/config/location.h"
#include "sluice/formats/time_text.h"

namespace sluice::connectors::kafka {
namespace {

/// How long a look-up of committed offsets or of offsets for a time may take.
constexpr int kLookupTimeoutMs = 10000;

/// Owns librdkafka partition objects for the length of a scope.
struct PartitionList {
  std::vector<RdKafka::TopicPartition*> partitions;
  ~PartitionList() { RdKafka::TopicPartition::destroy(partitions); }
};

}  // namespace

std::string StartPosition::AutoOffsetReset() const {
  switch (kind) {
    case Kind::kGroup:
      return reset;
    case Kind::kLatest:
      return "latest";
    case Kind::kEarliest:
    case Kind::kTimestamp:
      return "earliest";
  }
  return "earliest";
}

std::string StartPosition::Describe() const {
  switch (kind) {
    case Kind::kGroup:
      return fmt::format("group (reset: {})", reset);
    case Kind::kEarliest:
      return "earliest";
    case Kind::kLatest:
      return "latest";
    case Kind::kTimestamp: {
      std::string text;
      formats::AppendTimestampText(timestamp_ms, arrow::TimeUnit::MILLI, true, &text);
      return text;
    }
  }
  return "group";
}

std::vector<config::OptionSpec> StartOptions() {
  using config::OptionType;
  config::OptionSpec start = config::MakeOption(
      "start", OptionType::kString,
      "Where to start reading: group (the consumer group's committed offsets, and `reset` "
      "where it has none), or earliest, latest or an ISO 8601 timestamp (the first message at "
      "or after it), which ignore committed offsets, so that a re-run reads the same messages.",
      "group");
  config::OptionSpec reset = config::MakeOption(
      "reset", OptionType::kEnum,
      "start: group: where to start in a partition the group has no committed offset for.",
      "earliest");
  reset.choices = {"earliest", "latest"};
  return {start, reset};
}

Result<StartPosition> ParseStartPosition(const config::Options& options) {
  StartPosition start;
  start.reset = options.GetString("reset");
  std::string text = options.GetString("start");
  if (text == "group") return start;
  if (options.Has("reset")) {
    return config::ConfigError(options.LocationOf("reset"),
                               fmt::format("reset applies to start: group, not start: {}", text),
                               "leave reset out, or use start: group");
  }
  if (text == "earliest") {
    start.kind = StartPosition::Kind::kEarliest;
    return start;
  }
  if (text == "latest") {
    start.kind = StartPosition::Kind::kLatest;
    return start;
  }
  auto micros = formats::ParseTimestampText(text);
  if (!micros) {
    return config::ConfigError(
        options.LocationOf("start"),
        fmt::format("start must be group, earliest, latest or a timestamp, not '{}'", text),
        "e.g. start: 2024-03-01T00:00:00Z");
  }
  start.kind = StartPosition::Kind::kTimestamp;
  start.timestamp_ms = *micros / 1000;
  return start;
}

void PlaceAtStart(RdKafka::KafkaConsumer* consumer, const StartPosition& start,
                  std::vector<RdKafka::TopicPartition*>& partitions, ClientEvents* events) {
  switch (start.kind) {
    case StartPosition::Kind::kGroup:
      return;
    case StartPosition::Kind::kEarliest:
      for (auto* partition : partitions) partition->set_offset(RdKafka::Topic::OFFSET_BEGINNING);
      return;
    case StartPosition::Kind::kLatest:
      for (auto* partition : partitions) partition->set_offset(RdKafka::Topic::OFFSET_END);
      return;
    case StartPosition::Kind::kTimestamp:
      break;
  }
  PartitionList lookup;
  for (auto* partition : partitions) {
    lookup.partitions.push_back(RdKafka::TopicPartition::create(
        partition->topic(), partition->partition(), start.timestamp_ms));
  }
  RdKafka::ErrorCode code = consumer->offsetsForTimes(lookup.partitions, kLookupTimeoutMs);
  if (code != RdKafka::ERR_NO_ERROR) {
    events->Report(code, "cannot look up offsets for the start timestamp");
    return;
  }
  for (size_t i = 0; i < partitions.size(); ++i) {
    // No message at or after the time: the partition starts at its end.
    int64_t found = lookup.partitions[i]->offset();
    partitions[i]->set_offset(found >= 0 ? found : RdKafka::Topic::OFFSET_END);
  }
}

PartitionOffsets ResolveStart(RdKafka::KafkaConsumer* consumer, const StartPosition& start,
                              std::vector<RdKafka::TopicPartition*>& partitions,
                              ClientEvents* events) {
  if (start.kind == StartPosition::Kind::kGroup && start.reset == "latest") {
    // The group's committed offset, where it has one; the end of the partition otherwise.
    PartitionList committed;
    for (auto* partition : partitions) {
      if (partition->offset() != RdKafka::Topic::OFFSET_INVALID) continue;
      committed.partitions.push_back(RdKafka::TopicPartition::create(
          partition->topic(), partition->partition(), RdKafka::Topic::OFFSET_INVALID));
    }
    RdKafka::ErrorCode code = committed.partitions.empty()
                                  ? RdKafka::ERR_NO_ERROR
                                  : consumer->committed(committed.partitions, kLookupTimeoutMs);
    if (code != RdKafka::ERR_NO_ERROR) {
      events->Report(code, "cannot look up the group's committed offsets");
    } else {
      for (const auto* found : committed.partitions) {
        for (auto* partition : partitions) {
          if (partition->topic() != found->topic() ||
              partition->partition() != found->partition()) {
            continue;
          }
          partition->set_offset(found->offset() >= 0 ? found->offset()
                                                     : RdKafka::Topic::OFFSET_END);
        }
      }
    }
  }
  PartitionOffsets known;
  for (auto* partition : partitions) {
    if (partition->offset() == RdKafka::Topic::OFFSET_END) {
      int64_t low = 0;
      int64_t high = 0;
      RdKafka::ErrorCode code = consumer->query_watermark_offsets(
          partition->topic(), partition->partition(), &low, &high, kLookupTimeoutMs);
      if (code != RdKafka::ERR_NO_ERROR) {
        events->Report(code, "cannot look up the end offset of a partition");
        continue;
      }
      partition->set_offset(high);
    }
    if (partition->offset() >= 0)
      known[{partition->topic(), partition->partition()}] = partition->offset();
  }
  return known;
}

std::string DescribeCommittedOffsets(RdKafka::KafkaConsumer* consumer,
                                     const PartitionOffsets& end_offsets) {
  PartitionList committed;
  for (const auto& [partition, end] : end_offsets) {
    committed.partitions.push_back(RdKafka::TopicPartition::create(
        partition.first, partition.second, RdKafka::Topic::OFFSET_INVALID));
  }
  RdKafka::ErrorCode code = consumer->committed(committed.partitions, kLookupTimeoutMs);
  if (code != RdKafka::ERR_NO_ERROR) return fmt::format("unknown ({})", RdKafka::err2str(code));
  std::string text;
  for (const auto* partition : committed.partitions) {
    if (!text.empty()) text += ", ";
    int64_t offset = partition->offset();
    int64_t end = end_offsets.at({partition->topic(), partition->partition()});
    text += offset >= 0 ? fmt::format("{}/{}@{} (end {})", partition->topic(),
                                      partition->partition(), offset, end)
                        : fmt::format("{}/{}@none (end {})", partition->topic(),
                                      partition->partition(), end);
  }
  return text.empty() ? "none (no partitions)" : text;
}

}  // namespace sluice::connectors::kafka
