// Scaling out with a consumer group: two `sluice run` processes in one group share a
// 6-partition topic; stopping one (SIGTERM, graceful) moves its partitions to the other, and
// the output of both together still holds every record (at-least-once: duplicates are allowed
// and counted, losses are not).
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kafka_test_support.h"
#include "sluice/formats/formats_test_support.h"

namespace sluice::testing {
namespace {

using formats::testing::ReadText;
using formats::testing::ScratchDirectory;
using formats::testing::WriteText;

constexpr int kPartitions = 6;
/// Records produced while both processes run, and again after one of them stopped.
constexpr int64_t kRecordsPerPhase = 20000;
constexpr std::chrono::seconds kWaitLimit{60};

/// A `sluice run` child process whose stderr goes to a file. The destructor kills it (by its
/// pid) if the test did not stop it.
class SluiceProcess {
 public:
  SluiceProcess(const std::string& pipeline, const std::string& log) : log_(log) {
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, STDERR_FILENO);
        dup2(fd, STDOUT_FILENO);
        close(fd);
      }
      execl(SLUICE_BINARY, SLUICE_BINARY, "run", "--no-progress", pipeline.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~SluiceProcess() {
    if (running()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  SluiceProcess(const SluiceProcess&) = delete;
  SluiceProcess& operator=(const SluiceProcess&) = delete;

  bool running() const { return pid_ > 0 && !exit_status_; }
  std::string log() const { return ReadText(log_); }

  /// How many partitions the last assignment logged gave this process; -1 before the first.
  int LastAssignment() const {
    static const std::regex kAssigned("assigned (\\d+) partition");
    std::string text = log();
    int last = -1;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), kAssigned);
         it != std::sregex_iterator(); ++it) {
      last = std::stoi((*it)[1]);
    }
    return last;
  }

  /// Sends SIGTERM and waits for the exit; the exit status, or nullopt when it did not exit in
  /// time (it is then killed by the destructor).
  std::optional<int> Terminate(std::chrono::seconds limit) {
    if (!running()) return exit_status_;
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exit_status_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::nullopt;
  }

  /// Whether the process exited by itself (a failed start, say).
  bool Exited() {
    int status = 0;
    if (!running()) return true;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

/// Polls `condition` every 100 ms until it holds or `kWaitLimit` passes.
template <typename Condition>
bool WaitFor(Condition condition) {
  auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

/// Whether `group` has committed, for every partition of `topic`, the partition's end offset:
/// everything produced so far was read and written by the group's members.
bool GroupCaughtUp(const std::string& topic, const std::string& group) {
  rd_kafka_t* client = MakeClient(RD_KAFKA_CONSUMER, {{"group.id", group}});
  if (client == nullptr) return false;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(kPartitions);
  for (int partition = 0; partition < kPartitions; ++partition)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), partition);
  bool caught_up = rd_kafka_committed(client, list, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int i = 0; caught_up && i < list->cnt; ++i) {
    int64_t low = 0;
    int64_t high = 0;
    caught_up = rd_kafka_query_watermark_offsets(client, topic.c_str(), list->elems[i].partition,
                                                 &low, &high, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                list->elems[i].offset == high;
  }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_consumer_close(client);
  rd_kafka_destroy(client);
  return caught_up;
}

/// Records `first` .. `first + count - 1`, round-robin over the partitions.
std::vector<PartitionedMessage> Records(int64_t first, int64_t count) {
  std::vector<PartitionedMessage> messages;
  for (int64_t id = first; id < first + count; ++id) {
    messages.push_back({static_cast<int32_t>(id % kPartitions),
                        fmt::format(R"({{"id":{},"payload":"record {:08d}"}})", id, id)});
  }
  return messages;
}

/// The (id, partition) of each row of a JSON lines output file, in order.
std::vector<std::pair<int64_t, int32_t>> ReadRows(const std::string& path) {
  static const std::regex kRow(R"re("id":(\d+).*"_partition":(\d+))re");
  std::vector<std::pair<int64_t, int32_t>> rows;
  std::istringstream lines(ReadText(path));
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch match;
    if (!std::regex_search(line, match, kRow)) {
      ADD_FAILURE() << path << ": unexpected line " << line;
      continue;
    }
    rows.emplace_back(std::stoll(match[1]), std::stoi(match[2]));
  }
  return rows;
}

TEST(KafkaScaleOutTest, StoppingOneMemberMovesItsPartitionsToTheOtherAndLosesNoRecord) {
  ASSERT_FALSE(Bootstrap().empty())
      << "SLUICE_KAFKA_BOOTSTRAP is not set: run these tests with "
         "tests/integration/kafka/run_tests.sh, which starts a broker";
  ScratchDirectory directory;
  std::string topic = UniqueName("scale-out");
  std::string group = UniqueName("scale-out-group");
  CreateTopic(topic, kPartitions);

  auto pipeline = [&](const std::string& member) {
    std::string path = directory.File(member + ".yaml");
    WriteText(path,
              fmt::format(R"(
name: scale-out-{}
sources:
  records:
    connector: kafka
    brokers: ["{}"]
    topics: ["{}"]
    group: "{}"
    metadata: true
    batch_size: 1000
    linger: 50ms
    schema: {{id: int64, payload: string}}
sinks:
  out: {{connector: file, path: "{}"}}
)",
                          member, Bootstrap(), topic, group, directory.File(member + ".jsonl")));
    return path;
  };
  SluiceProcess first(pipeline("first"), directory.File("first.log"));
  ASSERT_TRUE(WaitFor([&] { return first.LastAssignment() == kPartitions || first.Exited(); }))
      << first.log();
  ASSERT_FALSE(first.Exited()) << first.log();
  SluiceProcess second(pipeline("second"), directory.File("second.log"));
  // The group rebalances: each member ends up with half of the partitions.
  ASSERT_TRUE(WaitFor([&] {
    return first.LastAssignment() == kPartitions / 2 && second.LastAssignment() == kPartitions / 2;
  })) << "first:\n"
      << first.log() << "second:\n"
      << second.log();

  Produce(topic, Records(0, kRecordsPerPhase));
  ASSERT_TRUE(WaitFor([&] { return GroupCaughtUp(topic, group); }))
      << "the two members did not read the first records";

  // A graceful stop: the first member drains, writes its file, commits and leaves the group.
  std::optional<int> status = first.Terminate(std::chrono::seconds(40));
  ASSERT_TRUE(status.has_value()) << "the first member did not stop within 20 s:\n" << first.log();
  EXPECT_EQ(*status, 0) << first.log();
  ASSERT_TRUE(WaitFor([&] { return second.LastAssignment() == kPartitions; }))
      << "the second member did not take over the first one's partitions:\n"
      << second.log();

  Produce(topic, Records(kRecordsPerPhase, kRecordsPerPhase));
  ASSERT_TRUE(WaitFor([&] { return GroupCaughtUp(topic, group); }))
      << "the remaining member did not read the later records:\n"
      << second.log();
  status = second.Terminate(std::chrono::seconds(40));
  ASSERT_TRUE(status.has_value()) << "the second member did not stop within 20 s:\n"
                                  << second.log();
  EXPECT_EQ(*status, 0) << second.log();

  auto first_rows = ReadRows(directory.File("first.jsonl"));
  auto second_rows = ReadRows(directory.File("second.jsonl"));
  std::map<int64_t, int> seen;
  std::set<int32_t> first_partitions;
  std::set<int32_t> second_partitions_later;
  for (const auto& [id, partition] : first_rows) {
    ++seen[id];
    first_partitions.insert(partition);
    EXPECT_LT(id, kRecordsPerPhase) << "the first member wrote a record produced after it stopped";
  }
  for (const auto& [id, partition] : second_rows) {
    ++seen[id];
    EXPECT_EQ(partition, id % kPartitions) << "record " << id << " came from the wrong partition";
    if (id >= kRecordsPerPhase) second_partitions_later.insert(partition);
  }
  int64_t missing = 0;
  int64_t duplicates = 0;
  for (int64_t id = 0; id < 2 * kRecordsPerPhase; ++id) {
    auto it = seen.find(id);
    if (it == seen.end()) {
      if (missing++ < 5) ADD_FAILURE() << "record " << id << " is in neither output";
    } else {
      duplicates += it->second - 1;
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(2 * kRecordsPerPhase)) << "unexpected ids";
  EXPECT_EQ(missing, 0);
  // At-least-once allows duplicates; a graceful hand-over commits before leaving, so expect few.
  RecordProperty("duplicates", std::to_string(duplicates));
  std::cout << "[ info     ] records " << 2 * kRecordsPerPhase << ", first member wrote "
            << first_rows.size() << ", second " << second_rows.size() << ", duplicates "
            << duplicates << ", missing " << missing << "\n";
  EXPECT_EQ(first_partitions.size(), static_cast<size_t>(kPartitions / 2))
      << "the first member should have read half of the partitions";
  EXPECT_EQ(second_partitions_later.size(), static_cast<size_t>(kPartitions))
      << "after the hand-over the second member should read every partition";
}

}  // namespace
}  // namespace sluice::testing
