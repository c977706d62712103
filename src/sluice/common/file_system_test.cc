#include "sluice/common/file_system.h"

#include <arrow/filesystem/filesystem.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "sluice/formats/formats_test_support.h"

namespace sluice {
namespace {

using formats::testing::ScratchDirectory;
using formats::testing::WriteText;

TEST(FileSystemTest, TellsUrisFromPaths) {
  EXPECT_TRUE(IsUri("s3://bucket/key.parquet"));
  EXPECT_TRUE(IsUri("file:///data/x.csv"));
  EXPECT_TRUE(IsUri("gs+grpc://b/k"));
  EXPECT_FALSE(IsUri("data/x.csv"));
  EXPECT_FALSE(IsUri("/abs/x.csv"));
  EXPECT_FALSE(IsUri("-"));
  EXPECT_FALSE(IsUri("://nothing"));
  EXPECT_FALSE(IsUri("dir with space://x"));
}

TEST(FileSystemTest, RefusesUrisThatNameNoBucketOrCarrySecrets) {
  auto no_bucket = ResolveUri("s3:///key");
  ASSERT_FALSE(no_bucket.ok());
  EXPECT_NE(no_bucket.status().message().find("names no bucket"), std::string::npos);
  auto with_user = ResolveUri("s3://key:secret@bucket/x");
  ASSERT_FALSE(with_user.ok());
  EXPECT_NE(with_user.status().message().find("storage: {s3"), std::string::npos);
  auto relative = ResolveUri("file://relative/x.csv");
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(relative.status().message().find("absolute path"), std::string::npos);
}

TEST(FileSystemTest, ResolvesS3WithoutTouchingTheNetwork) {
  SetS3Settings(S3Settings{"http://127.0.0.1:1", "eu-west-1", "id", "secret", true});
  auto location = ResolveUri("s3://bucket/prefix/x.parquet");
  ASSERT_TRUE(location.ok()) << location.status().ToString();
  EXPECT_EQ(location->scheme, "s3");
  EXPECT_EQ(location->path, "bucket/prefix/x.parquet");
  EXPECT_EQ(location->filesystem->type_name(), "s3");
  SetS3Settings(S3Settings{});
}

/// Globs over a file:// URI match level by level, as over a bucket, sorted by path.
TEST(FileSystemTest, ExpandsGlobsLevelByLevel) {
  ScratchDirectory dir;
  for (const char* name : {"a/x-1.csv", "a/x-2.csv", "a/y-1.csv", "b/x-1.csv", "b/deep/x-1.csv",
                           "a/x-1.txt"}) {
    std::filesystem::create_directories(
        std::filesystem::path(dir.File(name)).parent_path());
    WriteText(dir.File(name), "v\n1\n");
  }
  const std::string base = "file://" + dir.path().string();
  auto expand = [&](const std::string& pattern) {
    FileLocation location;
    std::vector<arrow::fs::FileInfo> infos;
    auto uris = ExpandUriPattern(base + pattern, &location, &infos);
    EXPECT_TRUE(uris.ok()) << uris.status().ToString();
    if (uris.ok()) EXPECT_EQ(uris->size(), infos.size());
    return uris.ok() ? *uris : std::vector<std::string>{};
  };
  EXPECT_EQ(expand("/a/x-*.csv"),
            (std::vector<std::string>{base + "/a/x-1.csv", base + "/a/x-2.csv"}));
  EXPECT_EQ(expand("/*/x-1.csv"),
            (std::vector<std::string>{base + "/a/x-1.csv", base + "/b/x-1.csv"}));
  EXPECT_EQ(expand("/a/[xy]-1.*").size(), 3u);
  EXPECT_EQ(expand("/b/deep/x-1.csv"), (std::vector<std::string>{base + "/b/deep/x-1.csv"}));
  EXPECT_TRUE(expand("/a/none-*.csv").empty());
  EXPECT_TRUE(expand("/a/missing.csv").empty());
  EXPECT_TRUE(expand("/nowhere/*.csv").empty());
}

}  // namespace
}  // namespace sluice
