#include "sluice/connectors/file/input_files.h"

#include <arrow/io/compressed.h>
#include <arrow/io/file.h>
#include <arrow/record_batch.h>
#include <arrow/util/compression.h>
#include <gtest/gtest.h>

#include "sluice/formats/formats_test_support.h"

namespace sluice::connectors {
namespace {

using formats::testing::ScratchDirectory;

void WriteCompressed(const std::string& path, arrow::Compression::type type,
                     const std::string& text) {
  auto codec = arrow::util::Codec::Create(type);
  ASSERT_TRUE(codec.ok()) << codec.status().ToString();
  auto file = arrow::io::FileOutputStream::Open(path);
  ASSERT_TRUE(file.ok());
  auto stream = arrow::io::CompressedOutputStream::Make(codec->get(), *file);
  ASSERT_TRUE(stream.ok());
  ASSERT_TRUE((*stream)->Write(text.data(), static_cast<int64_t>(text.size())).ok());
  ASSERT_TRUE((*stream)->Close().ok());
}

int64_t CountRows(formats::RecordReader& reader) {
  int64_t rows = 0;
  std::vector<exec::DeadLetter> rejected;
  while (true) {
    auto batch = reader.Next(&rejected);
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok() || *batch == nullptr) break;
    rows += (*batch)->num_rows();
  }
  EXPECT_TRUE(rejected.empty());
  return rows;
}

TEST(InputFilesTest, TellsTheFormatBeforeTheCompressionSuffix) {
  EXPECT_EQ(WithoutCompressionSuffix("a/b.csv.gz"), "a/b.csv");
  EXPECT_EQ(WithoutCompressionSuffix("s3://x/b.jsonl.ZST"), "s3://x/b.jsonl");
  EXPECT_EQ(WithoutCompressionSuffix("b.jsonl.zstd"), "b.jsonl");
  EXPECT_EQ(WithoutCompressionSuffix("b.parquet"), "b.parquet");
}

TEST(InputFilesTest, DecompressesGzipAndZstdText) {
  ScratchDirectory dir;
  std::string csv = "id,name\n";
  std::string jsonl;
  for (int i = 0; i < 5000; ++i) {
    csv += std::to_string(i) + ",n" + std::to_string(i % 7) + "\n";
    jsonl += "{\"id\": " + std::to_string(i) + "}\n";
  }
  WriteCompressed(dir.File("a.csv.gz"), arrow::Compression::GZIP, csv);
  WriteCompressed(dir.File("b.jsonl.zst"), arrow::Compression::ZSTD, jsonl);
  formats::ReadOptions options;
  for (const auto& [pattern, format] :
       {std::pair{std::string("*.csv.gz"), formats::Format::kCsv},
        std::pair{std::string("*.jsonl.zst"), formats::Format::kJsonLines}}) {
    auto files = InputFiles::Expand((dir.path() / pattern).string());
    ASSERT_TRUE(files.ok());
    ASSERT_EQ(files->size(), 1u);
    auto reader = files->Open(0, format, options);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    EXPECT_EQ(CountRows(**reader), 5000) << pattern;
  }
  auto files = InputFiles::Expand(dir.File("a.csv.gz"));
  ASSERT_TRUE(files.ok());
  auto parquet = files->Open(0, formats::Format::kParquet, options);
  ASSERT_FALSE(parquet.ok());
  EXPECT_NE(parquet.status().message().find("only CSV and JSON lines"), std::string::npos);
}

}  // namespace
}  // namespace sluice::connectors
