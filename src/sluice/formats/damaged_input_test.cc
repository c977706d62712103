// Damaged input stays local: each reader skips only the span it cannot decode, counts it, and
// reads on (on_unreadable: skip), or fails naming the place (the default). And schemas are
// checked against the data.

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/writer.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <parquet/arrow/writer.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>

#include "sluice/formats/formats_test_support.h"
#include "sluice/formats/readers_internal.h"
#include "sluice/formats/record_reader.h"

namespace sluice::formats {
namespace {

using testing::ReadAll;
using testing::ReadResult;
using testing::ScratchDirectory;
using testing::WriteText;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Reads to the end or the first error; returns the error (OK at the end).
Status ReadUntilError(const std::string& path, Format format, const ReadOptions& options,
                      int64_t* rows) {
  SLUICE_ASSIGN_OR_RAISE(auto reader, RecordReader::Open(path, format, options));
  std::vector<exec::DeadLetter> rejected;
  while (true) {
    SLUICE_ASSIGN_OR_RAISE(auto batch, reader->Next(&rejected));
    if (!batch) return Status::OK();
    *rows += batch->num_rows();
  }
}

/// Options as the file source sets them: messages name its options.
ReadOptions Hinted() {
  ReadOptions options;
  options.option_hints = true;
  return options;
}

ReadOptions Skipping() {
  ReadOptions options = Hinted();
  options.skip_damaged = true;
  return options;
}

/// id,name,value rows 1..n, with `bad` in place of row `bad_row`.
std::string Rows(int n, int bad_row = 0, const std::string& bad = "") {
  std::string text = "id,name,value\n";
  for (int i = 1; i <= n; ++i)
    text += i == bad_row ? bad + "\n" : fmt::format("{},name {},{}\n", i, i, i * 10);
  return text;
}

TEST(CsvDamageTest, UnterminatedQuoteCostsItsLineOnly) {
  ScratchDirectory dir;
  std::string path = dir.File("q.csv");
  WriteText(path, Rows(5000, 3, "3,\"broken,30"));
  ReadOptions options = Skipping();
  options.block_size = 4096;
  auto result = ReadAll(path, Format::kCsv, options);
  EXPECT_EQ(result.table->num_rows(), 4999);
  ASSERT_EQ(result.rejected.size(), 1u);
  const auto& letter = result.rejected[0];
  EXPECT_EQ(letter.origin, path + ":line 4");
  EXPECT_EQ(letter.skipped_rows, 1);
  EXPECT_EQ(letter.skipped_bytes, 13);
  EXPECT_EQ(letter.record, "3,\"broken,30\n");
  EXPECT_TRUE(Contains(letter.reason, "unterminated quote")) << letter.reason;
  EXPECT_TRUE(Contains(letter.reason, "at line 5")) << letter.reason;
  auto ids = std::static_pointer_cast<arrow::Int64Array>(result.table->column(0)->chunk(0));
  EXPECT_EQ(ids->Value(2), 4);
  EXPECT_EQ(ids->Value(4998), 5000);

  // By default the damage fails the read, naming the place and the option.
  int64_t rows = 0;
  options.skip_damaged = false;
  Status failed = ReadUntilError(path, Format::kCsv, options, &rows);
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(Contains(failed.message(), path + ":line 4")) << failed.message();
  EXPECT_TRUE(Contains(failed.message(), "on_unreadable: skip")) << failed.message();
  // A reader used where those options do not exist (a Kafka message) names none of them.
  options.option_hints = false;
  failed = ReadUntilError(path, Format::kCsv, options, &rows);
  ASSERT_FALSE(failed.ok());
  EXPECT_FALSE(Contains(failed.message(), "on_unreadable")) << failed.message();
  EXPECT_FALSE(Contains(failed.message(), "max_record_size")) << failed.message();
}

TEST(CsvDamageTest, RecordLongerThanABlockGrowsTheBlock) {
  ScratchDirectory dir;
  std::string path = dir.File("long.csv");
  std::string value(100000, 'x');
  value.replace(5000, 1, "\n");  // a quoted line break inside
  WriteText(path, "id,text\n1,a\n2,\"" + value + "\"\n3,c\n4,d,extra\n5,e\n");
  ReadOptions options;
  options.block_size = 1024;
  auto result = ReadAll(path, Format::kCsv, options);
  ASSERT_EQ(result.table->num_rows(), 4);
  auto text = std::static_pointer_cast<arrow::StringArray>(result.table->column(1)->chunk(0));
  EXPECT_EQ(text->GetView(1), value);
  // Lines are counted through the quoted line break.
  ASSERT_EQ(result.rejected.size(), 1u);
  EXPECT_EQ(result.rejected[0].origin, path + ":line 6");
  EXPECT_EQ(result.rejected[0].skipped_bytes, 0);
}

TEST(CsvDamageTest, RecordOverMaxRecordSizeIsSkippedAndReadingGoesOn) {
  ScratchDirectory dir;
  std::string path = dir.File("huge.csv");
  WriteText(path, Rows(10, 5, "5,\"" + std::string(20000, 'y') + "\",50"));
  ReadOptions options = Skipping();
  options.block_size = 1024;
  options.max_record_size = 8192;
  auto result = ReadAll(path, Format::kCsv, options);
  EXPECT_EQ(result.table->num_rows(), 9);
  ASSERT_EQ(result.rejected.size(), 1u);
  EXPECT_EQ(result.rejected[0].skipped_rows, 1);
  EXPECT_EQ(result.rejected[0].skipped_bytes, 20008);
  EXPECT_TRUE(Contains(result.rejected[0].reason, "max_record_size (8192 bytes)"));
  // With room for it, the same record is read.
  options.max_record_size = 1 << 20;
  EXPECT_EQ(ReadAll(path, Format::kCsv, options).table->num_rows(), 10);
}

TEST(CsvDamageTest, QuoteOpenAtTheEndIsTheRestOfTheInput) {
  ScratchDirectory dir;
  std::string path = dir.File("cut.csv");
  WriteText(path, "id,name\n1,a\n2,\"cut sh");
  auto result = ReadAll(path, Format::kCsv, Skipping());
  EXPECT_EQ(result.table->num_rows(), 1);
  ASSERT_EQ(result.rejected.size(), 1u);
  EXPECT_EQ(result.rejected[0].skipped_bytes, 9);
  EXPECT_TRUE(Contains(result.rejected[0].reason, "to the end of the input"));
}

TEST(CsvDamageTest, AFileThatShrinksWhileReadKeepsWhatWasRead) {
  // The input holds fewer bytes than the size it was opened with.
  std::string text = "id\n1\n2\n";
  auto input = std::make_shared<arrow::io::BufferReader>(arrow::Buffer::FromString(text));
  ReadOptions options = Skipping();
  auto reader =
      internal::OpenCsvReader(input, static_cast<int64_t>(text.size()) + 100, "shrunk", options);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<exec::DeadLetter> rejected;
  int64_t rows = 0;
  while (true) {
    auto batch = (*reader)->Next(&rejected);
    ASSERT_TRUE(batch.ok());
    if (!*batch) break;
    rows += (*batch)->num_rows();
  }
  EXPECT_EQ(rows, 2);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].skipped_bytes, 100);
  EXPECT_TRUE(Contains(rejected[0].reason, "shrank")) << rejected[0].reason;
}

TEST(CsvSchemaTest, RepeatedHeaderNamesAreRenamedWithAWarning) {
  ScratchDirectory dir;
  std::string path = dir.File("dup.csv");
  WriteText(path, "a,b,a,a_2,a\n1,2,3,4,5\n");
  auto reader = RecordReader::Open(path, Format::kCsv, {});
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->schema()->field_names(),
            (std::vector<std::string>{"a", "b", "a_3", "a_2", "a_4"}));
  ASSERT_EQ((*reader)->warnings().size(), 1u);
  EXPECT_TRUE(Contains((*reader)->warnings()[0], "'a' as 'a_3'"));
  auto result = ReadAll(path, Format::kCsv);
  auto a3 = std::static_pointer_cast<arrow::Int64Array>(result.table->column(2)->chunk(0));
  EXPECT_EQ(a3->Value(0), 3);
}

TEST(CsvSchemaTest, DeclaredFieldMissingFromTheHeaderIsAnErrorOrNull) {
  ScratchDirectory dir;
  std::string path = dir.File("m.csv");
  WriteText(path, "id,name\n1,a\n");
  ReadOptions options = Hinted();
  options.schema =
      arrow::schema({arrow::field("id", arrow::int64()), arrow::field("price", arrow::float64())});
  auto refused = RecordReader::Open(path, Format::kCsv, options);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsTypeError());
  EXPECT_TRUE(Contains(refused.status().message(), "'price'"));
  EXPECT_TRUE(Contains(refused.status().message(), path));
  options.missing_fields_null = true;
  auto reader = RecordReader::Open(path, Format::kCsv, options);
  ASSERT_TRUE(reader.ok());
  ASSERT_EQ((*reader)->warnings().size(), 1u);
  EXPECT_TRUE(Contains((*reader)->warnings()[0], "price"));
  auto result = ReadAll(path, Format::kCsv, options);
  EXPECT_EQ(result.table->GetColumnByName("price")->null_count(), 1);
}

TEST(CsvSchemaTest, InferredIntegersBeyondInt64AreAnError) {
  ScratchDirectory dir;
  std::string path = dir.File("big.csv");
  WriteText(path, "id,n\n1,5\n2,18446744073709551616\n");
  auto refused = RecordReader::Open(path, Format::kCsv, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(Contains(refused.status().message(), "18446744073709551616"));
  EXPECT_TRUE(Contains(refused.status().message(), "'n'"));
  // Decimals are still doubles.
  WriteText(path, "id,n\n1,5\n2,1.5\n");
  auto reader = RecordReader::Open(path, Format::kCsv, {});
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE((*reader)->schema()->field(1)->type()->Equals(arrow::float64()));
}

TEST(JsonLinesDamageTest, LineOverMaxRecordSizeIsSkipped) {
  ScratchDirectory dir;
  std::string path = dir.File("long.jsonl");
  WriteText(path, "{\"a\":1}\n{\"a\":\"" + std::string(50000, 'z') + "\"}\n{\"a\":3}\n");
  ReadOptions options = Skipping();
  options.block_size = 1024;
  options.max_record_size = 4096;
  auto result = ReadAll(path, Format::kJsonLines, options);
  EXPECT_EQ(result.table->num_rows(), 2);
  ASSERT_EQ(result.rejected.size(), 1u);
  EXPECT_EQ(result.rejected[0].origin, path + ":line 2");
  EXPECT_EQ(result.rejected[0].skipped_rows, 1);
  EXPECT_EQ(result.rejected[0].skipped_bytes, 50009);
  // A line that does not parse is one dead letter, not damage.
  WriteText(path, "{\"a\":1}\n{\"a\":\n{\"a\":3}\n");
  options.skip_damaged = false;
  result = ReadAll(path, Format::kJsonLines, options);
  EXPECT_EQ(result.table->num_rows(), 2);
  ASSERT_EQ(result.rejected.size(), 1u);
  EXPECT_EQ(result.rejected[0].skipped_bytes, 0);
}

/// Writes 3 row groups of 100 rows, and returns the byte range of row group 2's first column.
std::pair<int64_t, int64_t> WriteRowGroups(const std::string& path) {
  arrow::Int64Builder ids;
  for (int64_t i = 0; i < 300; ++i) EXPECT_TRUE(ids.Append(i).ok());
  auto table =
      arrow::Table::Make(arrow::schema({arrow::field("id", arrow::int64())}), {*ids.Finish()});
  auto out = *arrow::io::FileOutputStream::Open(path);
  EXPECT_TRUE(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), out, 100).ok());
  EXPECT_TRUE(out->Close().ok());
  auto metadata = parquet::ParquetFileReader::OpenFile(path)->metadata();
  EXPECT_EQ(metadata->num_row_groups(), 3);
  auto column = metadata->RowGroup(1)->ColumnChunk(0);
  int64_t start =
      column->has_dictionary_page() ? column->dictionary_page_offset() : column->data_page_offset();
  return {start, column->total_compressed_size()};
}

TEST(ParquetDamageTest, CorruptRowGroupIsSkippedAlone) {
  ScratchDirectory dir;
  std::string path = dir.File("rg.parquet");
  auto [offset, size] = WriteRowGroups(path);
  std::string bytes = testing::ReadText(path);
  for (int64_t i = offset; i < offset + size; ++i) bytes[static_cast<size_t>(i)] ^= 0x5a;
  WriteText(path, bytes);

  auto result = ReadAll(path, Format::kParquet, Skipping());
  ASSERT_EQ(result.table->num_rows(), 200);
  auto ids = std::static_pointer_cast<arrow::Int64Array>(result.table->column(0)->chunk(0));
  EXPECT_EQ(ids->Value(99), 99);
  EXPECT_EQ(ids->Value(100), 200);  // row group 3 is read
  ASSERT_EQ(result.rejected.size(), 1u);
  EXPECT_EQ(result.rejected[0].skipped_rows, 100);
  EXPECT_GT(result.rejected[0].skipped_bytes, 0);
  EXPECT_EQ(result.rejected[0].origin, path + ":row group 2 of 3 (rows 101-200)");

  int64_t rows = 0;
  Status failed = ReadUntilError(path, Format::kParquet, Hinted(), &rows);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(rows, 100);
  EXPECT_TRUE(Contains(failed.message(), "row group 2 of 3")) << failed.message();
}

void WriteBatches(const std::string& path, bool file_format) {
  arrow::Int64Builder ids;
  for (int64_t i = 0; i < 1000; ++i) EXPECT_TRUE(ids.Append(i).ok());
  auto schema = arrow::schema({arrow::field("id", arrow::int64())});
  auto batch = arrow::RecordBatch::Make(schema, 1000, {*ids.Finish()});
  auto out = *arrow::io::FileOutputStream::Open(path);
  auto writer = file_format ? *arrow::ipc::MakeFileWriter(out, schema)
                            : *arrow::ipc::MakeStreamWriter(out, schema);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(writer->WriteRecordBatch(*batch).ok());
  EXPECT_TRUE(writer->Close().ok());
  EXPECT_TRUE(out->Close().ok());
}

TEST(ArrowDamageTest, TruncatedStreamAndFileKeepWhatWasRead) {
  for (bool file_format : {false, true}) {
    ScratchDirectory dir;
    std::string path = dir.File("cut.arrow");
    WriteBatches(path, file_format);
    std::string bytes = testing::ReadText(path);
    bytes.resize(bytes.size() * 6 / 10);  // into the third batch
    WriteText(path, bytes);
    auto result = ReadAll(path, Format::kArrow, Skipping());
    EXPECT_EQ(result.table->num_rows(), 2000) << file_format;
    ASSERT_EQ(result.rejected.size(), 1u);
    EXPECT_GT(result.rejected[0].skipped_bytes, 0);
    EXPECT_TRUE(Contains(result.rejected[0].reason, "after 2000 rows"));

    int64_t rows = 0;
    Status failed = ReadUntilError(path, Format::kArrow, Hinted(), &rows);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(rows, 2000);
    EXPECT_TRUE(Contains(failed.message(), "on_unreadable: skip"));
  }
}

}  // namespace
}  // namespace sluice::formats
