#include "sluice/state/checkpoint_store.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace sluice::state {
namespace {

namespace fs = std::filesystem;

/// Storage over a real folder that can fail any one step, and that can "crash": lose what a
/// real crash may lose — file contents never fsynced (left torn: cut in half), and folder
/// entries (new files, renames) whose folder was never fsynced afterwards.
class FaultInjectingStorage final : public Storage {
 public:
  FaultInjectingStorage(std::unique_ptr<Storage> base, fs::path root, int fail_at)
      : base_(std::move(base)), root_(std::move(root)), fail_at_(fail_at) {}

  std::string root() const override { return base_->root(); }

  Status CreateDir(const std::string& path) override {
    SLUICE_RETURN_NOT_OK(Step("create folder " + path));
    bool existed = fs::exists(root_ / path);
    SLUICE_RETURN_NOT_OK(base_->CreateDir(path));
    if (!existed) unsynced_entries_.push_back({Parent(path), path, ""});
    return Status::OK();
  }
  Status WriteFile(const std::string& path, const std::shared_ptr<arrow::Buffer>& bytes) override {
    SLUICE_RETURN_NOT_OK(Step("write " + path));
    bool existed = fs::exists(root_ / path);
    SLUICE_RETURN_NOT_OK(base_->WriteFile(path, bytes));
    unsynced_data_.insert(path);
    if (!existed) unsynced_entries_.push_back({Parent(path), path, ""});
    return Status::OK();
  }
  Status SyncFile(const std::string& path) override {
    SLUICE_RETURN_NOT_OK(Step("fsync " + path));
    unsynced_data_.erase(path);
    return base_->SyncFile(path);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    SLUICE_RETURN_NOT_OK(Step("rename " + from));
    SLUICE_RETURN_NOT_OK(base_->Rename(from, to));
    if (unsynced_data_.erase(from) > 0) unsynced_data_.insert(to);
    unsynced_entries_.push_back({Parent(to), to, from});
    return Status::OK();
  }
  Status SyncDir(const std::string& path) override {
    SLUICE_RETURN_NOT_OK(Step("fsync folder " + path));
    std::erase_if(unsynced_entries_, [&](const Entry& entry) { return entry.folder == path; });
    return base_->SyncDir(path);
  }
  Result<std::shared_ptr<arrow::Buffer>> ReadFile(const std::string& path) override {
    return base_->ReadFile(path);
  }
  Result<std::vector<std::string>> List(const std::string& path) override {
    return base_->List(path);
  }
  Result<bool> Exists(const std::string& path) override { return base_->Exists(path); }
  Status DeleteDir(const std::string& path) override {
    SLUICE_RETURN_NOT_OK(Step("delete " + path));
    return base_->DeleteDir(path);
  }
  bool atomic_rename() const override { return true; }

  /// Steps taken so far.
  int steps() const { return steps_; }

  /// What a power cut would leave: folder entries not made durable are undone (newest first),
  /// then files whose contents were not synced are cut in half.
  void Crash() {
    for (auto it = unsynced_entries_.rbegin(); it != unsynced_entries_.rend(); ++it) {
      std::error_code ignored;
      if (it->renamed_from.empty()) {
        fs::remove_all(root_ / it->path, ignored);
      } else {
        fs::rename(root_ / it->path, root_ / it->renamed_from, ignored);
      }
    }
    for (const auto& path : unsynced_data_) {
      std::error_code ignored;
      if (fs::is_regular_file(root_ / path, ignored))
        fs::resize_file(root_ / path, fs::file_size(root_ / path) / 2, ignored);
    }
  }

 private:
  struct Entry {
    std::string folder;
    std::string path;
    std::string renamed_from;
  };
  static std::string Parent(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash);
  }
  Status Step(const std::string& what) {
    if (steps_++ == fail_at_) return Status::IOError("injected failure at step ", fail_at_, ": ", what);
    if (fail_at_ >= 0 && steps_ > fail_at_) return Status::IOError("after the injected failure");
    return Status::OK();
  }

  std::unique_ptr<Storage> base_;
  fs::path root_;
  int fail_at_;
  int steps_ = 0;
  std::set<std::string> unsynced_data_;
  std::vector<Entry> unsynced_entries_;
};

class CheckpointStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("sluice-checkpoint-store-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<Storage> Local() {
    auto storage = OpenStorage(root_.string());
    EXPECT_TRUE(storage.ok()) << storage.status().ToString();
    return std::move(*storage);
  }

  /// A checkpoint whose one stage holds `rows` rows counting up from `first`.
  static CheckpointData Data(int64_t id, int64_t first, int64_t rows) {
    CheckpointData data;
    data.manifest.pipeline = "test";
    data.manifest.id = id;
    data.manifest.created = "2026-12-07T00:00:00Z";
    SourceRecord source;
    source.name = "in";
    source.batches = id * 10;
    source.position = "{\"rows\": " + std::to_string(first + rows) + "}";
    source.partitions = {{-1, 5}};
    source.named_partitions = {{"orders/2", 7}};
    data.manifest.sources.push_back(std::move(source));
    data.manifest.sinks.push_back(SinkRecord{"out", "two-phase", "{\"parts\": []}"});
    StageRecord stage;
    stage.id = "window";
    stage.processor = "window";
    stage.values["watermark"] = std::to_string(first);
    data.manifest.stages.push_back(stage);
    arrow::Int64Builder builder;
    for (int64_t i = 0; i < rows; ++i) EXPECT_TRUE(builder.Append(first + i).ok());
    auto column = *builder.Finish();
    StateSnapshot snapshot;
    snapshot.values = stage.values;
    snapshot.tables.emplace_back(
        "slots", arrow::Table::Make(arrow::schema({arrow::field("value", arrow::int64())}),
                                    {column}));
    data.stages.push_back(std::move(snapshot));
    return data;
  }

  /// The newest checkpoint that reads back whole, as recovery looks for it: its id and the
  /// first value of its state; -1 when none does.
  std::pair<int64_t, int64_t> Latest() {
    CheckpointStore store(Local(), 3);
    auto ids = store.List();
    EXPECT_TRUE(ids.ok());
    for (int64_t id : *ids) {
      auto read = store.ReadManifest(id);
      EXPECT_TRUE(read.ok()) << read.status().ToString();
      if (!read.ok() || !*read) continue;
      auto& manifest = *read;
      auto stage = store.ReadStage(*manifest, manifest->stages.at(0));
      // A manifest that is there promises its state: never a damaged one.
      EXPECT_TRUE(stage.ok()) << "checkpoint " << id << ": " << stage.status().ToString();
      if (!stage.ok()) return {-2, -2};
      auto values = std::static_pointer_cast<arrow::Int64Array>(
          stage->Table("slots")->column(0)->chunk(0));
      EXPECT_EQ(manifest->sources.at(0).position,
                "{\"rows\":" + std::to_string(values->Value(0) + values->length()) + "}");
      return {id, values->Value(0)};
    }
    return {-1, -1};
  }

  fs::path root_;
};

TEST_F(CheckpointStoreTest, WritesReadsAndPrunes) {
  CheckpointStore store(Local(), 2);
  for (int64_t id = 1; id <= 4; ++id) {
    CheckpointData data = Data(id, id * 100, 1000);
    ASSERT_TRUE(store.Write(&data).ok());
    ASSERT_TRUE(store.Completed(id).ok());
  }
  auto ids = store.List();
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(Latest(), (std::pair<int64_t, int64_t>{4, 400}));
  auto read = store.ReadManifest(4);
  ASSERT_TRUE(read.ok() && *read);
  auto& manifest = *read;
  EXPECT_EQ(manifest->sinks.at(0).pending, "{\"parts\":[]}");
  EXPECT_EQ(manifest->sources.at(0).partitions.at(0), (std::pair<int32_t, int64_t>{-1, 5}));
  EXPECT_EQ(manifest->sources.at(0).named_partitions.at(0),
            (std::pair<std::string, int64_t>{"orders/2", 7}));
  EXPECT_EQ(manifest->stages.at(0).values.at("watermark"), "400");
}

// Every step of writing checkpoint 2 fails in turn, and each time the machine then "crashes":
// recovery finds checkpoint 2 whole or checkpoint 1 whole, never a damaged one.
TEST_F(CheckpointStoreTest, AFailureAndACrashAtAnyStepLeaveTheLastCompleteCheckpoint) {
  int total_steps = 0;
  {
    // Count the steps of a healthy write.
    CheckpointData data = Data(9, 0, 10);
    auto* raw = new FaultInjectingStorage(Local(), root_, -1);
    CheckpointStore counted(std::unique_ptr<Storage>(raw), 3);
    ASSERT_TRUE(counted.Write(&data).ok());
    total_steps = raw->steps();
    ASSERT_TRUE(counted.Discard(9).ok());
  }
  ASSERT_GT(total_steps, 6);
  int seen_new = 0, seen_old = 0;
  for (int fail_at = 0; fail_at <= total_steps; ++fail_at) {
    fs::remove_all(root_);
    fs::create_directories(root_);
    {
      CheckpointStore store(Local(), 3);
      CheckpointData first = Data(1, 100, 5000);
      ASSERT_TRUE(store.Write(&first).ok());
    }
    auto* faulty = new FaultInjectingStorage(Local(), root_, fail_at);
    CheckpointStore store(std::unique_ptr<Storage>(faulty), 3);
    CheckpointData second = Data(2, 200, 5000);
    Status written = store.Write(&second);
    EXPECT_EQ(written.ok(), fail_at == total_steps) << "failing at step " << fail_at;
    faulty->Crash();
    auto [id, first_value] = Latest();
    if (written.ok()) {
      EXPECT_EQ(id, 2) << "a checkpoint whose write succeeded must survive a crash";
    }
    ASSERT_TRUE(id == 1 || id == 2) << "failing at step " << fail_at << ": found " << id;
    EXPECT_EQ(first_value, id * 100);
    (id == 2 ? seen_new : seen_old)++;
  }
  EXPECT_GT(seen_old, 0);
  EXPECT_GT(seen_new, 0);
}

TEST_F(CheckpointStoreTest, ADamagedStateFileIsFoundBeforeItIsDecoded) {
  CheckpointStore store(Local(), 3);
  CheckpointData data = Data(1, 0, 1000);
  ASSERT_TRUE(store.Write(&data).ok());
  auto read = store.ReadManifest(1);
  ASSERT_TRUE(read.ok() && *read);
  auto& manifest = *read;
  const fs::path file = root_ / "chk-000000000001" / manifest->stages[0].files[0].path;
  {
    // One flipped byte in the middle, size unchanged.
    std::fstream stream(file, std::ios::in | std::ios::out | std::ios::binary);
    stream.seekp(static_cast<std::streamoff>(fs::file_size(file) / 2));
    stream.put('\x5a');
  }
  auto stage = store.ReadStage(*manifest, manifest->stages[0]);
  ASSERT_FALSE(stage.ok());
  EXPECT_NE(stage.status().message().find("is damaged"), std::string::npos)
      << stage.status().ToString();
  fs::remove(file);
  stage = store.ReadStage(*manifest, manifest->stages[0]);
  ASSERT_FALSE(stage.ok());
  EXPECT_NE(stage.status().message().find("is missing"), std::string::npos);
}

TEST_F(CheckpointStoreTest, ATornManifestIsAnErrorNotACrash) {
  CheckpointStore store(Local(), 3);
  CheckpointData data = Data(1, 0, 10);
  ASSERT_TRUE(store.Write(&data).ok());
  const fs::path manifest = root_ / "chk-000000000001" / "manifest.json";
  const auto size = fs::file_size(manifest);
  for (uintmax_t cut : {uintmax_t{0}, uintmax_t{1}, size / 3, size / 2, size - 3}) {
    CheckpointData again = Data(1, 0, 10);
    ASSERT_TRUE(store.Write(&again).ok());
    fs::resize_file(manifest, cut);
    auto torn = store.ReadManifest(1);
    EXPECT_FALSE(torn.ok()) << "cut at " << cut;
  }
  // Fields of the wrong type are named.
  std::ofstream(manifest) << R"({"format": 1, "pipeline": 3})";
  auto read = store.ReadManifest(1);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find("'pipeline'"), std::string::npos)
      << read.status().ToString();
}

TEST_F(CheckpointStoreTest, ArchiveMovesEveryCheckpointAside) {
  CheckpointStore store(Local(), 3);
  for (int64_t id = 1; id <= 2; ++id) {
    CheckpointData data = Data(id, 0, 10);
    ASSERT_TRUE(store.Write(&data).ok());
  }
  auto archived = store.Archive("stamp");
  ASSERT_TRUE(archived.ok());
  EXPECT_EQ(*archived, "archive-stamp");
  EXPECT_TRUE(store.List()->empty());
  EXPECT_TRUE(fs::exists(root_ / "archive-stamp" / "chk-000000000002" / "manifest.json"));
}

}  // namespace
}  // namespace sluice::state
