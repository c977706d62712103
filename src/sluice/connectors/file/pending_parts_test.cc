#include "sluice/connectors/file/pending_parts.h"

#include <gtest/gtest.h>

#include "sluice/connectors/file/part_template.h"

namespace sluice::connectors {
namespace {

TEST(PendingPartsTest, ObjectPartsRoundTripWithTheirUploadAndETags) {
  PendingParts parts;
  parts.parts.push_back(PendingPart{"out/.part-000001.csv.sluice-7.tmp", "out/part-000001.csv"});
  PendingPart object;
  object.final_path = "s3://lake/out/part-000002.parquet";
  object.upload_id = "2~a/b+c";
  object.uploaded = {{1, "\"9b2cf5\""}, {2, "\"0e1d7c\""}};
  object.size = 5243000;
  parts.parts.push_back(object);
  parts.next_part = 3;

  auto read = PendingParts::FromJson(parts.ToJson());
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->parts.size(), 2u);
  EXPECT_FALSE(read->parts[0].is_object());
  EXPECT_EQ(read->parts[0].temporary, "out/.part-000001.csv.sluice-7.tmp");
  const PendingPart& back = read->parts[1];
  EXPECT_TRUE(back.is_object());
  EXPECT_EQ(back.final_path, object.final_path);
  EXPECT_EQ(back.upload_id, object.upload_id);
  EXPECT_EQ(back.size, object.size);
  ASSERT_EQ(back.uploaded.size(), 2u);
  EXPECT_EQ(back.uploaded[1].number, 2);
  EXPECT_EQ(back.uploaded[1].etag, "\"0e1d7c\"");
  EXPECT_EQ(back.Identity(), "upload 2~a/b+c");
  EXPECT_EQ(read->next_part, 3);
}

TEST(PendingPartsTest, AnUploadWithoutItsPartsIsUnreadable) {
  for (const char* text : {
           R"({"parts":[{"final":"s3://b/k","upload_id":"u"}]})",
           R"({"parts":[{"final":"s3://b/k","upload_id":"u","size":3,"uploaded":[[0,"e"]]}]})",
           R"({"parts":[{"final":"s3://b/k","upload_id":"u","size":3,"uploaded":[["1"]]}]})",
           R"({"parts":[{"final":"s3://b/k"}]})",
       }) {
    auto read = PendingParts::FromJson(text);
    EXPECT_FALSE(read.ok()) << text;
  }
}

PartTemplate Template(const std::string& text) {
  auto parsed = PartTemplate::Parse(config::LocatedText{text, {}, false});
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  return *parsed;
}

TEST(PartTemplateTest, AnObjectTemplateKeepsItsBucketAndKnowsItsParts) {
  PartTemplate parts = Template("s3://lake/out/{region}/part-{part}.jsonl");
  EXPECT_EQ(parts.FixedPrefix(), "s3://lake/out/");
  EXPECT_EQ(parts.Fill({"eu"}).Path(12), "s3://lake/out/eu/part-000012.jsonl");
  EXPECT_EQ(parts.PartIdOf("s3://lake/out/eu/part-000012.jsonl"), 12);
  EXPECT_EQ(parts.PartIdOf("s3://lake/out/part-000012.jsonl"), std::nullopt);
  EXPECT_EQ(parts.PartIdOf("s3://lake/out/eu/x/part-000012.jsonl"), std::nullopt);
  EXPECT_EQ(parts.PartIdOf("s3://other/out/eu/part-000012.jsonl"), std::nullopt);
  EXPECT_EQ(parts.PartIdOf("s3://lake/out/notes.bin"), std::nullopt);
  EXPECT_EQ(Template("s3://lake/part-{part}.parquet").FixedPrefix(), "s3://lake/part-");
}

TEST(PartTemplateTest, AFileUriIsTheLocalPath) {
  EXPECT_EQ(Template("file:///data/part-{part}.csv").Fill({}).Path(1), "/data/part-000001.csv");
}

TEST(PartTemplateTest, ABucketCannotBeATemplate) {
  EXPECT_FALSE(PartTemplate::Parse(config::LocatedText{"s3://{b}/part-{part}.csv", {}, false}).ok());
  EXPECT_FALSE(PartTemplate::Parse(config::LocatedText{"s3://lake", {}, false}).ok());
}

}  // namespace
}  // namespace sluice::connectors
