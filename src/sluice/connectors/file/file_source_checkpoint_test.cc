// Checkpoints of the file source: a source restored from the position after any batch goes on
// with exactly the rows, dead letters, origins and partitions an uninterrupted run delivers
// next, and a file that changed since the checkpoint is named.

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <parquet/arrow/writer.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sluice/connectors/file/file_source.h"
#include "sluice/formats/formats_test_support.h"
#include "sluice/testing/position_recording_output.h"
#include "sluice/testing/connector_from_yaml.h"

namespace sluice::connectors {
namespace {

using formats::testing::ScratchDirectory;
using formats::testing::WriteText;
using testing::PositionedRun;
using testing::PositionRecordingOutput;

Result<std::unique_ptr<exec::Source>> MakeSource(const std::string& yaml,
                                                 bool checkpoints = true) {
  exec::ConnectorContext context{"test", "quotes"};
  context.checkpoints = checkpoints;
  return testing::SourceFromYaml("file", yaml, context);
}

PositionedRun RunTakingPositions(const std::string& yaml, const std::set<int64_t>& cuts) {
  return testing::RunTakingPositions([&] { return MakeSource(yaml); }, cuts);
}

/// Checks that the run restored at `cut` delivered, with the first `cut` batches of the whole
/// run, exactly what the whole run did: rows, origins, partitions and dead letters.
void ExpectResumedExactly(const PositionRecordingOutput& whole, int64_t cut,
                          const PositionRecordingOutput& rest) {
  testing::ExpectSameRowsAfterCut(whole, cut, rest);

  // Each file stays its partition, and rows keep their numbers in it.
  std::vector<int32_t> partitions(whole.partition_of_batch().begin() + cut,
                                  whole.partition_of_batch().end());
  EXPECT_EQ(rest.partition_of_batch(), partitions);
  std::vector<std::pair<std::string, int64_t>> origins(whole.origins().begin() + cut,
                                                       whole.origins().end());
  EXPECT_EQ(rest.origins(), origins);

  // Dead letters come again only if they came after the cut.
  std::vector<std::string> letters;
  for (const auto& [pushed, origin] : whole.letters()) {
    if (pushed >= cut) letters.push_back(origin);
  }
  std::vector<std::string> again;
  for (const auto& [pushed, origin] : rest.letters()) again.push_back(origin);
  EXPECT_EQ(again, letters);
}

/// Checks that a source from `yaml` restored after any of `cuts` resumed exactly.
void CheckResumesExactly(const std::string& yaml, const std::set<int64_t>& cuts) {
  testing::ExpectSourceResumesExactly([&] { return MakeSource(yaml); }, cuts,
                                      ExpectResumedExactly);
}

/// Three CSV files of 10, 7 and 12 lines, with a bad value in b and c: read in batches of 4 they
/// are 3 + 2 + 3 batches, so batches 3 and 5 end a file.
void WriteCsvFiles(const ScratchDirectory& dir) {
  std::string a = "symbol,bid\n";
  for (int row = 0; row < 10; ++row) a += fmt::format("A,{}\n", row);
  std::string b = "symbol,bid\n";
  for (int row = 0; row < 7; ++row) b += row == 3 ? "B,oops\n" : fmt::format("B,{}\n", row);
  std::string c = "symbol,bid\n";
  for (int row = 0; row < 12; ++row) c += row == 11 ? "C,bad\n" : fmt::format("C,{}\n", row);
  WriteText(dir.File("a.csv"), a);
  WriteText(dir.File("b.csv"), b);
  WriteText(dir.File("c.csv"), c);
}

std::string CsvYaml(const ScratchDirectory& dir) {
  return fmt::format("path: {}/*.csv\nbatch_size: 4\nschema: {{symbol: string, bid: double}}",
                     dir.path().string());
}

TEST(FileSourceCheckpoint, ACsvGlobResumesAfterEveryBatch) {
  ScratchDirectory dir;
  WriteCsvFiles(dir);
  PositionedRun whole = RunTakingPositions(CsvYaml(dir), {});
  ASSERT_EQ(whole.out->batches().size(), 8u);
  ASSERT_EQ(whole.out->rejected().size(), 2u);
  CheckResumesExactly(CsvYaml(dir), {0, 1, 2, 3, 4, 5, 6, 7, 8});
}

TEST(FileSourceCheckpoint, AnUnreadableFileIsCountedOnceAcrossARestore) {
  // With on_unreadable: skip, a file that cannot be opened is a dead letter when its turn
  // comes: after a.csv's last batch. A restore at that batch raises it again (it came after);
  // a later one does not.
  ScratchDirectory dir;
  WriteCsvFiles(dir);
  std::filesystem::create_symlink(dir.File("gone.csv"), dir.File("a2.csv"));
  const std::string yaml = CsvYaml(dir) + "\non_unreadable: skip";
  PositionedRun whole = RunTakingPositions(yaml, {});
  ASSERT_EQ(whole.out->rejected().size(), 3u);
  EXPECT_EQ(whole.out->letters()[0], (std::pair<int64_t, std::string>{3, dir.File("a2.csv")}));
  CheckResumesExactly(yaml, {2, 3, 4, 8});
}

TEST(FileSourceCheckpoint, AJsonLinesGlobWithAnInferredSchemaResumes) {
  ScratchDirectory dir;
  for (int file = 0; file < 3; ++file) {
    std::string text;
    for (int row = 0; row < 5 + 4 * file; ++row) {
      text += row == 2 ? "{\"id\": 1, \"name\": \"broken\"\n"
                       : fmt::format("{{\"id\": {}, \"name\": \"n{}\"}}\n", file * 100 + row, row);
    }
    WriteText(dir.File(fmt::format("part-{}.jsonl", file)), text);
  }
  const std::string yaml =
      fmt::format("path: {}/part-*.jsonl\nbatch_size: 3", dir.path().string());
  PositionedRun whole = RunTakingPositions(yaml, {});
  ASSERT_EQ(whole.out->batches().size(), 9u);  // 4, 8 and 12 rows, in batches of 3
  ASSERT_EQ(whole.out->rejected().size(), 3u);
  CheckResumesExactly(yaml, {1, 2, 3, 4, 5, 8, 9});
}

TEST(FileSourceCheckpoint, AParquetGlobResumes) {
  ScratchDirectory dir;
  for (int file = 0; file < 3; ++file) {
    arrow::Int64Builder ids;
    arrow::StringBuilder names;
    for (int row = 0; row < 11 + file; ++row) {
      ASSERT_TRUE(ids.Append(file * 1000 + row).ok());
      ASSERT_TRUE(names.Append(fmt::format("n{}", row)).ok());
    }
    auto table = arrow::Table::Make(
        arrow::schema({arrow::field("id", arrow::int64()), arrow::field("name", arrow::utf8())}),
        {*ids.Finish(), *names.Finish()});
    auto out = *arrow::io::FileOutputStream::Open(dir.File(fmt::format("p{}.parquet", file)));
    // Row groups of 5 rows, read in batches of 4: batches and row groups do not line up.
    ASSERT_TRUE(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), out, 5).ok());
    ASSERT_TRUE(out->Close().ok());
  }
  const std::string yaml = fmt::format("path: {}/p*.parquet\nbatch_size: 4", dir.path().string());
  PositionedRun whole = RunTakingPositions(yaml, {});
  ASSERT_GE(whole.out->batches().size(), 10u);
  CheckResumesExactly(yaml, {1, 2, 3, 4, 5, 7, 9});
}

TEST(FileSourceCheckpoint, FilesReadSideBySideInEventTimeOrderResume) {
  ScratchDirectory dir;
  // Overlapping time ranges, so that the reads interleave between the files.
  for (int file = 0; file < 3; ++file) {
    std::string text = "ts,value\n";
    for (int row = 0; row < 9 + file; ++row) {
      text += fmt::format("2024-01-01T00:00:{:02}Z,{}\n", row * (file + 1) % 60, file * 100 + row);
    }
    WriteText(dir.File(fmt::format("t{}.csv", file)), text);
  }
  const std::string yaml = fmt::format(
      "path: {}/t*.csv\nbatch_size: 2\nschema: {{ts: timestamp, value: int64}}\nevent_time: ts",
      dir.path().string());
  PositionedRun whole = RunTakingPositions(yaml, {});
  // Interleaved: file 0 comes again after another file's batch.
  const auto& partitions = whole.out->partition_of_batch();
  ASSERT_GT(partitions.size(), 3u);
  EXPECT_NE(std::find(partitions.begin() + 2, partitions.end(), 0), partitions.end());
  EXPECT_NE(partitions[0], partitions[1]);
  std::set<int64_t> cuts;
  for (int64_t cut = 0; cut <= static_cast<int64_t>(partitions.size()); ++cut) cuts.insert(cut);
  CheckResumesExactly(yaml, cuts);
}

/// Restores the CSV glob at `cut` after `change` and returns the status of the restore.
Status RestoreAfter(const ScratchDirectory& dir, int64_t cut, const std::function<void()>& change) {
  PositionedRun whole = RunTakingPositions(CsvYaml(dir), {cut});
  change();
  SLUICE_ASSIGN_OR_RAISE(auto restored, MakeSource(CsvYaml(dir)));
  return restored->RestorePosition(whole.out->positions().at(cut));
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(FileSourceCheckpoint, AFileChangedOrGoneSinceTheCheckpointIsNamed) {
  // Batch 4 is in the middle of b.csv: b must be exactly as it was.
  {
    ScratchDirectory dir;
    WriteCsvFiles(dir);
    Status grown = RestoreAfter(dir, 4, [&] {
      WriteText(dir.File("b.csv"), formats::testing::ReadText(dir.File("b.csv")) + "B,9\n");
    });
    ASSERT_FALSE(grown.ok());
    EXPECT_TRUE(Contains(grown.message(), "'" + dir.File("b.csv") + "'")) << grown.message();
    EXPECT_TRUE(Contains(grown.message(), "read up to row 4 and has changed since"))
        << grown.message();
    EXPECT_TRUE(Contains(grown.message(), "size went from")) << grown.message();
  }
  {
    ScratchDirectory dir;
    WriteCsvFiles(dir);
    Status gone = RestoreAfter(dir, 4, [&] { std::filesystem::remove(dir.File("b.csv")); });
    ASSERT_FALSE(gone.ok());
    EXPECT_TRUE(Contains(gone.message(), "'" + dir.File("b.csv") + "'")) << gone.message();
    EXPECT_TRUE(Contains(gone.message(), "it is gone")) << gone.message();
  }
  {
    // Same size, other content: the modification time tells.
    ScratchDirectory dir;
    WriteCsvFiles(dir);
    Status rewritten = RestoreAfter(dir, 4, [&] {
      const std::string path = dir.File("b.csv");
      const auto modified = std::filesystem::last_write_time(path);
      std::string text = formats::testing::ReadText(path);
      text[text.size() - 2] = '8';
      WriteText(path, text);
      std::filesystem::last_write_time(path, modified + std::chrono::seconds(5));
    });
    ASSERT_FALSE(rewritten.ok());
    EXPECT_TRUE(Contains(rewritten.message(), "it was modified")) << rewritten.message();
  }
}

TEST(FileSourceCheckpoint, AFileDoneBeforeTheCheckpointIsNotReadAgain) {
  // After batch 4, a.csv is done: changing or removing it is only a warning.
  ScratchDirectory dir;
  WriteCsvFiles(dir);
  PositionedRun whole = RunTakingPositions(CsvYaml(dir), {4});
  for (bool remove : {false, true}) {
    SCOPED_TRACE(remove ? "removed" : "changed");
    if (remove) {
      std::filesystem::remove(dir.File("a.csv"));
    } else {
      WriteText(dir.File("a.csv"), "symbol,bid\nA,100\nA,101\n");
    }
    auto restored = MakeSource(CsvYaml(dir));
    ASSERT_TRUE(restored.ok());
    Status status = (*restored)->RestorePosition(whole.out->positions().at(4));
    ASSERT_TRUE(status.ok()) << status.ToString();
    PositionRecordingOutput rest(restored->get(), {2});
    ASSERT_TRUE((*restored)->Run(rest).ok());
    ExpectResumedExactly(*whole.out, 4, rest);
    // a.csv's partition (0) is assigned and ended at once, as it was in the first run.
    EXPECT_NE(std::find(rest.assigned().begin(), rest.assigned().end(), 0), rest.assigned().end());
    EXPECT_NE(std::find(rest.ended().begin(), rest.ended().end(), 0), rest.ended().end());
    // The position after the restored run still lists a.csv as done, gone or not.
    ASSERT_EQ(rest.positions().count(2), 1u);
    EXPECT_TRUE(Contains(rest.positions().at(2), dir.File("a.csv")));
  }
}

TEST(FileSourceCheckpoint, AFileNewToTheGlobGetsAPartitionOfItsOwn) {
  ScratchDirectory dir;
  WriteCsvFiles(dir);
  PositionedRun whole = RunTakingPositions(CsvYaml(dir), {4});
  // Sorts first, so it takes index 0; the files of the checkpoint keep their numbers.
  WriteText(dir.File("0-new.csv"), "symbol,bid\nN,1\nN,2\n");
  auto restored = MakeSource(CsvYaml(dir));
  ASSERT_TRUE(restored.ok());
  ASSERT_TRUE((*restored)->RestorePosition(whole.out->positions().at(4)).ok());
  PositionRecordingOutput rest(restored->get(), {});
  ASSERT_TRUE((*restored)->Run(rest).ok());
  ASSERT_EQ(rest.batches().size(), 1u + 4u);
  EXPECT_EQ(rest.origins()[0], (std::pair<std::string, int64_t>{dir.File("0-new.csv"), 0}));
  EXPECT_EQ(rest.partition_of_batch(), (std::vector<int32_t>{3, 1, 2, 2, 2}));
  std::vector<int32_t> assigned = rest.assigned();
  std::sort(assigned.begin(), assigned.end());
  EXPECT_EQ(assigned, (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(rest.origins()[1], (std::pair<std::string, int64_t>{dir.File("b.csv"), 4}));
}

TEST(FileSourceCheckpoint, PositionsAreKeptOnlyWhenThePipelineCheckpoints) {
  ScratchDirectory dir;
  WriteCsvFiles(dir);
  testing::ExpectPositionsOnlyWithCheckpoints(
      [&](bool checkpoints) { return MakeSource(CsvYaml(dir), checkpoints); },
      {"{\"files\": 3}", "[]"});
}

}  // namespace
}  // namespace sluice::connectors
