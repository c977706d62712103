#include "sluice/connectors/file/file_sink.h"

#include <arrow/api.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "sluice/formats/formats_test_support.h"

namespace sluice::connectors {
namespace {

using formats::testing::ReadText;
using formats::testing::ScratchDirectory;

Result<std::unique_ptr<exec::Sink>> MakeSink(const std::string& yaml) {
  exec::Registry registry;
  RegisterFileSink(&registry);
  const auto* spec = registry.FindSpec(config::PluginKind::kSink, "file");
  EXPECT_NE(spec, nullptr);
  SLUICE_ASSIGN_OR_RAISE(auto options, config::ValidateOptions(*spec, YAML::Load(yaml),
                                                               "pipeline.yaml", {"connector"}));
  return (*registry.FindSink("file"))(exec::ConnectorContext{"test", "archive"}, options);
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
  EXPECT_EQ(files[0], fmt::format("n.jsonl.tmp-{}", getpid()));
  ASSERT_TRUE((*sink)->Close().ok());
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
  EXPECT_EQ(ReadText(dir.File("n.txt")), "n\n1\n2\n3\n");
  auto unknown = MakeSink(fmt::format("path: {}", dir.File("n.txt")));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("pipeline.yaml:1:7"), std::string::npos)
      << unknown.status().message();
}

}  // namespace
}  // namespace sluice::connectors
