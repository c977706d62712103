// Bounded Kafka equals a file: the same windowed pipeline over a Parquet file and over a topic
// holding the same records in several partitions gives identical results. The records are
// random (keys with nulls, values with nulls, event times out of order within the watermark
// delay); each partition keeps the file's order, so each partition is in order within the
// delay, but the consumer reads the partitions at its own pace, one far ahead of another.
// Only per-partition watermarks keep the rows of a partition read later from turning late.
#include <arrow/api.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <ctime>
#include <limits>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "../../unit/window_test_support.h"
#include "kafka_test_support.h"
#include "sluice/formats/formats_test_support.h"

namespace sluice::testing {
namespace {

using formats::testing::ScratchDirectory;

constexpr int64_t kRows = 4000;
constexpr int kPartitions = 4;
constexpr int64_t kDelay = 2 * kMicrosPerSecond;
constexpr const char* kAggregates =
    "{v: [count, sum, min, max, avg, first, last], w: [max, stddev]}";

/// `micros` since the epoch as ISO 8601 text with all six fractional digits, in UTC.
std::string IsoText(int64_t micros) {
  std::time_t seconds = static_cast<std::time_t>(micros / kMicrosPerSecond);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &parts);
  return fmt::format("{}.{:06d}Z", text, micros % kMicrosPerSecond);
}

std::string EventJson(const Event& event) {
  auto number = [](const std::optional<double>& value) {
    return value ? fmt::format("{}", *value) : std::string("null");
  };
  return fmt::format(R"({{"key":{},"v":{},"w":{},"ts":"{}"}})",
                     event.key < 0 ? "null" : fmt::format("\"k{}\"", event.key), number(event.v),
                     number(event.w), IsoText(event.ts));
}

/// The partition of a row: by key (keys are skewed, so partitions differ in size), rows with a
/// null key round-robin.
int32_t PartitionOf(const Event& event, int64_t position) {
  return static_cast<int32_t>(event.key < 0 ? position % kPartitions : event.key % kPartitions);
}

/// How many rows, in arrival order, come more than the watermark delay behind the latest event
/// time before them: the rows one watermark for the whole topic would turn late.
int64_t LateUnderOneWatermark(const arrow::Table& table) {
  auto combined = table.CombineChunks().ValueOrDie();
  const auto& times =
      static_cast<const arrow::TimestampArray&>(*combined->GetColumnByName("ts")->chunk(0));
  int64_t latest = std::numeric_limits<int64_t>::min();
  int64_t late = 0;
  for (int64_t row = 0; row < times.length(); ++row) {
    if (latest != std::numeric_limits<int64_t>::min() && times.Value(row) < latest - kDelay) ++late;
    latest = std::max(latest, times.Value(row));
  }
  return late;
}

std::string Pipeline(const std::string& source, const std::string& window) {
  return fmt::format(
      "name: equivalence\n"
      "sources:\n"
      "  events:\n"
      "{}"
      "    event_time: {{field: ts, watermark_delay: 2s}}\n"
      "pipeline:\n"
      "  - window:\n"
      "      {}\n"
      "      group_by: [key]\n"
      "      aggregate: {}\n"
      "sinks:\n"
      "  out: {{connector: collect}}\n"
      "dead_letters: {{connector: collect}}\n",
      source, window, kAggregates);
}

/// Writes the `events` in `order` to a Parquet file, and to a topic of `partitions` partitions
/// (row i to `partition_of[i]`, each partition in the file's order); runs a tumbling and a
/// sliding window over each and expects the same rows and, unless `late_rows`, no late rows and
/// no dead letters; with `late_rows`, the same late rows as dead letters from both.
void ExpectTopicEqualsFile(const std::vector<Event>& events, const std::vector<int64_t>& order,
                           const std::vector<int32_t>& partition_of, int partitions,
                           bool late_rows = false) {
  int64_t rows = static_cast<int64_t>(order.size());
  ScratchDirectory directory;
  std::string file = directory.File("events.parquet");
  ASSERT_TRUE(WriteParquet(file, EventBatch(events, order)).ok());

  std::string topic = UniqueName("equivalence");
  CreateTopic(topic, partitions);
  std::vector<PartitionedMessage> messages;
  std::vector<int64_t> per_partition(partitions, 0);
  for (size_t position = 0; position < order.size(); ++position) {
    ++per_partition[partition_of[position]];
    messages.push_back({partition_of[position], EventJson(events[order[position]])});
  }
  for (int64_t count : per_partition) ASSERT_GT(count, 0) << "every partition should hold rows";
  Produce(topic, messages, /*messages_per_batch=*/20);

  // Small record batches and small fetches make the consumer take turns between partitions in
  // chunks of about 20 messages; small micro-batches give many watermark steps; a fresh group
  // reads from the start every time.
  auto kafka_source = [&](const std::string& schema, bool metadata) {
    return fmt::format(
        "    connector: kafka\n"
        "    brokers: [\"{}\"]\n"
        "    topics: [\"{}\"]\n"
        "    group: \"{}\"\n"
        "    until: end\n"
        "    format: json\n"
        "    metadata: {}\n"
        "    batch_size: 97\n"
        "    properties: {{max.partition.fetch.bytes: \"2048\"}}\n"
        "    schema: {}\n",
        Bootstrap(), topic, UniqueName("equivalence-group"), metadata, schema);
  };

  // The consumer reads the partitions at its own pace: under one watermark for the whole topic
  // some rows would be late. Otherwise this test could not tell per-partition watermarks apart.
  auto arrival = RunPipeline(
      fmt::format("name: arrival\nsources:\n  events:\n{}sinks:\n  out: {{connector: collect}}\n",
                  kafka_source("{ts: timestamp}", true)));
  ASSERT_TRUE(arrival.ok()) << arrival.status().ToString();
  ASSERT_EQ(arrival->table->num_rows(), rows);
  EXPECT_GT(LateUnderOneWatermark(*arrival->table), 0)
      << "the topic was read in the file's order; the test proves nothing";

  std::string file_source = fmt::format(
      "    connector: file\n"
      "    path: {}\n",
      file);
  // With late rows, only tumbling windows: a sliding window's row late for some of its windows
  // may still be counted in windows that a slower partition holds open (docs/event-time.md);
  // its dead letters are the same either way.
  std::vector<const char*> windows = {"tumbling: 5s", "session: {gap: 3s}"};
  if (!late_rows) windows = {"tumbling: 5s", "sliding: {size: 10s, slide: 2s}"};
  for (const char* window : windows) {
    SCOPED_TRACE(window);
    auto from_file = RunPipeline(Pipeline(file_source, window));
    ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
    auto from_topic = RunPipeline(Pipeline(
        kafka_source("{key: string, v: double, w: double, ts: timestamp}", false), window));
    ASSERT_TRUE(from_topic.ok()) << from_topic.status().ToString();
    for (const auto* output : {&*from_file, &*from_topic}) {
      EXPECT_EQ(output->summary.rows_in, rows);
      if (!late_rows) {
        EXPECT_EQ(output->summary.dead_letters, 0);
        EXPECT_EQ(output->summary.late, 0);
      }
      EXPECT_EQ(output->summary.final_state_bytes, 0);
    }
    if (late_rows) {
      EXPECT_GT(from_file->summary.late, 0) << "the data must hold late rows";
      EXPECT_EQ(from_file->summary.late, from_topic->summary.late);
      ASSERT_NE(from_file->dead_letters, nullptr);
      ASSERT_NE(from_topic->dead_letters, nullptr);
      auto judged = [](const arrow::Table& letters) {
        return *letters.SelectColumns(
            {letters.schema()->GetFieldIndex("reason"), letters.schema()->GetFieldIndex("record")});
      };
      EXPECT_EQ(DescribeDifferences(*judged(*from_file->dead_letters),
                                    *judged(*from_topic->dead_letters)),
                "")
          << "the topic's late rows differ from the file's";
      // A late row names where it came from, as a decode error does.
      auto origins = std::static_pointer_cast<arrow::StringArray>(
          *arrow::Concatenate(from_topic->dead_letters->GetColumnByName("origin")->chunks()));
      std::regex topic_origin(topic + "/[0-9]+@[0-9]+");
      for (int64_t i = 0; i < origins->length(); ++i) {
        EXPECT_TRUE(std::regex_match(std::string(origins->GetView(i)), topic_origin))
            << origins->GetView(i);
      }
      auto file_origins = std::static_pointer_cast<arrow::StringArray>(
          *arrow::Concatenate(from_file->dead_letters->GetColumnByName("origin")->chunks()));
      std::regex file_origin(".*events\\.parquet row [0-9]+");
      for (int64_t i = 0; i < file_origins->length(); ++i) {
        EXPECT_TRUE(std::regex_match(std::string(file_origins->GetView(i)), file_origin))
            << file_origins->GetView(i);
      }
    } else if (from_topic->dead_letters != nullptr && from_topic->dead_letters->num_rows() > 0) {
      auto reasons = from_topic->dead_letters->GetColumnByName("reason");
      auto records = from_topic->dead_letters->GetColumnByName("record");
      ADD_FAILURE() << from_topic->dead_letters->num_rows() << " dead letters from the topic, "
                    << "the first: " << reasons->GetScalar(0).ValueOrDie()->ToString() << "; "
                    << records->GetScalar(0).ValueOrDie()->ToString();
    }
    EXPECT_GE(from_file->table->num_rows(), 5) << "the stream should span several windows";
    std::string differences = DescribeDifferences(*from_file->table, *from_topic->table);
    EXPECT_TRUE(differences.empty()) << "the topic's windows differ from the file's:\n"
                                     << differences;
  }
}

class KafkaEquivalenceTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(Bootstrap().empty())
        << "SLUICE_KAFKA_BOOTSTRAP is not set: run these tests with "
           "tests/integration/kafka/run_tests.sh, which starts a broker";
  }
};

/// Random records spread over four partitions by key (rows with a null key round-robin).
TEST_P(KafkaEquivalenceTest, WindowsOverPartitionedTopicEqualWindowsOverParquetFile) {
  uint32_t seed = GetParam();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  auto events = RandomEvents(seed, kRows);
  std::vector<int64_t> order = ShuffleWithinDelay(events, kDelay, seed + 1);
  std::vector<int32_t> partition_of;
  for (size_t position = 0; position < order.size(); ++position)
    partition_of.push_back(PartitionOf(events[order[position]], static_cast<int64_t>(position)));
  ExpectTopicEqualsFile(events, order, partition_of, kPartitions);
}

/// A dense partition whose events end early (all its rows lie in the first fifth of the event
/// time) beside a sparse one spanning the whole stream: when the dense one reaches its end, the
/// sparse one is far ahead in event time. Its last rows must still reach the windows before it
/// stops holding the watermark back.
TEST_F(KafkaEquivalenceTest, PartitionEndingEarlyKeepsItsLastRows) {
  auto events = RandomEvents(77, kRows);
  std::vector<int64_t> order = ShuffleWithinDelay(events, kDelay, 78);
  int64_t early_end = events[kRows / 5].ts;
  std::vector<int32_t> partition_of;
  for (size_t position = 0; position < order.size(); ++position)
    partition_of.push_back(events[order[position]].ts < early_end ? 0 : 1);
  ExpectTopicEqualsFile(events, order, partition_of, 2);
}

/// Rows far behind the watermark (40 s behind a 2 s delay) among rows out of order within it:
/// late in the file and late in the topic alike, whatever partition they are in and however the
/// consumer interleaves the partitions — lateness is decided against the rows before a row in
/// its own partition, not against how far the others have got.
TEST_P(KafkaEquivalenceTest, LateRowsAreTheSameOverPartitionedTopicAndFile) {
  uint32_t seed = GetParam();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  auto events = RandomEvents(seed, kRows);
  std::mt19937 random(seed + 5);
  std::vector<std::pair<int64_t, int64_t>> keyed;
  // A row held back arrives among rows far later than itself, so never near the end.
  const int64_t last = events.back().ts;
  for (int64_t i = 0; i < kRows; ++i) {
    int64_t arrival = events[i].ts + std::uniform_int_distribution<int64_t>(0, kDelay - 1)(random);
    bool held_back = std::uniform_int_distribution<int>(0, 99)(random) < 3;
    if (held_back && events[i].ts + 60 * kMicrosPerSecond <= last) arrival += 40 * kMicrosPerSecond;
    keyed.emplace_back(arrival, i);
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<int64_t> order;
  for (const auto& [_, index] : keyed) order.push_back(index);
  std::vector<int32_t> partition_of;
  for (size_t position = 0; position < order.size(); ++position)
    partition_of.push_back(PartitionOf(events[order[position]], static_cast<int64_t>(position)));
  ExpectTopicEqualsFile(events, order, partition_of, kPartitions, /*late_rows=*/true);
}

INSTANTIATE_TEST_SUITE_P(Seeds, KafkaEquivalenceTest, ::testing::Values(11u, 2024u));

}  // namespace
}  // namespace sluice::testing
