#include "sluice/connectors/file/file_source.h"

#include <arrow/api.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "sluice/formats/formats_test_support.h"
#include "sluice/formats/type_names.h"
#include "sluice/testing/collecting_output.h"

namespace sluice::connectors {
namespace {

using formats::testing::ScratchDirectory;
using formats::testing::WriteText;

using testing::CollectingOutput;

Result<std::unique_ptr<exec::Source>> MakeSource(const std::string& yaml) {
  exec::Registry registry;
  RegisterFileSource(&registry);
  const auto* spec = registry.FindSpec(config::PluginKind::kSource, "file");
  EXPECT_NE(spec, nullptr);
  SLUICE_ASSIGN_OR_RAISE(auto options, config::ValidateOptions(*spec, YAML::Load(yaml),
                                                               "pipeline.yaml", {"connector"}));
  return (*registry.FindSource("file"))(exec::ConnectorContext{"test", "quotes"}, options);
}

TEST(FileSourceTest, ReadsGlobInSortedOrderInBatches) {
  ScratchDirectory dir;
  for (int file = 2; file >= 0; --file) {
    std::string text = "symbol,bid\n";
    for (int row = 0; row < 10; ++row) text += fmt::format("S{},{}\n", file, file * 100 + row);
    WriteText(dir.File(fmt::format("quotes-{}.csv", file)), text);
  }
  WriteText(dir.File("other.csv"), "x\n1\n");
  auto source = MakeSource(
      fmt::format("path: {}/quotes-*.csv\nbatch_size: 4\nschema: {{symbol: string, bid: double}}",
                  dir.path().string()));
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_TRUE((*source)->bounded());
  EXPECT_EQ((*source)->schema()->num_fields(), 2);
  CollectingOutput out;
  ASSERT_TRUE((*source)->Run(out).ok());
  EXPECT_EQ(out.num_rows(), 30);
  EXPECT_TRUE(out.rejected().empty());
  for (const auto& batch : out.batches()) EXPECT_LE(batch->num_rows(), 4);
  auto first = std::static_pointer_cast<arrow::StringArray>(out.batches().front()->column(0));
  auto last = std::static_pointer_cast<arrow::StringArray>(out.batches().back()->column(0));
  EXPECT_EQ(first->GetView(0), "S0");
  EXPECT_EQ(last->GetView(last->length() - 1), "S2");
  auto progress = (*source)->progress();
  ASSERT_TRUE(progress.bytes_total.has_value());
  EXPECT_EQ(progress.bytes_read, *progress.bytes_total);
}

TEST(FileSourceTest, DeadLettersNameSourceStageAndLine) {
  ScratchDirectory dir;
  std::string path = dir.File("quotes.jsonl");
  WriteText(path,
            "{\"symbol\":\"A\",\"bid\":1}\n{\"symbol\":\"B\",\"bid\":\"x\"}\n{\"symbol\":\"C\","
            "\"bid\":3}\n");
  auto source = MakeSource(fmt::format("path: {}\nschema: {{symbol: string, bid: double}}", path));
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  CollectingOutput out;
  ASSERT_TRUE((*source)->Run(out).ok());
  EXPECT_EQ(out.num_rows(), 2);
  ASSERT_EQ(out.rejected().size(), 1u);
  EXPECT_EQ(out.rejected()[0].stage, "source");
  EXPECT_EQ(out.rejected()[0].source, "quotes");
  EXPECT_EQ(out.rejected()[0].origin, path + ":line 2");
}

TEST(FileSourceTest, LaterFilesAreConformedToTheFirst) {
  ScratchDirectory dir;
  WriteText(dir.File("a.csv"), "id,name\n1,x\n2,y\n");
  WriteText(dir.File("b.csv"), "name,id,extra\nz,3,q\nw,oops,q\n");
  // Files whose columns differ are an error at start, naming the file and the column...
  auto refused = MakeSource(fmt::format("path: {}/*.csv", dir.path().string()));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("b.csv"), std::string::npos);
  EXPECT_NE(refused.status().message().find("it adds extra"), std::string::npos);
  // ...or, asked for, every file's columns are read, null where a file lacks them.
  auto source =
      MakeSource(fmt::format("path: {}/*.csv\nmissing_fields: \"null\"", dir.path().string()));
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_TRUE((*source)->schema()->field(0)->type()->Equals(arrow::int64()));
  EXPECT_EQ((*source)->schema()->field_names(), (std::vector<std::string>{"id", "name", "extra"}));
  CollectingOutput out;
  ASSERT_TRUE((*source)->Run(out).ok());
  EXPECT_EQ(out.num_rows(), 3);
  ASSERT_EQ(out.rejected().size(), 1u);
  EXPECT_EQ(out.rejected()[0].origin, dir.File("b.csv") + ":line 3");
  for (const auto& batch : out.batches())
    EXPECT_TRUE(batch->schema()->Equals(*(*source)->schema()));
}

TEST(FileSourceTest, AFileOfAGlobThatCannotBeReadFailsTheRunOrIsCounted) {
  ScratchDirectory dir;
  WriteText(dir.File("a.csv"), "id\n1\n2\n");
  std::filesystem::create_symlink(dir.File("gone.csv"), dir.File("b.csv"));
  WriteText(dir.File("c.csv"), "id\n3\n");
  auto source = MakeSource(fmt::format("path: {}/*.csv", dir.path().string()));
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  CollectingOutput out;
  Status failed = (*source)->Run(out);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find(dir.File("b.csv")), std::string::npos) << failed.message();
  EXPECT_NE(failed.message().find("on_unreadable: skip"), std::string::npos);

  source = MakeSource(fmt::format("path: {}/*.csv\non_unreadable: skip", dir.path().string()));
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  CollectingOutput skipping;
  ASSERT_TRUE((*source)->Run(skipping).ok());
  EXPECT_EQ(skipping.num_rows(), 3);  // the files after it are read
  ASSERT_EQ(skipping.rejected().size(), 1u);
  EXPECT_EQ(skipping.rejected()[0].origin, dir.File("b.csv"));
}

TEST(FileSourceTest, StopsWhenAsked) {
  ScratchDirectory dir;
  std::string text = "n\n";
  for (int i = 0; i < 1000; ++i) text += fmt::format("{}\n", i);
  WriteText(dir.File("n.csv"), text);
  auto source = MakeSource(fmt::format("path: {}\nbatch_size: 10", dir.File("n.csv")));
  ASSERT_TRUE(source.ok());
  CollectingOutput out(/*stop_after=*/3);
  ASSERT_TRUE((*source)->Run(out).ok());
  EXPECT_LE(out.batches().size(), 4u);
}

TEST(FileSourceTest, ConfigErrorsAreLocated) {
  ScratchDirectory dir;
  WriteText(dir.File("a.csv"), "x\n1\n");
  WriteText(dir.File("a.txt"), "x\n1\n");
  auto missing = MakeSource(fmt::format("path: {}/nothing-*.csv", dir.path().string()));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("pipeline.yaml:1:7: error: no file matches"),
            std::string::npos)
      << missing.status().message();
  auto bad_type = MakeSource(fmt::format("path: {}\nschema: {{x: doubel}}", dir.File("a.csv")));
  ASSERT_FALSE(bad_type.ok());
  EXPECT_NE(bad_type.status().message().find("pipeline.yaml:2:13: error: unknown type 'doubel'"),
            std::string::npos)
      << bad_type.status().message();
  EXPECT_NE(bad_type.status().message().find("double"), std::string::npos);
  auto unknown_extension = MakeSource(fmt::format("path: {}", dir.File("a.txt")));
  ASSERT_FALSE(unknown_extension.ok());
  EXPECT_NE(unknown_extension.status().message().find("format"), std::string::npos);
  EXPECT_TRUE(MakeSource(fmt::format("path: {}\nformat: csv", dir.File("a.txt"))).ok());
  auto bad_delimiter = MakeSource(fmt::format("path: {}\ndelimiter: ab", dir.File("a.csv")));
  ASSERT_FALSE(bad_delimiter.ok());
  EXPECT_NE(bad_delimiter.status().message().find("pipeline.yaml:2:"), std::string::npos);
}

TEST(FileSourceTest, ExpandFilePatternSortsAndSkipsDirectories) {
  ScratchDirectory dir;
  WriteText(dir.File("b.csv"), "");
  WriteText(dir.File("a.csv"), "");
  std::filesystem::create_directories(dir.path() / "c.csv");
  auto paths = ExpandFilePattern(dir.File("*.csv"));
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(paths[0], dir.File("a.csv"));
  EXPECT_EQ(ExpandFilePattern(dir.File("a.csv")).size(), 1u);
  EXPECT_TRUE(ExpandFilePattern(dir.File("zzz.csv")).empty());
}

}  // namespace
}  // namespace sluice::connectors
