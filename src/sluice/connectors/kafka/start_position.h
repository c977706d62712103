#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/option_spec.h"
#include "sluice/config/options.h"
#include "sluice/connectors/kafka/kafka_client.h"

namespace sluice::connectors::kafka {

/// Where the Kafka source starts reading, after Flink's convention: from the consumer group's
/// committed offsets by default, or from an explicit position that ignores them.
struct StartPosition {
  enum class Kind {
    kGroup,      ///< the group's committed offsets; `reset` where it has none
    kEarliest,   ///< the first offset of every partition
    kLatest,     ///< the end of every partition: only messages written from now on
    kTimestamp,  ///< the first message at or after `timestamp_ms`
  };
  Kind kind = Kind::kGroup;
  /// kGroup: "earliest" or "latest", for a partition without a committed offset.
  std::string reset = "earliest";
  /// kTimestamp: milliseconds since the epoch.
  int64_t timestamp_ms = -1;

  /// What librdkafka's auto.offset.reset must be: for kGroup `reset`, and for an explicit start
  /// what a partition it did not place (one assigned after the first assignment) falls back to.
  std::string AutoOffsetReset() const;

  /// "group", "earliest", "latest" or the timestamp, for messages.
  std::string Describe() const;
};

/// The `start` and `reset` options.
std::vector<config::OptionSpec> StartOptions();

/// StartPosition from `start` and `reset`, reporting bad values at their place.
Result<StartPosition> ParseStartPosition(const config::Options& options);

/// Sets the offset of each of `partitions` to `start` (not kGroup) before they are assigned;
/// failures to look offsets up are reported to `events` and leave the partition to the
/// group's committed offset.
void PlaceAtStart(RdKafka::KafkaConsumer* consumer, const StartPosition& start,
                  std::vector<RdKafka::TopicPartition*>& partitions, ClientEvents* events);

/// After PlaceAtStart(), for a pipeline with checkpoints: replaces the logical offsets of
/// `partitions` that would place a partition elsewhere when a restart uses them again (the end
/// of the partition, also where start: group with reset: latest finds no committed offset) with
/// the offsets they stand for now. Returns every partition placed at a known offset. Failed
/// look-ups are reported to `events` and leave the partition as it was.
PartitionOffsets ResolveStart(RdKafka::KafkaConsumer* consumer, const StartPosition& start,
                              std::vector<RdKafka::TopicPartition*>& partitions,
                              ClientEvents* events);

/// "topic/0@12, topic/1@none": the group's committed offset of each partition, for messages.
std::string DescribeCommittedOffsets(RdKafka::KafkaConsumer* consumer,
                                     const PartitionOffsets& end_offsets);

}  // namespace sluice::connectors::kafka
