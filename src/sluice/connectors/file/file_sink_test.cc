#include "sluice/connectors/file/file_sink.h"

#include <arrow/api.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <parquet/file_reader.h>
#include <parquet/metadata.h>

#include <fstream>
#include <thread>

#include "sluice/formats/formats_test_support.h"
#include "sluice/testing/connector_from_yaml.h"

namespace sluice::connectors {
namespace {

using formats::testing::ReadText;
using formats::testing::ScratchDirectory;

Result<std::unique_ptr<exec::Sink>> MakeSink(const std::string& yaml) {
  return testing::SinkFromYaml("file", yaml, exec::ConnectorContext{"test", "archive"},
                               "pipeline.yaml");
}

std::shared_ptr<arrow::RecordBatch> Numbers() {
  arrow::Int64Builder values;
  EXPECT_TRUE(values.AppendValues({1, 2, 3}).ok());
  return arrow::RecordBatch::Make(arrow::schema({arrow::field("n", arrow::int64())}), 3,
                                  {*values.Finish()});
}

std::vector<std::string> FilesIn(const std::filesystem::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(FileSinkTest, WritesTemporaryFileAndRenamesAtClose) {
  ScratchDirectory dir;
  std::string path = dir.File("out/nested/n.jsonl");
  auto sink = MakeSink(fmt::format("path: {}", path));
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  auto batch = Numbers();
  ASSERT_TRUE((*sink)->Open(batch->schema()).ok());
  ASSERT_TRUE((*sink)->Write(batch).ok());
  EXPECT_FALSE(std::filesystem::exists(path));  // readers never see a half-written file
  auto files = FilesIn(dir.path() / "out/nested");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0], fmt::format(".n.jsonl.sluice-{}.tmp", getpid()));
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_FALSE(std::filesystem::exists(path));  // published only once every sink closed
  ASSERT_TRUE((*sink)->Publish().ok());
  EXPECT_EQ(ReadText(path), "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
  EXPECT_EQ(FilesIn(dir.path() / "out/nested"), std::vector<std::string>{"n.jsonl"});
}

TEST(FileSinkTest, AbandonedSinkRemovesItsTemporaryFile) {
  ScratchDirectory dir;
  std::string path = dir.File("n.parquet");
  {
    auto sink = MakeSink(fmt::format("path: {}", path));
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->Open(Numbers()->schema()).ok());
    ASSERT_TRUE((*sink)->Write(Numbers()).ok());
  }
  EXPECT_TRUE(FilesIn(dir.path()).empty());
}

TEST(FileSinkTest, FormatFromOptionOrExtension) {
  ScratchDirectory dir;
  auto sink = MakeSink(fmt::format("path: {}\nformat: csv\ndelimiter: \";\"", dir.File("n.txt")));
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  ASSERT_TRUE((*sink)->Open(Numbers()->schema()).ok());
  ASSERT_TRUE((*sink)->Write(Numbers()).ok());
  ASSERT_TRUE((*sink)->Close().ok());
  ASSERT_TRUE((*sink)->Publish().ok());
  EXPECT_EQ(ReadText(dir.File("n.txt")), "n\n1\n2\n3\n");
  auto unknown = MakeSink(fmt::format("path: {}", dir.File("n.txt")));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("pipeline.yaml:1:7"), std::string::npos)
      << unknown.status().message();
}

/// Opens, writes Numbers() and closes a sink on `path`; publishes unless `abort`.
Status WriteThrough(const std::string& path, bool abort = false) {
  SLUICE_ASSIGN_OR_RAISE(auto sink, MakeSink(fmt::format("path: '{}'\nformat: csv", path)));
  SLUICE_RETURN_NOT_OK(sink->Open(Numbers()->schema()));
  SLUICE_RETURN_NOT_OK(sink->Write(Numbers()));
  SLUICE_RETURN_NOT_OK(sink->Close());
  if (abort) {
    sink->Abort();
    return Status::OK();
  }
  return sink->Publish();
}

TEST(FileSinkTest, ParquetCompressionAndRowGroupSize) {
  ScratchDirectory dir;
  arrow::Int64Builder values;
  for (int64_t i = 0; i < 250; ++i) ASSERT_TRUE(values.Append(i).ok());
  auto batch = arrow::RecordBatch::Make(arrow::schema({arrow::field("n", arrow::int64())}), 250,
                                        {*values.Finish()});
  for (const auto& [codec, expected] :
       std::vector<std::pair<std::string, arrow::Compression::type>>{
           {"zstd", arrow::Compression::ZSTD},
           {"snappy", arrow::Compression::SNAPPY},
           {"gzip", arrow::Compression::GZIP},
           {"none", arrow::Compression::UNCOMPRESSED}}) {
    const std::string path = dir.File(codec + ".parquet");
    auto sink = MakeSink(fmt::format(
        "path: {}\nparquet_compression: {}\nparquet_row_group_size: 100", path, codec));
    ASSERT_TRUE(sink.ok()) << sink.status().ToString();
    ASSERT_TRUE((*sink)->Open(batch->schema()).ok());
    ASSERT_TRUE((*sink)->Write(batch).ok());
    ASSERT_TRUE((*sink)->Close().ok());
    ASSERT_TRUE((*sink)->Publish().ok());
    auto metadata = parquet::ParquetFileReader::OpenFile(path)->metadata();
    EXPECT_EQ(metadata->num_rows(), 250);
    EXPECT_EQ(metadata->num_row_groups(), 3) << codec;
    EXPECT_EQ(metadata->RowGroup(0)->ColumnChunk(0)->compression(), expected) << codec;
  }
  auto unknown = MakeSink(fmt::format("path: {}\nparquet_compression: lz77", dir.File("x.parquet")));
  EXPECT_FALSE(unknown.ok());
}

TEST(FileSinkTest, AbortKeepsThePreviousFile) {
  ScratchDirectory dir;
  std::string path = dir.File("n.csv");
  { std::ofstream(path) << "previous\n"; }
  ASSERT_TRUE(WriteThrough(path, /*abort=*/true).ok());
  EXPECT_EQ(ReadText(path), "previous\n");
  EXPECT_EQ(FilesIn(dir.path()), std::vector<std::string>{"n.csv"});
}

TEST(FileSinkTest, SymlinkTargetIsReplacedAndTheLinkStays) {
  ScratchDirectory dir;
  std::filesystem::create_directories(dir.path() / "real");
  std::string target = dir.File("real/n.csv");
  { std::ofstream(target) << "previous\n"; }
  std::filesystem::create_symlink("real/n.csv", dir.path() / "link.csv");
  ASSERT_TRUE(WriteThrough(dir.File("link.csv")).ok());
  EXPECT_TRUE(std::filesystem::is_symlink(dir.path() / "link.csv"));
  EXPECT_EQ(ReadText(target), "n\n1\n2\n3\n");
  // A dangling link gets its target created.
  std::filesystem::create_symlink("real/new.csv", dir.path() / "dangling.csv");
  ASSERT_TRUE(WriteThrough(dir.File("dangling.csv")).ok());
  EXPECT_TRUE(std::filesystem::is_symlink(dir.path() / "dangling.csv"));
  EXPECT_EQ(ReadText(dir.File("real/new.csv")), "n\n1\n2\n3\n");
}

TEST(FileSinkTest, FifoIsWrittenInPlaceNotReplaced) {
  ScratchDirectory dir;
  std::string fifo = dir.File("pipe");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::string received;
  std::thread reader([&] { received = ReadText(fifo); });
  ASSERT_TRUE(WriteThrough(fifo).ok());
  reader.join();
  EXPECT_EQ(received, "n\n1\n2\n3\n");
  struct stat info {};
  ASSERT_EQ(lstat(fifo.c_str(), &info), 0);
  EXPECT_TRUE(S_ISFIFO(info.st_mode));
  EXPECT_EQ(FilesIn(dir.path()), std::vector<std::string>{"pipe"});
}

TEST(FileSinkTest, DirectoryIsAnError) {
  ScratchDirectory dir;
  Status status = WriteThrough(dir.path().string());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("is a directory"), std::string::npos) << status.message();
}

TEST(FileSinkTest, TemporaryFilesOfKilledRunsAreRemoved) {
  ScratchDirectory dir;
  // A process id that is not running: the largest the kernel hands out is below 2^22.
  const std::string stray = dir.File(".n.csv.sluice-4194303.tmp");
  const std::string live = dir.File(fmt::format(".n.csv.sluice-{}.tmp", getppid()));
  { std::ofstream(stray) << "half"; }
  { std::ofstream(live) << "another run's"; }
  ASSERT_TRUE(WriteThrough(dir.File("n.csv")).ok());
  EXPECT_FALSE(std::filesystem::exists(stray));
  EXPECT_TRUE(std::filesystem::exists(live));  // a live process's file is left alone
}

}  // namespace
}  // namespace sluice::connectors
