// The Kafka source and sink in a pipeline with checkpoints, against a real broker (run_tests.sh
// starts it): the sink commits one transaction per checkpoint and recovers the last committed
// one after its process died; a source restored from PositionAfter() reads exactly what came
// after the checkpointed batches. The connectors are driven directly, as the pipeline would.
#include <arrow/api.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "kafka_test_support.h"
#include "sluice/config/options.h"
#include "sluice/connectors/kafka/offset_tracker.h"
#include "sluice/exec/registry.h"
#include "sluice/testing/collecting_output.h"

namespace sluice {
namespace {

using testing::Bootstrap;
using testing::CreateTopic;
using testing::PartitionedMessage;
using testing::UniqueName;

/// The context of a connector in a pipeline `checkpoints` or not, after a file source and a
/// window: what exactly_once refuses without checkpoints.
exec::ConnectorContext Context(bool checkpoints) {
  exec::ConnectorContext context{"checkpointed", "out"};
  context.source_connectors = {"file"};
  context.stateful_stages = {"pipeline[0] window"};
  context.checkpoints = checkpoints;
  return context;
}

Result<std::unique_ptr<exec::Sink>> MakeSink(const std::string& yaml, bool checkpoints = true) {
  const exec::Registry& registry = exec::BuiltinRegistry();
  const config::PluginSpec* spec = registry.FindSpec(config::PluginKind::kSink, "kafka");
  if (spec == nullptr) return Status::Invalid("no kafka sink");
  SLUICE_ASSIGN_OR_RAISE(auto options, config::ValidateOptions(*spec, YAML::Load(yaml),
                                                               "test.yaml", {"connector"}));
  return (*registry.FindSink("kafka"))(Context(checkpoints), options);
}

Result<std::unique_ptr<exec::Source>> MakeSource(const std::string& yaml) {
  const exec::Registry& registry = exec::BuiltinRegistry();
  const config::PluginSpec* spec = registry.FindSpec(config::PluginKind::kSource, "kafka");
  if (spec == nullptr) return Status::Invalid("no kafka source");
  SLUICE_ASSIGN_OR_RAISE(auto options, config::ValidateOptions(*spec, YAML::Load(yaml),
                                                               "test.yaml", {"connector"}));
  exec::ConnectorContext context{"checkpointed", "in"};
  context.checkpoints = true;
  return (*registry.FindSource("kafka"))(context, options);
}

std::shared_ptr<arrow::Schema> IdSchema() {
  return arrow::schema({arrow::field("id", arrow::int64())});
}

/// One batch of ids `first` .. `last - 1`.
std::shared_ptr<arrow::RecordBatch> Ids(int64_t first, int64_t last) {
  arrow::Int64Builder builder;
  for (int64_t id = first; id < last; ++id) EXPECT_TRUE(builder.Append(id).ok());
  return arrow::RecordBatch::Make(IdSchema(), last - first, {builder.Finish().ValueOrDie()});
}

std::vector<int64_t> Range(std::vector<std::pair<int64_t, int64_t>> ranges) {
  std::vector<int64_t> ids;
  for (auto [first, last] : ranges) {
    for (int64_t id = first; id < last; ++id) ids.push_back(id);
  }
  return ids;
}

/// The ids of every {"id":N} message of partition 0 of `topic`, in order, read from the start
/// to the end with `isolation`; read_committed stops at the first open transaction.
std::vector<int64_t> ReadIds(const std::string& topic,
                             const std::string& isolation = "read_committed") {
  std::vector<int64_t> ids;
  rd_kafka_t* consumer = testing::MakeClient(RD_KAFKA_CONSUMER, {{"group.id", UniqueName("reader")},
                                                                 {"isolation.level", isolation},
                                                                 {"enable.partition.eof", "true"},
                                                                 {"enable.auto.commit", "false"}});
  if (consumer == nullptr) return ids;
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(assignment, topic.c_str(), 0)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(consumer, assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  bool at_end = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!at_end && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, 500);
    if (message == nullptr) continue;
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end = true;
    } else if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::string value(static_cast<const char*>(message->payload), message->len);
      ids.push_back(std::stoll(value.substr(value.find(':') + 1)));
    } else {
      ADD_FAILURE() << "reading " << topic << ": " << rd_kafka_message_errstr(message);
    }
    rd_kafka_message_destroy(message);
  }
  EXPECT_TRUE(at_end) << "did not reach the end of " << topic;
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return ids;
}

class KafkaCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(Bootstrap().empty()) << "run with tests/integration/kafka/run_tests.sh";
  }

  /// An exactly-once sink of `topic` with a transactional id of its own.
  std::string SinkYaml(const std::string& topic, const std::string& transactional_id) {
    return fmt::format(
        R"({{brokers: ["{}"], topic: "{}", exactly_once: true, transactional_id: "{}"}})",
        Bootstrap(), topic, transactional_id);
  }
};

TEST_F(KafkaCheckpointTest, SinkCommitsEachCheckpointAndRecoversTheLastCommittedOne) {
  std::string topic = UniqueName("checkpointed");
  CreateTopic(topic, 1);
  std::string yaml = SinkYaml(topic, UniqueName("checkpointed-tx"));

  auto first = MakeSink(yaml);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  std::unique_ptr<exec::Sink> sink = std::move(*first);
  EXPECT_EQ(sink->checkpoint_role(), exec::CheckpointRole::kDeciding);
  ASSERT_TRUE(sink->Open(IdSchema()).ok());
  auto none = sink->LastCommittedCheckpoint();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, -1);

  // The rows written after PrepareCheckpoint(1) belong to checkpoint 2: committing 1 leaves them
  // invisible.
  ASSERT_TRUE(sink->Write(Ids(0, 10)).ok());
  auto pending1 = sink->PrepareCheckpoint(1);
  ASSERT_TRUE(pending1.ok()) << pending1.status().ToString();
  ASSERT_TRUE(sink->Write(Ids(10, 20)).ok());
  EXPECT_EQ(ReadIds(topic), Range({})) << "nothing is visible before the commit";
  Status committed = sink->CommitCheckpoint(1, *pending1);
  ASSERT_TRUE(committed.ok()) << committed.ToString();
  EXPECT_EQ(ReadIds(topic), Range({{0, 10}}));

  // Checkpoint 2 is prepared, then the process dies before its commit: no Abort(), no Close().
  auto pending2 = sink->PrepareCheckpoint(2);
  ASSERT_TRUE(pending2.ok()) << pending2.status().ToString();
  sink.reset();

  auto second = MakeSink(yaml);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  sink = std::move(*second);
  ASSERT_TRUE(sink->Open(IdSchema()).ok());
  auto last = sink->LastCommittedCheckpoint();
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(*last, 1);
  // Recovery commits the restored checkpoint again (a no-op) and drops the incomplete one.
  committed = sink->CommitCheckpoint(1, *pending1);
  EXPECT_TRUE(committed.ok()) << committed.ToString();
  EXPECT_TRUE(sink->AbortCheckpoint(2, *pending2).ok());
  ASSERT_TRUE(sink->Write(Ids(20, 30)).ok());
  auto again2 = sink->PrepareCheckpoint(2);
  ASSERT_TRUE(again2.ok()) << again2.status().ToString();
  ASSERT_TRUE(sink->CommitCheckpoint(2, *again2).ok());
  // The dead process's rows 10..19 reached the topic, in a transaction that was aborted.
  EXPECT_EQ(ReadIds(topic), Range({{0, 10}, {20, 30}}));
  EXPECT_EQ(ReadIds(topic, "read_uncommitted"), Range({{0, 30}}));

  // Committed, then the process dies: recovery finds the new checkpoint committed.
  ASSERT_TRUE(sink->Write(Ids(30, 40)).ok());
  auto pending3 = sink->PrepareCheckpoint(3);
  ASSERT_TRUE(pending3.ok()) << pending3.status().ToString();
  ASSERT_TRUE(sink->CommitCheckpoint(3, *pending3).ok());
  sink.reset();

  auto third = MakeSink(yaml);
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  sink = std::move(*third);
  ASSERT_TRUE(sink->Open(IdSchema()).ok());
  last = sink->LastCommittedCheckpoint();
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(*last, 3);
  EXPECT_TRUE(sink->CommitCheckpoint(3, *pending3).ok());
  // Committing a checkpoint out of turn is refused.
  auto pending4 = sink->PrepareCheckpoint(4);
  ASSERT_TRUE(pending4.ok()) << pending4.status().ToString();
  EXPECT_FALSE(sink->PrepareCheckpoint(5).ok()) << "4 is not committed yet";
  EXPECT_FALSE(sink->CommitCheckpoint(5, "{}").ok()) << "4 is prepared, not 5";
  ASSERT_TRUE(sink->CommitCheckpoint(4, *pending4).ok());
  EXPECT_TRUE(sink->Close().ok());
  EXPECT_EQ(ReadIds(topic), Range({{0, 10}, {20, 40}}));
}

TEST_F(KafkaCheckpointTest, SinkAbortDiscardsBothTransactionsAndAnEmptyCheckpointStillCommits) {
  std::string topic = UniqueName("checkpoint-abort");
  CreateTopic(topic, 1);
  std::string yaml = SinkYaml(topic, UniqueName("checkpoint-abort-tx"));
  {
    auto sink = MakeSink(yaml);
    ASSERT_TRUE(sink.ok()) << sink.status().ToString();
    ASSERT_TRUE((*sink)->Open(IdSchema()).ok());
    ASSERT_TRUE((*sink)->Write(Ids(0, 5)).ok());
    ASSERT_TRUE((*sink)->PrepareCheckpoint(1).ok());
    ASSERT_TRUE((*sink)->Write(Ids(5, 10)).ok());
    (*sink)->Abort();
  }
  // Aborted rather than left open: a message written after them is visible at once.
  testing::Produce(topic, {{0, R"({"id":99})"}});
  EXPECT_EQ(ReadIds(topic), (std::vector<int64_t>{99}));
  EXPECT_EQ(ReadIds(topic, "read_uncommitted"), Range({{0, 10}, {99, 100}}));
  {
    auto sink = MakeSink(yaml);
    ASSERT_TRUE(sink.ok()) << sink.status().ToString();
    ASSERT_TRUE((*sink)->Open(IdSchema()).ok());
    auto last = (*sink)->LastCommittedCheckpoint();
    ASSERT_TRUE(last.ok()) << last.status().ToString();
    EXPECT_EQ(*last, -1);
    // A checkpoint without output commits its marker all the same.
    auto pending = (*sink)->PrepareCheckpoint(1);
    ASSERT_TRUE(pending.ok()) << pending.status().ToString();
    EXPECT_NE(pending->find("-1\""), std::string::npos) << *pending;
    ASSERT_TRUE((*sink)->CommitCheckpoint(1, *pending).ok());
    EXPECT_TRUE((*sink)->Close().ok());
  }
  auto sink = MakeSink(yaml);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  ASSERT_TRUE((*sink)->Open(IdSchema()).ok());
  auto last = (*sink)->LastCommittedCheckpoint();
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(*last, 1);
}

TEST_F(KafkaCheckpointTest, SinkWithTopicFieldKeepsItsMarkerOnAPartitionEveryClusterHas) {
  std::string topic = UniqueName("checkpoint-routed");
  CreateTopic(topic, 1);
  std::string yaml = fmt::format(
      R"({{brokers: ["{}"], topic_field: t, exactly_once: true, transactional_id: "{}"}})",
      Bootstrap(), UniqueName("checkpoint-routed-tx"));
  auto schema =
      arrow::schema({arrow::field("id", arrow::int64()), arrow::field("t", arrow::utf8())});
  arrow::StringBuilder topics;
  ASSERT_TRUE(topics.AppendValues(std::vector<std::string>(3, topic)).ok());
  auto batch = arrow::RecordBatch::Make(schema, 3,
                                        {Ids(0, 3)->column(0), topics.Finish().ValueOrDie()});
  {
    auto sink = MakeSink(yaml);
    ASSERT_TRUE(sink.ok()) << sink.status().ToString();
    ASSERT_TRUE((*sink)->Open(schema).ok());
    ASSERT_TRUE((*sink)->Write(batch).ok());
    auto pending = (*sink)->PrepareCheckpoint(7);
    ASSERT_TRUE(pending.ok()) << pending.status().ToString();
    Status committed = (*sink)->CommitCheckpoint(7, *pending);
    ASSERT_TRUE(committed.ok()) << committed.ToString();
  }
  auto sink = MakeSink(yaml);
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  ASSERT_TRUE((*sink)->Open(schema).ok());
  auto last = (*sink)->LastCommittedCheckpoint();
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(*last, 7);
  EXPECT_EQ(ReadIds(topic).size(), 3u);
}

TEST_F(KafkaCheckpointTest, ExactlyOnceFollowsAnySourceAndStageOnlyWithCheckpoints) {
  std::string yaml = SinkYaml("out", "eo-config");
  auto with = MakeSink(yaml, true);
  ASSERT_TRUE(with.ok()) << with.status().ToString();
  EXPECT_EQ((*with)->checkpoint_role(), exec::CheckpointRole::kDeciding);

  auto without = MakeSink(yaml, false);
  ASSERT_FALSE(without.ok());
  EXPECT_NE(without.status().message().find("checkpoint: {dir: ...}"), std::string::npos)
      << without.status().ToString();

  auto at_least_once =
      MakeSink(fmt::format(R"({{brokers: ["{}"], topic: out}})", Bootstrap()), true);
  ASSERT_TRUE(at_least_once.ok()) << at_least_once.status().ToString();
  EXPECT_EQ((*at_least_once)->checkpoint_role(), exec::CheckpointRole::kAtLeastOnce);
}

/// A message's place: its partition and offset.
using Place = std::pair<int32_t, int64_t>;

/// What a source run read: the place of every row (with its id) and of every rejected message.
struct Read {
  std::vector<std::vector<std::pair<Place, int64_t>>> batches;
  std::set<Place> rejected;
  std::vector<int32_t> ended;
};

Read Collect(const testing::CollectingOutput& out) {
  Read read;
  for (const auto& batch : out.batches()) {
    auto ids = std::static_pointer_cast<arrow::Int64Array>(batch->GetColumnByName("id"));
    auto partitions =
        std::static_pointer_cast<arrow::Int32Array>(batch->GetColumnByName("_partition"));
    auto offsets = std::static_pointer_cast<arrow::Int64Array>(batch->GetColumnByName("_offset"));
    auto& rows = read.batches.emplace_back();
    for (int64_t row = 0; row < batch->num_rows(); ++row)
      rows.push_back({{partitions->Value(row), offsets->Value(row)}, ids->Value(row)});
  }
  for (const auto& letter : out.rejected()) {
    // origin: topic/partition@offset
    size_t slash = letter.origin.rfind('/');
    size_t at = letter.origin.rfind('@');
    read.rejected.insert({std::stoi(letter.origin.substr(slash + 1, at - slash - 1)),
                          std::stoll(letter.origin.substr(at + 1))});
  }
  read.ended = out.ended();
  return read;
}

/// Runs a kafka source of `yaml` to the end of its topic, restored from `position` unless it is
/// empty.
Read RunSource(const std::string& yaml, const std::string& position,
               std::unique_ptr<exec::Source>* kept = nullptr) {
  auto source = MakeSource(yaml);
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  if (!source.ok()) return {};
  EXPECT_TRUE((*source)->checkpointable());
  if (!position.empty()) {
    Status restored = (*source)->RestorePosition(position);
    EXPECT_TRUE(restored.ok()) << restored.ToString();
  }
  testing::CollectingOutput out;
  Status run = (*source)->Run(out);
  EXPECT_TRUE(run.ok()) << run.ToString();
  Read read = Collect(out);
  if (kept != nullptr) *kept = std::move(*source);
  return read;
}

TEST_F(KafkaCheckpointTest, RestoredSourceReadsExactlyWhatFollowsTheCheckpointedBatches) {
  constexpr int kPartitions = 3;
  constexpr int kPerPartition = 60;
  std::string topic = UniqueName("checkpoint-source");
  CreateTopic(topic, kPartitions);
  // Rows spread over the partitions, with undecodable messages among them (rejected messages
  // move the position too).
  std::vector<PartitionedMessage> messages;
  std::set<Place> all_places;
  for (int i = 0; i < kPerPartition; ++i) {
    for (int partition = 0; partition < kPartitions; ++partition) {
      bool garbage = partition == 1 && i % 17 == 5;
      messages.push_back({partition, garbage ? std::string("not json")
                                             : fmt::format(R"({{"id":{}}})",
                                                           i * kPartitions + partition)});
      all_places.insert({partition, i});
    }
  }
  testing::Produce(topic, messages, 5);
  std::string group = UniqueName("checkpoint-group");
  auto yaml = [&](const std::string& group) {
    return fmt::format(
        R"({{brokers: ["{}"], topics: ["{}"], group: "{}", until: end, metadata: true,
             batch_size: 7, schema: {{id: int64}}}})",
        Bootstrap(), topic, group);
  };

  std::unique_ptr<exec::Source> source;
  Read first = RunSource(yaml(group), "", &source);
  int64_t total = static_cast<int64_t>(first.batches.size());
  ASSERT_GT(total, 10);
  // The first batch, the first batches that cover every partition, and all of them.
  int64_t covering = 0;
  std::set<int32_t> seen;
  while (covering < total && static_cast<int>(seen.size()) < kPartitions) {
    for (const auto& [place, id] : first.batches[covering]) seen.insert(place.first);
    ++covering;
  }
  ASSERT_LT(covering, total);
  std::vector<int64_t> after = {1, covering, total};
  std::vector<std::string> positions;
  for (int64_t batches : after) {
    auto position = source->PositionAfter(batches);
    ASSERT_TRUE(position.ok()) << position.status().ToString();
    positions.push_back(*position);
  }
  // The group commits everything: a restored source must not go by it.
  source->OnBatchesDone(total, true);
  source.reset();
  EXPECT_TRUE(RunSource(yaml(group), "").batches.empty()) << "the group had committed everything";

  for (size_t i = 0; i < after.size(); ++i) {
    SCOPED_TRACE(fmt::format("restored after {} of {} batches: {}", after[i], total,
                             positions[i]));
    auto offsets = connectors::kafka::PositionFromJson(positions[i]);
    ASSERT_TRUE(offsets.ok()) << offsets.status().ToString();
    auto restored_offset = [&](int32_t partition) -> int64_t {
      auto it = offsets->find({topic, partition});
      return it == offsets->end() ? 0 : it->second;
    };
    // The rows of the checkpointed batches are before the position...
    std::set<int64_t> expected_ids;
    for (int64_t batch = 0; batch < total; ++batch) {
      for (const auto& [place, id] : first.batches[batch]) {
        if (batch < after[i]) {
          EXPECT_LT(place.second, restored_offset(place.first));
        } else {
          expected_ids.insert(id);
        }
      }
    }
    // ...and a source restored from it (a fresh group for the first, which does not cover
    // every partition; the group that committed everything for the others) reads every
    // message after it once and nothing before it.
    Read restored = RunSource(yaml(i == 0 ? UniqueName("fresh-group") : group), positions[i]);
    std::multiset<int64_t> ids;
    std::set<Place> places = restored.rejected;
    for (const auto& rows : restored.batches) {
      for (const auto& [place, id] : rows) {
        ids.insert(id);
        EXPECT_TRUE(places.insert(place).second) << "read twice: " << place.first << "@"
                                                 << place.second;
      }
    }
    EXPECT_EQ(ids, std::multiset<int64_t>(expected_ids.begin(), expected_ids.end()));
    std::set<Place> expected_places;
    for (const auto& place : all_places) {
      if (place.second >= restored_offset(place.first)) expected_places.insert(place);
    }
    EXPECT_EQ(places, expected_places);
    // Every partition ended, at once for those restored at their end.
    EXPECT_EQ(std::set<int32_t>(restored.ended.begin(), restored.ended.end()).size(),
              static_cast<size_t>(kPartitions));
  }
}

TEST_F(KafkaCheckpointTest, PartitionThatReadNothingIsCheckpointedWhereItStarted) {
  std::string topic = UniqueName("checkpoint-latest");
  CreateTopic(topic, 2);
  testing::Produce(topic, {{0, R"({"id":1})"}, {1, R"({"id":2})"}});
  auto yaml = fmt::format(
      R"({{brokers: ["{}"], topics: ["{}"], group: "{}", start: latest, until: end,
           metadata: true, schema: {{id: int64}}}})",
      Bootstrap(), topic, UniqueName("latest-group"));
  std::unique_ptr<exec::Source> source;
  Read first = RunSource(yaml, "", &source);
  EXPECT_TRUE(first.batches.empty());
  // Nothing read, but the checkpoint knows where each partition started: at its end then.
  auto position = source->PositionAfter(0);
  ASSERT_TRUE(position.ok()) << position.status().ToString();
  auto offsets = connectors::kafka::PositionFromJson(*position);
  ASSERT_TRUE(offsets.ok()) << offsets.status().ToString();
  EXPECT_EQ(*offsets, (connectors::kafka::PartitionOffsets{{{topic, 0}, 1}, {{topic, 1}, 1}}));
  source.reset();

  // Written after the checkpoint: a restart from it reads them, where "latest" would skip them.
  testing::Produce(topic, {{0, R"({"id":3})"}, {1, R"({"id":4})"}});
  Read restored = RunSource(yaml, *position);
  std::set<int64_t> ids;
  for (const auto& rows : restored.batches) {
    for (const auto& [place, id] : rows) ids.insert(id);
  }
  EXPECT_EQ(ids, (std::set<int64_t>{3, 4}));
}

}  // namespace
}  // namespace sluice
