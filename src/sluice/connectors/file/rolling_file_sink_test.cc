#include <arrow/api.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "sluice/connectors/file/file_sink.h"
#include "sluice/connectors/file/part_template.h"
#include "sluice/exec/source.h"
#include "sluice/formats/formats_test_support.h"
#include "sluice/testing/connector_from_yaml.h"

namespace sluice::connectors {
namespace {

namespace fs = std::filesystem;
using formats::Format;
using formats::testing::ReadAll;
using formats::testing::ScratchDirectory;

Result<std::unique_ptr<exec::Sink>> MakeSink(const std::string& yaml) {
  return testing::SinkFromYaml("file", yaml, exec::ConnectorContext{"test", "archive"},
                               "pipeline.yaml");
}

/// A sink on `path` (a template under `dir`) with `roll`, opened for `schema`.
std::unique_ptr<exec::Sink> OpenSink(const std::string& path, const std::string& roll,
                                     const std::shared_ptr<arrow::Schema>& schema) {
  auto sink = MakeSink(fmt::format("path: '{}'\nroll: {}", path, roll));
  EXPECT_TRUE(sink.ok()) << sink.status().ToString();
  if (!sink.ok()) return nullptr;
  Status opened = (*sink)->Open(schema);
  EXPECT_TRUE(opened.ok()) << opened.ToString();
  return *std::move(sink);
}

std::shared_ptr<arrow::Schema> NumberSchema() {
  return arrow::schema({arrow::field("n", arrow::int64())});
}

/// Rows first, first + 1, ..., first + count - 1.
std::shared_ptr<arrow::RecordBatch> Numbers(int64_t first, int64_t count) {
  arrow::Int64Builder values;
  for (int64_t i = 0; i < count; ++i) EXPECT_TRUE(values.Append(first + i).ok());
  return arrow::RecordBatch::Make(NumberSchema(), count, {*values.Finish()});
}

/// The file names under `directory`, recursively, relative to it and sorted; hidden ones too.
std::vector<std::string> FilesUnder(const fs::path& directory) {
  std::vector<std::string> names;
  if (!fs::exists(directory)) return names;
  for (const auto& entry : fs::recursive_directory_iterator(directory)) {
    if (entry.is_regular_file()) names.push_back(fs::relative(entry.path(), directory).string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

/// The visible files under `directory` (no hidden temporary ones).
std::vector<std::string> VisibleFiles(const fs::path& directory) {
  std::vector<std::string> names;
  for (auto& name : FilesUnder(directory)) {
    if (fs::path(name).filename().string().front() != '.') names.push_back(name);
  }
  return names;
}

std::vector<std::string> HiddenFiles(const fs::path& directory) {
  std::vector<std::string> names;
  for (auto& name : FilesUnder(directory)) {
    if (fs::path(name).filename().string().front() == '.') names.push_back(name);
  }
  return names;
}

/// The int64 column `n` of a file read back.
std::vector<int64_t> ColumnOf(const std::string& path, Format format, const std::string& name) {
  auto result = ReadAll(path, format);
  std::vector<int64_t> values;
  if (result.table == nullptr) return values;
  auto column = result.table->GetColumnByName(name);
  EXPECT_NE(column, nullptr) << path;
  if (column == nullptr) return values;
  for (const auto& chunk : column->chunks()) {
    auto numbers = std::static_pointer_cast<arrow::Int64Array>(chunk);
    for (int64_t i = 0; i < numbers->length(); ++i) values.push_back(numbers->Value(i));
  }
  return values;
}

std::vector<int64_t> Range(int64_t first, int64_t count) {
  std::vector<int64_t> values(count);
  for (int64_t i = 0; i < count; ++i) values[i] = first + i;
  return values;
}

class UnboundedSource final : public exec::Source {
 public:
  std::shared_ptr<arrow::Schema> schema() const override { return NumberSchema(); }
  bool bounded() const override { return false; }
  Status Run(exec::SourceOutput& out) override {
    (void)out;
    return Status::OK();
  }
};

TEST(RollingFileSinkTest, RollsByRowsWithIncreasingPartIdsInEveryFormat) {
  for (const auto& [extension, format] :
       std::vector<std::pair<std::string, Format>>{{"csv", Format::kCsv},
                                                   {"jsonl", Format::kJsonLines},
                                                   {"parquet", Format::kParquet},
                                                   {"arrow", Format::kArrow}}) {
    SCOPED_TRACE(extension);
    ScratchDirectory dir;
    auto sink = OpenSink(dir.File(fmt::format("out/part-{{part}}.{}", extension)), "{rows: 4}",
                         NumberSchema());
    ASSERT_NE(sink, nullptr);
    ASSERT_TRUE(sink->Write(Numbers(0, 10)).ok());
    ASSERT_TRUE(sink->Write(Numbers(10, 3)).ok());
    // Finished parts and the open one are all hidden until the run publishes them.
    EXPECT_TRUE(VisibleFiles(dir.path()).empty());
    EXPECT_EQ(HiddenFiles(dir.path() / "out").size(), 4u);
    ASSERT_TRUE(sink->Close().ok());
    EXPECT_TRUE(VisibleFiles(dir.path()).empty());
    ASSERT_TRUE(sink->Publish().ok());
    const std::vector<std::string> expected = {
        fmt::format("part-000001.{}", extension), fmt::format("part-000002.{}", extension),
        fmt::format("part-000003.{}", extension), fmt::format("part-000004.{}", extension)};
    EXPECT_EQ(FilesUnder(dir.path() / "out"), expected);
    EXPECT_EQ(ColumnOf(dir.File("out/" + expected[0]), format, "n"), Range(0, 4));
    EXPECT_EQ(ColumnOf(dir.File("out/" + expected[1]), format, "n"), Range(4, 4));
    EXPECT_EQ(ColumnOf(dir.File("out/" + expected[2]), format, "n"), Range(8, 4));
    EXPECT_EQ(ColumnOf(dir.File("out/" + expected[3]), format, "n"), Range(12, 1));

    // A second run goes on after the parts already there instead of replacing them.
    auto again = OpenSink(dir.File(fmt::format("out/part-{{part}}.{}", extension)), "{rows: 4}",
                          NumberSchema());
    ASSERT_TRUE(again->Write(Numbers(100, 2)).ok());
    ASSERT_TRUE(again->Close().ok());
    ASSERT_TRUE(again->Publish().ok());
    EXPECT_EQ(ColumnOf(dir.File(fmt::format("out/part-000005.{}", extension)), format, "n"),
              Range(100, 2));
  }
}

TEST(RollingFileSinkTest, RollsBySize) {
  for (const auto& [extension, format] :
       std::vector<std::pair<std::string, Format>>{{"jsonl", Format::kJsonLines},
                                                   {"parquet", Format::kParquet}}) {
    SCOPED_TRACE(extension);
    ScratchDirectory dir;
    auto sink = OpenSink(dir.File("part-{part}." + extension), "{size: 4KB}", NumberSchema());
    ASSERT_NE(sink, nullptr);
    const int64_t batch_rows = 200;  // about 2.6 KB of JSON lines, 1.6 KB in memory
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(sink->Write(Numbers(i * batch_rows, batch_rows)).ok());
    ASSERT_TRUE(sink->Close().ok());
    ASSERT_TRUE(sink->Publish().ok());
    auto parts = FilesUnder(dir.path());
    ASSERT_GE(parts.size(), 3u);
    ASSERT_LT(parts.size(), 10u);  // a part holds several batches
    std::vector<int64_t> all;
    for (size_t i = 0; i < parts.size(); ++i) {
      EXPECT_EQ(parts[i], fmt::format("part-{:06}.{}", i + 1, extension));
      if (format == Format::kJsonLines && i + 1 < parts.size()) {
        // Closed at the first batch that took it to 4 KB.
        EXPECT_GE(fs::file_size(dir.path() / parts[i]), 4096u);
        EXPECT_LT(fs::file_size(dir.path() / parts[i]), 4096u + 3000u);
      }
      auto values = ColumnOf(dir.File(parts[i]), format, "n");
      all.insert(all.end(), values.begin(), values.end());
    }
    EXPECT_EQ(all, Range(0, 10 * batch_rows));
  }
}

TEST(RollingFileSinkTest, RollsByInterval) {
  ScratchDirectory dir;
  auto sink = OpenSink(dir.File("part-{part}.csv"), "{interval: 1ms}", NumberSchema());
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(sink->Write(Numbers(0, 2)).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(sink->Write(Numbers(2, 2)).ok());
  ASSERT_TRUE(sink->Close().ok());
  ASSERT_TRUE(sink->Publish().ok());
  EXPECT_EQ(FilesUnder(dir.path()), (std::vector<std::string>{"part-000001.csv",
                                                              "part-000002.csv"}));
  EXPECT_EQ(ColumnOf(dir.File("part-000002.csv"), Format::kCsv, "n"), Range(2, 2));
}

TEST(RollingFileSinkTest, HivePartitionsRouteEveryRowToItsValuesDirectory) {
  ScratchDirectory dir;
  auto schema = arrow::schema({arrow::field("date", arrow::utf8()),
                               arrow::field("kind", arrow::int32()),
                               arrow::field("n", arrow::int64())});
  auto sink = OpenSink(dir.File("out/date={date}/kind={kind}/part-{part}.parquet"), "{rows: 7}",
                       schema);
  ASSERT_NE(sink, nullptr);
  // Values that must be escaped: a slash, a parent directory, an empty string and a null.
  const std::vector<std::optional<std::string>> dates = {"2024-01-01", "2024-01-02", "a/b", "..",
                                                         "", std::nullopt};
  std::mt19937 random(7);
  // The expected (date directory, kind directory) of every row, by n.
  std::map<int64_t, std::pair<std::string, std::string>> expected;
  int64_t n = 0;
  for (int batch = 0; batch < 6; ++batch) {
    arrow::StringBuilder date_column;
    arrow::Int32Builder kind_column;
    arrow::Int64Builder n_column;
    const int rows = 1 + static_cast<int>(random() % 40);
    for (int row = 0; row < rows; ++row, ++n) {
      const auto& date = dates[random() % dates.size()];
      const int kind = static_cast<int>(random() % 3);
      ASSERT_TRUE((date ? date_column.Append(*date) : date_column.AppendNull()).ok());
      ASSERT_TRUE((kind == 2 ? kind_column.AppendNull() : kind_column.Append(kind)).ok());
      ASSERT_TRUE(n_column.Append(n).ok());
      expected[n] = {"date=" + EscapePathValue(date),
                     "kind=" + (kind == 2 ? std::string("__HIVE_DEFAULT_PARTITION__")
                                          : std::to_string(kind))};
    }
    auto record_batch = arrow::RecordBatch::Make(
        schema, rows, {*date_column.Finish(), *kind_column.Finish(), *n_column.Finish()});
    ASSERT_TRUE(sink->Write(record_batch).ok());
  }
  ASSERT_TRUE(sink->Close().ok());
  ASSERT_TRUE(sink->Publish().ok());
  EXPECT_TRUE(HiddenFiles(dir.path()).empty());
  std::map<int64_t, std::pair<std::string, std::string>> found;
  std::set<int64_t> part_ids;
  for (const auto& file : FilesUnder(dir.path() / "out")) {
    fs::path path(file);
    ASSERT_EQ(std::distance(path.begin(), path.end()), 3) << file;  // date=/kind=/part
    const std::string date = path.begin()->string();
    const std::string kind = std::next(path.begin())->string();
    int64_t id = 0;
    ASSERT_EQ(sscanf(path.filename().c_str(), "part-%06ld.parquet", &id), 1) << file;
    EXPECT_TRUE(part_ids.insert(id).second) << "part id used twice: " << file;
    auto values = ColumnOf(dir.File("out/" + file), Format::kParquet, "n");
    EXPECT_LE(values.size(), 7u);
    for (int64_t value : values) {
      EXPECT_TRUE(found.emplace(value, std::make_pair(date, kind)).second) << value;
    }
  }
  EXPECT_EQ(found, expected);
  // Escaped values stay inside their directory.
  EXPECT_TRUE(fs::is_directory(dir.path() / "out/date=a%2Fb"));
  EXPECT_TRUE(fs::is_directory(dir.path() / "out/date=%2E."));
  EXPECT_TRUE(fs::is_directory(dir.path() / "out/date=__HIVE_DEFAULT_PARTITION__"));
}

TEST(RollingFileSinkTest, EscapesValuesForPaths) {
  EXPECT_EQ(EscapePathValue("plain value"), "plain value");
  EXPECT_EQ(EscapePathValue("a/b\\c"), "a%2Fb%5Cc");
  EXPECT_EQ(EscapePathValue(".."), "%2E.");
  EXPECT_EQ(EscapePathValue(".hidden"), "%2Ehidden");
  EXPECT_EQ(EscapePathValue("k=v:1%"), "k%3Dv%3A1%25");
  EXPECT_EQ(EscapePathValue(std::string_view("caf\xe9", 4)), "caf%E9");
  EXPECT_EQ(EscapePathValue("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(EscapePathValue(std::nullopt), "__HIVE_DEFAULT_PARTITION__");
  EXPECT_EQ(EscapePathValue(""), "__HIVE_DEFAULT_PARTITION__");
}

TEST(RollingFileSinkTest, UnboundedRunPublishesRolledPartsAtTheNextCommit) {
  ScratchDirectory dir;
  auto sink = OpenSink(dir.File("part-{part}.jsonl"), "{rows: 4}", NumberSchema());
  ASSERT_NE(sink, nullptr);
  UnboundedSource source;
  ASSERT_TRUE(sink->Write(Numbers(0, 6)).ok());
  EXPECT_TRUE(VisibleFiles(dir.path()).empty());
  ASSERT_TRUE(sink->Commit(exec::InputDone{&source, 1, false}).ok());
  // The rolled part is published; the open one stays hidden.
  EXPECT_EQ(VisibleFiles(dir.path()), std::vector<std::string>{"part-000001.jsonl"});
  EXPECT_EQ(HiddenFiles(dir.path()).size(), 1u);
  ASSERT_TRUE(sink->Close().ok());
  ASSERT_TRUE(sink->Publish().ok());
  EXPECT_EQ(VisibleFiles(dir.path()),
            (std::vector<std::string>{"part-000001.jsonl", "part-000002.jsonl"}));
}

TEST(RollingFileSinkTest, AbortRemovesEveryPartOfTheRun) {
  ScratchDirectory dir;
  auto sink = OpenSink(dir.File("d={n}/part-{part}.csv"), "{rows: 1}", NumberSchema());
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(sink->Write(Numbers(0, 5)).ok());
  ASSERT_TRUE(sink->Close().ok());
  EXPECT_EQ(HiddenFiles(dir.path()).size(), 5u);
  sink->Abort();
  EXPECT_TRUE(FilesUnder(dir.path()).empty());
}

/// The temporary and final paths a PrepareCheckpoint() description lists, and its next part.
struct Described {
  std::vector<std::pair<std::string, std::string>> parts;
  int64_t next_part = 0;
};

Described Parse(const std::string& json) {
  Described described;
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  EXPECT_EQ(parser.parse(json).get(document), simdjson::SUCCESS) << json;
  for (simdjson::dom::element part : document["parts"].get_array()) {
    described.parts.emplace_back(std::string(part["temporary"].get_string().value()),
                                 std::string(part["final"].get_string().value()));
  }
  described.next_part = document["next_part"].get_int64().value();
  return described;
}

TEST(RollingFileSinkTest, CheckpointRole) {
  ScratchDirectory dir;
  auto rolling = MakeSink(fmt::format("path: {}\nroll: {{rows: 5}}", dir.File("p-{part}.csv")));
  ASSERT_TRUE(rolling.ok()) << rolling.status().ToString();
  EXPECT_EQ((*rolling)->checkpoint_role(), exec::CheckpointRole::kTwoPhase);
  auto single = MakeSink(fmt::format("path: {}", dir.File("p.csv")));
  ASSERT_TRUE(single.ok());
  EXPECT_EQ((*single)->checkpoint_role(), exec::CheckpointRole::kUnsupported);
}

TEST(RollingFileSinkTest, CheckpointsCommitExactlyThePreparedPartsOnce) {
  ScratchDirectory dir;
  const std::string path = dir.File("out/part-{part}.csv");
  auto sink = OpenSink(path, "{rows: 3}", NumberSchema());
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(sink->Write(Numbers(0, 7)).ok());  // parts 1 and 2 rolled, 3 open
  auto prepared = sink->PrepareCheckpoint(1);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  // Prepared parts are complete and durable but not visible.
  EXPECT_TRUE(VisibleFiles(dir.path()).empty());
  Described first = Parse(*prepared);
  ASSERT_EQ(first.parts.size(), 3u);
  EXPECT_EQ(first.next_part, 4);
  for (size_t i = 0; i < first.parts.size(); ++i) {
    EXPECT_TRUE(fs::exists(first.parts[i].first)) << first.parts[i].first;
    EXPECT_EQ(first.parts[i].second, dir.File(fmt::format("out/part-{:06}.csv", i + 1)));
    EXPECT_EQ(fs::path(first.parts[i].first).filename().string(),
              fmt::format(".part-{:06}.csv.sluice-{}.tmp", i + 1, getpid()));
  }
  // Rows written after the prepare belong to the next checkpoint.
  ASSERT_TRUE(sink->Write(Numbers(7, 2)).ok());
  ASSERT_TRUE(sink->CommitCheckpoint(1, *prepared).ok());
  EXPECT_EQ(VisibleFiles(dir.path() / "out"),
            (std::vector<std::string>{"part-000001.csv", "part-000002.csv", "part-000003.csv"}));
  EXPECT_EQ(ColumnOf(dir.File("out/part-000003.csv"), Format::kCsv, "n"), Range(6, 1));
  EXPECT_EQ(HiddenFiles(dir.path() / "out").size(), 1u);  // part 4, still open
  // Idempotent: committing again (as recovery does) changes nothing.
  ASSERT_TRUE(sink->CommitCheckpoint(1, *prepared).ok());
  EXPECT_EQ(VisibleFiles(dir.path() / "out").size(), 3u);

  // The next checkpoint lists only what was finished since.
  auto second = sink->PrepareCheckpoint(2);
  ASSERT_TRUE(second.ok());
  Described described = Parse(*second);
  ASSERT_EQ(described.parts.size(), 1u);
  EXPECT_EQ(described.parts[0].second, dir.File("out/part-000004.csv"));
  EXPECT_EQ(described.next_part, 5);
  // The process dies here: checkpoint 2 is durable, its commit never ran.
  sink.reset();
  EXPECT_TRUE(fs::exists(described.parts[0].first));  // a prepared part outlives its sink

  // Recovery: a fresh sink commits the last complete checkpoint and continues its part ids.
  auto recovered = OpenSink(path, "{rows: 3}", NumberSchema());
  ASSERT_NE(recovered, nullptr);
  ASSERT_TRUE(recovered->CommitCheckpoint(1, *prepared).ok());
  ASSERT_TRUE(recovered->CommitCheckpoint(2, *second).ok());
  ASSERT_TRUE(recovered->RemoveStrays({*second}).ok());
  ASSERT_TRUE(recovered->Write(Numbers(100, 1)).ok());
  auto third = recovered->PrepareCheckpoint(3);
  ASSERT_TRUE(third.ok());
  ASSERT_EQ(Parse(*third).parts.size(), 1u);
  EXPECT_EQ(Parse(*third).parts[0].second, dir.File("out/part-000005.csv"));
  ASSERT_TRUE(recovered->CommitCheckpoint(3, *third).ok());
  EXPECT_EQ(VisibleFiles(dir.path() / "out").size(), 5u);
  EXPECT_TRUE(HiddenFiles(dir.path()).empty());
  EXPECT_EQ(ColumnOf(dir.File("out/part-000004.csv"), Format::kCsv, "n"), Range(7, 2));
}

TEST(RollingFileSinkTest, RecoveryTakesTheNextPartIdFromTheCheckpoint) {
  ScratchDirectory dir;
  const std::string path = dir.File("part-{part}.csv");
  // Parts 1 to 41 were committed and have since been moved away by the user.
  auto sink = OpenSink(path, "{rows: 3}", NumberSchema());
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(sink->CommitCheckpoint(9, R"({"parts":[],"next_part":42})").ok());
  ASSERT_TRUE(sink->Write(Numbers(0, 1)).ok());
  ASSERT_TRUE(sink->Close().ok());
  ASSERT_TRUE(sink->Publish().ok());
  EXPECT_EQ(VisibleFiles(dir.path()), std::vector<std::string>{"part-000042.csv"});
}

TEST(RollingFileSinkTest, CommittingAPartThatIsGoneIsAnErrorNamingIt) {
  ScratchDirectory dir;
  auto sink = OpenSink(dir.File("part-{part}.csv"), "{rows: 3}", NumberSchema());
  ASSERT_NE(sink, nullptr);
  const std::string temporary = dir.File(".part-000001.csv.sluice-4194303.tmp");
  Status status = sink->CommitCheckpoint(
      1, fmt::format(R"({{"parts":[{{"temporary":"{}","final":"{}"}}],"next_part":2}})",
                     temporary, dir.File("part-000001.csv")));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find(temporary), std::string::npos) << status.message();
  EXPECT_FALSE(sink->CommitCheckpoint(1, "not json").ok());
}

TEST(RollingFileSinkTest, AbortCheckpointDeletesItsTemporaryParts) {
  ScratchDirectory dir;
  const std::string path = dir.File("k={n}/part-{part}.arrow");
  auto sink = OpenSink(path, "{rows: 10}", NumberSchema());
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(sink->Write(Numbers(0, 3)).ok());
  auto prepared = sink->PrepareCheckpoint(1);
  ASSERT_TRUE(prepared.ok());
  ASSERT_EQ(Parse(*prepared).parts.size(), 3u);
  sink.reset();
  EXPECT_EQ(HiddenFiles(dir.path()).size(), 3u);
  auto recovered = OpenSink(path, "{rows: 10}", NumberSchema());
  ASSERT_NE(recovered, nullptr);
  ASSERT_TRUE(recovered->AbortCheckpoint(1, *prepared).ok());
  EXPECT_TRUE(FilesUnder(dir.path()).empty());
  ASSERT_TRUE(recovered->AbortCheckpoint(1, *prepared).ok());  // again: nothing left to do
}

TEST(RollingFileSinkTest, RemoveStraysDeletesTemporaryPartsNoCheckpointKeeps) {
  ScratchDirectory dir;
  fs::create_directories(dir.path() / "d=1");
  fs::create_directories(dir.path() / "d=2");
  // A process id that is not running: the largest the kernel hands out is below 2^22.
  const std::string stray = dir.File("d=1/.part-000003.csv.sluice-4194303.tmp");
  const std::string kept = dir.File("d=2/.part-000004.csv.sluice-4194303.tmp");
  const std::string live = dir.File(fmt::format("d=1/.part-000005.csv.sluice-{}.tmp", getppid()));
  const std::string other_file = dir.File("d=1/.other.csv.sluice-4194303.tmp");
  const std::string finished = dir.File("d=1/part-000001.csv");
  for (const auto& file : {stray, kept, live, other_file, finished})
    formats::testing::WriteText(file, "n\n1\n");
  auto sink = OpenSink(dir.File("d={n}/part-{part}.csv"), "{rows: 10}", NumberSchema());
  ASSERT_NE(sink, nullptr);
  const std::string keep = fmt::format(
      R"({{"parts":[{{"temporary":"{}","final":"{}"}}],"next_part":5}})", kept,
      dir.File("d=2/part-000004.csv"));
  ASSERT_TRUE(sink->RemoveStrays({keep}).ok());
  EXPECT_FALSE(fs::exists(stray));
  EXPECT_TRUE(fs::exists(kept));        // a kept checkpoint lists it
  EXPECT_TRUE(fs::exists(live));        // another run's, still writing
  EXPECT_TRUE(fs::exists(other_file));  // not a part of this sink
  EXPECT_TRUE(fs::exists(finished));
  // Part ids go on after every part found, temporary ones included.
  ASSERT_TRUE(sink->Write(Numbers(1, 1)).ok());
  ASSERT_TRUE(sink->Close().ok());
  ASSERT_TRUE(sink->Publish().ok());
  EXPECT_TRUE(fs::exists(dir.path() / "d=1/part-000006.csv"));
}

TEST(RollingFileSinkTest, FirstWriteWithoutCheckpointsRemovesPartsOfKilledRuns) {
  ScratchDirectory dir;
  const std::string stray = dir.File(".part-000001.csv.sluice-4194303.tmp");
  const std::string live = dir.File(fmt::format(".part-000002.csv.sluice-{}.tmp", getppid()));
  formats::testing::WriteText(stray, "n\n1\n");
  formats::testing::WriteText(live, "n\n1\n");
  auto sink = OpenSink(dir.File("part-{part}.csv"), "{rows: 10}", NumberSchema());
  ASSERT_NE(sink, nullptr);
  EXPECT_TRUE(fs::exists(stray));  // recovery, which comes after Open(), may still commit it
  ASSERT_TRUE(sink->Write(Numbers(0, 1)).ok());
  EXPECT_FALSE(fs::exists(stray));
  EXPECT_TRUE(fs::exists(live));
}

TEST(RollingFileSinkTest, PathWithoutPartIsAConfigError) {
  auto sink = MakeSink("path: out/data.csv\nroll: {rows: 10}");
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("pipeline.yaml:1:7: error:"), std::string::npos)
      << sink.status().message();
  EXPECT_NE(sink.status().message().find("{part}"), std::string::npos);
  EXPECT_NE(sink.status().message().find("hint:"), std::string::npos);

  auto unclosed = MakeSink("path: out/{date/part-{part}.csv\nroll: {rows: 10}");
  ASSERT_FALSE(unclosed.ok());
  EXPECT_NE(unclosed.status().message().find("pipeline.yaml:1:11:"), std::string::npos)
      << unclosed.status().message();

  auto size = MakeSink("path: out/part-{part}.csv\nroll: {size: 12XB}");
  ASSERT_FALSE(size.ok());
  EXPECT_NE(size.status().message().find("pipeline.yaml:2:14:"), std::string::npos)
      << size.status().message();

  auto standard_output = MakeSink("path: '-'\nformat: csv\nroll: {rows: 10}");
  ASSERT_FALSE(standard_output.ok());
}

TEST(RollingFileSinkTest, UnknownFieldInPathIsAConfigErrorAtItsPlaceholder) {
  ScratchDirectory dir;
  auto sink = MakeSink("path: out/date={dat}/part-{part}.csv\nroll: {rows: 10}");
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  Status status = (*sink)->Open(arrow::schema({arrow::field("date", arrow::utf8())}));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("pipeline.yaml:1:16: error:"), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("'dat'"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("did you mean 'date'"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace sluice::connectors
