// The ORC reader against pyarrow: the table pyarrow.orc wrote (in several stripes) reads back
// equal to the same table pyarrow wrote as Parquet, batch by batch; damaged ORC files are
// errors or dead letters, never a crash.

#include <arrow/api.h>
#include <arrow/io/memory.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "sluice/formats/formats_test_support.h"

namespace sluice::formats {
namespace {

using testing::ReadAll;
using testing::ReadText;
using testing::ScratchDirectory;
using testing::WriteReferenceFiles;

TEST(OrcReaderTest, ReadsWhatPyarrowWroteStripeByStripe) {
  ScratchDirectory directory;
  if (!WriteReferenceFiles(directory)) GTEST_SKIP() << "fastavro or pyarrow is not installed";
  ReadOptions options;
  options.batch_rows = 300;
  auto orc = ReadAll(directory.File("table.orc"), Format::kOrc, options);
  auto parquet = ReadAll(directory.File("table.parquet"), Format::kParquet);
  ASSERT_TRUE(orc.table && parquet.table);
  EXPECT_TRUE(orc.rejected.empty());
  EXPECT_EQ(orc.table->num_rows(), 5000);
  EXPECT_LE(orc.max_batch_rows, 300);
  EXPECT_GT(orc.batches, 16);  // at least one batch per stripe
  EXPECT_TRUE(orc.table->Equals(*parquet.table)) << orc.table->schema()->ToString() << "\n"
                                                 << parquet.table->schema()->ToString();
}

TEST(OrcReaderTest, ReadsOnlyTheDeclaredColumns) {
  ScratchDirectory directory;
  if (!WriteReferenceFiles(directory)) GTEST_SKIP() << "fastavro or pyarrow is not installed";
  ReadOptions options;
  options.schema = arrow::schema({arrow::field("name", arrow::utf8()),
                                  arrow::field("id", arrow::float64())});
  auto result = ReadAll(directory.File("table.orc"), Format::kOrc, options);
  ASSERT_TRUE(result.table);
  EXPECT_EQ(result.table->num_rows(), 5000);
  EXPECT_TRUE(result.table->schema()->Equals(*options.schema));
}

TEST(OrcReaderTest, DamagedFilesAreErrorsOrDeadLetters) {
  ScratchDirectory directory;
  if (!WriteReferenceFiles(directory)) GTEST_SKIP() << "fastavro or pyarrow is not installed";
  std::string bytes = ReadText(directory.File("table.orc"));
  auto read = [](const std::string& data, int64_t* rows, int64_t* skipped) -> Status {
    ReadOptions options;
    options.skip_damaged = true;
    auto buffer = std::make_shared<arrow::io::BufferReader>(arrow::Buffer::FromString(data));
    SLUICE_ASSIGN_OR_RAISE(auto reader, RecordReader::Open(buffer, "t.orc", Format::kOrc, options));
    std::vector<exec::DeadLetter> rejected;
    while (true) {
      SLUICE_ASSIGN_OR_RAISE(auto batch, reader->Next(&rejected));
      if (!batch) break;
      SLUICE_RETURN_NOT_OK(batch->ValidateFull());
      *rows += batch->num_rows();
    }
    for (const auto& letter : rejected) *skipped += letter.skipped_rows;
    return Status::OK();
  };
  int64_t rows = 0;
  int64_t skipped = 0;
  // Cut short: the footer is gone, so the file cannot be opened.
  Status cut = read(bytes.substr(0, bytes.size() / 2), &rows, &skipped);
  EXPECT_FALSE(cut.ok());
  EXPECT_NE(cut.message().find("not a readable ORC file"), std::string::npos) << cut.message();
  EXPECT_FALSE(read("ORC but no more", &rows, &skipped).ok());
  // Stripe data overwritten: each damaged stripe is skipped with its rows counted.
  std::mt19937 random(11);
  int conserved = 0;
  for (int round = 0; round < 40; ++round) {
    std::string corrupt = bytes;
    size_t at = 3 + random() % (bytes.size() / 2);
    for (size_t i = at; i < at + 64 && i < corrupt.size(); ++i)
      corrupt[i] = static_cast<char>(random() & 0xff);
    rows = skipped = 0;
    if (read(corrupt, &rows, &skipped).ok() && rows + skipped == 5000) ++conserved;
  }
  EXPECT_GT(conserved, 0);
}

}  // namespace
}  // namespace sluice::formats
