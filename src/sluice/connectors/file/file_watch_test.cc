#include "sluice/connectors/file/file_watch.h"

#include <arrow/api.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <thread>

#include "sluice/connectors/file/file_source.h"
#include "sluice/formats/formats_test_support.h"
#include "sluice/testing/collecting_output.h"

namespace sluice::connectors {
namespace {

using formats::testing::ScratchDirectory;
using formats::testing::WriteText;
using std::chrono::milliseconds;
using testing::CollectingOutput;

const exec::Registry& FileRegistry() {
  static const exec::Registry* registry = [] {
    auto* made = new exec::Registry();
    RegisterFileSource(made);
    return made;
  }();
  return *registry;
}

Result<config::Options> WatchOptionsYaml(const std::string& yaml) {
  const auto* spec = FileRegistry().FindSpec(config::PluginKind::kSource, "file");
  return config::ValidateOptions(*spec, YAML::Load(yaml), "pipeline.yaml", {"connector"});
}

Result<std::unique_ptr<exec::Source>> MakeSource(const std::string& yaml) {
  SLUICE_ASSIGN_OR_RAISE(auto options, WatchOptionsYaml(yaml));
  exec::ConnectorContext context{"test", "events"};
  return (*FileRegistry().FindSource("file"))(context, options);
}

std::string Rows(int from, int to) {
  std::string text = "id,name\n";
  for (int i = from; i < to; ++i) text += fmt::format("{},n{}\n", i, i);
  return text;
}

/// The ids the output received, in order.
std::vector<int64_t> Ids(const CollectingOutput& out) {
  std::vector<int64_t> ids;
  for (const auto& batch : out.batches()) {
    const auto& column = static_cast<const arrow::Int64Array&>(*batch->column(0));
    for (int64_t i = 0; i < column.length(); ++i) ids.push_back(column.Value(i));
  }
  return ids;
}

TEST(FileWatchTest, OptionsAndTheirErrors) {
  auto options = WatchOptionsYaml(
      "path: in/*.csv\nwatch: {interval: 500ms, settle: 2s, on_done: {move: done/}}");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  auto watch = WatchOptionsFromConfig(*options, "jobs/p.yaml", "events");
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  ASSERT_TRUE(watch->has_value());
  EXPECT_EQ((*watch)->interval, milliseconds(500));
  EXPECT_EQ((*watch)->settle, milliseconds(2000));
  EXPECT_EQ((*watch)->on_done, OnDone::kMove);
  EXPECT_EQ((*watch)->move_to, "done/");
  EXPECT_EQ((*watch)->state, "jobs/.p.yaml.events.watch.json");

  options = WatchOptionsYaml("path: in/*.csv\nwatch: {on_done: delete}");
  ASSERT_TRUE(options.ok());
  watch = WatchOptionsFromConfig(*options, "", "events");
  ASSERT_TRUE(watch.ok());
  EXPECT_EQ((*watch)->on_done, OnDone::kDelete);

  options = WatchOptionsYaml("path: in/*.csv\nwatch: {on_done: move}");
  ASSERT_TRUE(options.ok());
  watch = WatchOptionsFromConfig(*options, "", "events");
  ASSERT_FALSE(watch.ok());
  EXPECT_NE(watch.status().message().find("pipeline.yaml:2:"), std::string::npos)
      << watch.status().message();
  EXPECT_NE(watch.status().message().find("needs the folder"), std::string::npos);

  EXPECT_FALSE(WatchOptionsYaml("path: in/*.csv\nwatch: {on_done: archive}").ok());
  EXPECT_FALSE(WatchOptionsYaml("path: in/*.csv\nwatch: {every: 2s}").ok());
  options = WatchOptionsYaml("path: in/*.csv\nwatch: {marker: a/_SUCCESS}");
  ASSERT_TRUE(options.ok());
  EXPECT_FALSE(WatchOptionsFromConfig(*options, "", "events").ok());
}

TEST(FileWatchTest, HiddenNamesAreLeftAlone) {
  EXPECT_TRUE(HiddenFromWatch("in/.part.csv"));
  EXPECT_TRUE(HiddenFromWatch("s3://b/in/_SUCCESS"));
  EXPECT_FALSE(HiddenFromWatch("in/a_b.csv"));
  EXPECT_FALSE(HiddenFromWatch("x.csv"));
}

TEST(FileWatchTest, AFileIsCompleteOnceItStopsChanging) {
  WatchOptions options;
  options.settle = milliseconds(80);
  CompletionCheck check(options);
  auto now = [] { return std::chrono::system_clock::now(); };
  // Modified long ago: complete at once.
  EXPECT_TRUE(check.Complete("old.csv", FileStamp{10, 1}, now() - std::chrono::seconds(10)));
  // Being written (modified just now): complete only after settle without a change.
  const auto written = now();
  EXPECT_FALSE(check.Complete("new.csv", FileStamp{10, 2}, written));
  EXPECT_LE(check.NextCheckIn(), milliseconds(80));
  std::this_thread::sleep_for(milliseconds(50));
  const auto grown = now();
  EXPECT_FALSE(check.Complete("new.csv", FileStamp{20, 3}, grown));  // it grew: again
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(check.Complete("new.csv", FileStamp{20, 3}, now()));  // 50 ms unchanged
  std::this_thread::sleep_for(milliseconds(40));
  EXPECT_TRUE(check.Complete("new.csv", FileStamp{20, 3}, now()));  // 90 ms unchanged
  EXPECT_EQ(check.NextCheckIn(), options.interval);
  EXPECT_FALSE(check.Complete("gone.csv", FileStamp{}, std::nullopt));  // cannot be examined
}

TEST(FileWatchTest, AMarkerMakesTheFolderComplete) {
  ScratchDirectory dir;
  WatchOptions options;
  options.marker = "_SUCCESS";
  CompletionCheck check(options);
  const std::string file = dir.File("a.csv");
  WriteText(file, Rows(0, 1));
  const auto now = std::chrono::system_clock::now();
  EXPECT_FALSE(check.Complete(file, FileStamp{1, 0}, now - std::chrono::hours(1)));
  WriteText(dir.File("_SUCCESS"), "");
  EXPECT_TRUE(check.Complete(file, FileStamp{1, 0}, now));
}

TEST(FileWatchTest, OnDoneMovesOrDeletes) {
  ScratchDirectory dir;
  WatchOptions options;
  options.on_done = OnDone::kMove;
  options.move_to = "processed/";
  const std::string file = dir.File("a.csv");
  WriteText(file, Rows(0, 1));
  ASSERT_TRUE(ApplyOnDone(options, file).ok());
  EXPECT_FALSE(std::filesystem::exists(file));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "processed" / "a.csv"));
  options.on_done = OnDone::kDelete;
  const std::string moved = (dir.path() / "processed" / "a.csv").string();
  ASSERT_TRUE(ApplyOnDone(options, moved).ok());
  EXPECT_FALSE(std::filesystem::exists(moved));
  Status missing = ApplyOnDone(WatchOptions{.on_done = OnDone::kMove, .move_to = "p"},
                               dir.File("none.csv"));
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("none.csv"), std::string::npos);
}

TEST(FileWatchTest, StateFileRoundTripsAndRefusesGarbage) {
  ScratchDirectory dir;
  const std::string state = dir.File(".p.yaml.events.watch.json");
  auto empty = LoadWatchState(state);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  ASSERT_TRUE(SaveWatchState(state, {"in/a.csv", "in/\"odd\".csv"}).ok());
  auto loaded = LoadWatchState(state);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(*loaded, (std::set<std::string>{"in/a.csv", "in/\"odd\".csv"}));
  WriteText(state, "{\"done\": [1, 2]}");
  auto bad = LoadWatchState(state);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not a watch state file"), std::string::npos);
}

TEST(FileWatchTest, ReadsFilesThatArriveWhileRunningOnceEach) {
  ScratchDirectory dir;
  WriteText(dir.File("in-0.csv"), Rows(0, 5));
  auto source = MakeSource(fmt::format(
      "path: {}/in-*.csv\nschema: {{id: int64, name: string}}\n"
      "watch: {{interval: 20ms, settle: 50ms, state: {}/state.json}}",
      dir.path().string(), dir.path().string()));
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_FALSE((*source)->bounded());
  CollectingOutput out;
  Status status;
  std::thread run([&] { status = (*source)->Run(out); });
  std::this_thread::sleep_for(milliseconds(100));
  // Written in two steps, the second after less than settle: read once, whole.
  WriteText(dir.File("in-1.csv"), "id,name\n5,n5\n");
  std::this_thread::sleep_for(milliseconds(20));
  WriteText(dir.File("in-1.csv"), Rows(5, 9));
  WriteText(dir.File(".in-2.csv"), Rows(100, 101));  // hidden: never read
  std::this_thread::sleep_for(milliseconds(300));
  std::filesystem::rename(dir.File(".in-2.csv"), dir.File("in-2.csv"));  // renamed into place
  for (int i = 0; i < 100 && out.num_rows() < 10; ++i) std::this_thread::sleep_for(milliseconds(20));
  std::this_thread::sleep_for(milliseconds(100));
  out.RequestStop();
  run.join();
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(Ids(out), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 100}));
}

TEST(FileWatchTest, NoFileYetNeedsADeclaredSchema) {
  ScratchDirectory dir;
  auto source = MakeSource(fmt::format("path: {}/in-*.csv\nwatch: {{interval: 1s}}",
                                       dir.path().string()));
  ASSERT_FALSE(source.ok());
  EXPECT_NE(source.status().message().find("pipeline.yaml:1:"), std::string::npos)
      << source.status().message();
  EXPECT_NE(source.status().message().find("declare them with schema"), std::string::npos);
  source = MakeSource(fmt::format("path: {}/in-*.csv\nschema: {{id: int64}}\nwatch: {{}}",
                                  dir.path().string()));
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ((*source)->schema()->field(0)->name(), "id");
  auto piped = MakeSource("path: '-'\nformat: csv\nwatch: {}");
  ASSERT_FALSE(piped.ok());
  EXPECT_NE(piped.status().message().find("standard input"), std::string::npos);
}

}  // namespace
}  // namespace sluice::connectors
