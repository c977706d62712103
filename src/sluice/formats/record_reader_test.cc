#include "sluice/formats/record_reader.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/writer.h>
#include <arrow/json/from_string.h>
#include <fmt/format.h>
#include <parquet/arrow/writer.h>
#include <gtest/gtest.h>

#include "sluice/formats/formats_test_support.h"
#include "sluice/formats/record_writer.h"
#include "sluice/formats/type_names.h"

namespace sluice::formats {
namespace {

using testing::ReadAll;
using testing::ReadResult;
using testing::ScratchDirectory;
using testing::WriteText;

template <typename ArrayType>
std::shared_ptr<ArrayType> Column(const ReadResult& result, const std::string& name) {
  auto column = result.table->GetColumnByName(name);
  EXPECT_NE(column, nullptr) << name;
  EXPECT_EQ(column->num_chunks(), 1);
  return std::static_pointer_cast<ArrayType>(column->chunk(0));
}

std::shared_ptr<arrow::Schema> QuoteSchema() {
  return arrow::schema(
      {arrow::field("symbol", arrow::utf8()), arrow::field("bid", arrow::float64()),
       arrow::field("volume", arrow::int64()), arrow::field("ts", TimestampType())});
}

TEST(CsvReaderTest, DeclaredSchemaQuotingAndNulls) {
  ScratchDirectory dir;
  std::string path = dir.File("quotes.csv");
  WriteText(path,
            "symbol,bid,volume,ts\n"
            "\"A,1\",1.5,10,2024-03-01T00:00:00Z\n"
            "\"say \"\"hi\"\"\",,,\n"
            ",2.25,3,1709251200\n"
            "\"\",3,4,2024-03-01 00:00:01.5\n");
  ReadOptions options;
  options.schema = QuoteSchema();
  auto result = ReadAll(path, Format::kCsv, options);
  EXPECT_TRUE(result.rejected.empty());
  ASSERT_EQ(result.table->num_rows(), 4);
  auto symbol = Column<arrow::StringArray>(result, "symbol");
  auto bid = Column<arrow::DoubleArray>(result, "bid");
  auto volume = Column<arrow::Int64Array>(result, "volume");
  auto ts = Column<arrow::TimestampArray>(result, "ts");
  EXPECT_EQ(symbol->GetView(0), "A,1");
  EXPECT_EQ(symbol->GetView(1), "say \"hi\"");
  EXPECT_TRUE(symbol->IsNull(2));  // an empty field is null, for strings too
  EXPECT_FALSE(symbol->IsNull(3));
  EXPECT_EQ(symbol->GetView(3), "");  // a quoted empty field is an empty string
  EXPECT_TRUE(bid->IsNull(1));
  EXPECT_TRUE(volume->IsNull(1));
  EXPECT_TRUE(ts->IsNull(1));
  EXPECT_EQ(ts->Value(0), 1709251200000000);
  EXPECT_EQ(ts->Value(2), 1709251200000000);
  EXPECT_EQ(ts->Value(3), 1709251201500000);
}

TEST(CsvReaderTest, WrongFieldCountIsOneDeadLetter) {
  ScratchDirectory dir;
  std::string path = dir.File("bad.csv");
  WriteText(path, "symbol,bid,volume,ts\nA,1,1,\nB,2,2\nC,3,3,\n");
  ReadOptions options;
  options.schema = QuoteSchema();
  auto result = ReadAll(path, Format::kCsv, options);
  ASSERT_EQ(result.rejected.size(), 1u);
  EXPECT_EQ(result.rejected[0].origin, path + ":line 3");
  EXPECT_EQ(result.rejected[0].record, "B,2,2");
  EXPECT_NE(result.rejected[0].reason.find("expected 4 fields, found 3"), std::string::npos);
  ASSERT_EQ(result.table->num_rows(), 2);
  EXPECT_EQ(Column<arrow::StringArray>(result, "symbol")->GetView(1), "C");
}

TEST(CsvReaderTest, BadValueIsOneDeadLetterWithItsLine) {
  ScratchDirectory dir;
  std::string path = dir.File("bad.csv");
  WriteText(path,
            "symbol,bid,volume,ts\nA,1,1,\nB,2\nC,oops,3,\nD,4,4,\nE,5,5,not-a-time\nF,6,6,\n");
  ReadOptions options;
  options.schema = QuoteSchema();
  auto result = ReadAll(path, Format::kCsv, options);
  ASSERT_EQ(result.rejected.size(), 3u);
  // In file order, whichever way each row was rejected.
  EXPECT_EQ(result.rejected[0].origin, path + ":line 3");
  EXPECT_EQ(result.rejected[1].origin, path + ":line 4");
  EXPECT_EQ(result.rejected[1].reason, "field 'bid': cannot convert 'oops' to double");
  EXPECT_NE(result.rejected[1].record.find("\"oops\""), std::string::npos);
  EXPECT_EQ(result.rejected[2].origin, path + ":line 6");
  EXPECT_NE(result.rejected[2].reason.find("'ts'"), std::string::npos);
  EXPECT_NE(result.rejected[2].reason.find("timestamp"), std::string::npos);
  ASSERT_EQ(result.table->num_rows(), 3);
  auto symbol = Column<arrow::StringArray>(result, "symbol");
  EXPECT_EQ(symbol->GetView(0), "A");
  EXPECT_EQ(symbol->GetView(1), "D");
  EXPECT_EQ(symbol->GetView(2), "F");
  EXPECT_EQ(Column<arrow::DoubleArray>(result, "bid")->Value(2), 6.0);
}

TEST(CsvReaderTest, InfersTypesAndLaterMisfitsAreDeadLetters) {
  ScratchDirectory dir;
  std::string path = dir.File("inferred.csv");
  std::string text = "n,x,flag,when,name\n";
  for (int i = 0; i < 2000; ++i) {
    text += fmt::format("{},{}.5,{},2024-03-01T00:00:{:02}Z,n{}\n", i, i, i % 2 ? "true" : "false",
                        i % 60, i);
  }
  text += "not-a-number,1.5,true,2024-03-01T00:00:00Z,late\n";
  WriteText(path, text);
  ReadOptions options;
  options.block_size = 4096;  // the misfit is far past the first block
  auto result = ReadAll(path, Format::kCsv, options);
  const auto& schema = *result.table->schema();
  EXPECT_TRUE(schema.GetFieldByName("n")->type()->Equals(arrow::int64()));
  EXPECT_TRUE(schema.GetFieldByName("x")->type()->Equals(arrow::float64()));
  EXPECT_TRUE(schema.GetFieldByName("flag")->type()->Equals(arrow::boolean()));
  EXPECT_TRUE(schema.GetFieldByName("when")->type()->Equals(TimestampType()));
  EXPECT_TRUE(schema.GetFieldByName("name")->type()->Equals(arrow::utf8()));
  EXPECT_EQ(result.table->num_rows(), 2000);
  ASSERT_EQ(result.rejected.size(), 1u);
  EXPECT_EQ(result.rejected[0].origin, path + ":line 2002");
}

TEST(CsvReaderTest, ReadsLargeFilesInManyBoundedBatches) {
  ScratchDirectory dir;
  std::string path = dir.File("large.csv");
  std::string text = "id,value\n";
  const int rows = 50000;
  for (int i = 0; i < rows; ++i) text += fmt::format("{},{}\n", i, i * 0.25);
  WriteText(path, text);
  ReadOptions options;
  options.block_size = 64 * 1024;
  auto result = ReadAll(path, Format::kCsv, options);
  EXPECT_EQ(result.table->num_rows(), rows);
  EXPECT_GT(result.batches, 5);
  EXPECT_LT(result.max_batch_rows, rows / 4);
  EXPECT_EQ(Column<arrow::Int64Array>(result, "id")->Value(rows - 1), rows - 1);
}

TEST(CsvReaderTest, TruncatedLastLineIsOneDeadLetter) {
  ScratchDirectory dir;
  std::string path = dir.File("cut.csv");
  WriteText(path, "symbol,bid,volume,ts\nA,1,1,\nB,2,2,\nC,3");
  ReadOptions options;
  options.schema = QuoteSchema();
  auto result = ReadAll(path, Format::kCsv, options);
  ASSERT_EQ(result.rejected.size(), 1u);
  EXPECT_EQ(result.rejected[0].origin, path + ":line 4");
  EXPECT_EQ(result.table->num_rows(), 2);
}

TEST(CsvReaderTest, NoHeaderWithDeclaredSchemaAndOtherDelimiter) {
  ScratchDirectory dir;
  std::string path = dir.File("plain.tsv");
  WriteText(path, "A\t1.5\t3\t\nB\t2\t4\t2024-03-01\n");
  ReadOptions options;
  options.schema = QuoteSchema();
  options.header = false;
  options.delimiter = '\t';
  auto result = ReadAll(path, Format::kCsv, options);
  EXPECT_TRUE(result.rejected.empty());
  ASSERT_EQ(result.table->num_rows(), 2);
  EXPECT_EQ(Column<arrow::Int64Array>(result, "volume")->Value(1), 4);
}

TEST(CsvReaderTest, EmptyFileHasNoRows) {
  ScratchDirectory dir;
  std::string path = dir.File("empty.csv");
  WriteText(path, "");
  ReadOptions options;
  options.schema = QuoteSchema();
  auto result = ReadAll(path, Format::kCsv, options);
  EXPECT_EQ(result.table->num_rows(), 0);
  EXPECT_EQ(result.table->num_columns(), 4);
}

TEST(JsonLinesReaderTest, InvalidLineIsOneDeadLetter) {
  ScratchDirectory dir;
  std::string path = dir.File("quotes.jsonl");
  WriteText(path,
            "{\"symbol\":\"A\",\"bid\":1.5,\"volume\":1}\n"
            "\n"
            "{\"symbol\":\"B\",\"bid\":\n"
            "{\"symbol\":\"C\",\"bid\":\"high\"}\r\n"
            "{\"symbol\":\"D\",\"bid\":2}\n"
            "{\"symbol\":\"E\",\"bi");
  ReadOptions options;
  options.schema = QuoteSchema();
  auto result = ReadAll(path, Format::kJsonLines, options);
  ASSERT_EQ(result.rejected.size(), 3u);
  EXPECT_EQ(result.rejected[0].origin, path + ":line 3");
  EXPECT_EQ(result.rejected[0].record, "{\"symbol\":\"B\",\"bid\":");
  EXPECT_EQ(result.rejected[1].origin, path + ":line 4");
  EXPECT_NE(result.rejected[1].reason.find("field 'bid'"), std::string::npos);
  EXPECT_EQ(result.rejected[2].origin, path + ":line 6");  // the file was cut short
  ASSERT_EQ(result.table->num_rows(), 2);
  EXPECT_EQ(Column<arrow::StringArray>(result, "symbol")->GetView(1), "D");
}

TEST(JsonLinesReaderTest, InfersAndReadsInBlocks) {
  ScratchDirectory dir;
  std::string path = dir.File("many.ndjson");
  std::string text;
  const int rows = 20000;
  for (int i = 0; i < rows; ++i)
    text += fmt::format("{{\"id\":{},\"name\":\"n{}\",\"at\":\"2024-03-01T00:00:00Z\"}}\n", i, i);
  text += "{\"id\":1,\"name\":\"" + std::string(10000, 'x') + "\"}\n";  // longer than a block
  WriteText(path, text);
  ReadOptions options;
  options.block_size = 4096;
  options.infer_rows = 10;
  auto result = ReadAll(path, Format::kJsonLines, options);
  EXPECT_TRUE(result.rejected.empty());
  EXPECT_EQ(result.table->num_rows(), rows + 1);
  EXPECT_GT(result.batches, 20);
  EXPECT_TRUE(result.table->schema()->GetFieldByName("id")->type()->Equals(arrow::int64()));
  EXPECT_TRUE(result.table->schema()->GetFieldByName("at")->type()->Equals(TimestampType()));
  EXPECT_EQ(Column<arrow::StringArray>(result, "name")->value_length(rows), 10000);
}

std::shared_ptr<arrow::RecordBatch> SmallBatch() {
  arrow::Int64Builder ids;
  arrow::StringBuilder names;
  EXPECT_TRUE(ids.AppendValues({1, 2, 3}).ok());
  EXPECT_TRUE(names.AppendValues({"a", "b", "c"}).ok());
  auto schema =
      arrow::schema({arrow::field("id", arrow::int64()), arrow::field("name", arrow::utf8())});
  return arrow::RecordBatch::Make(schema, 3, {*ids.Finish(), *names.Finish()});
}

TEST(ParquetReaderTest, ProjectsAndConformsColumns) {
  ScratchDirectory dir;
  std::string path = dir.File("small.parquet");
  auto batch = SmallBatch();
  auto writer = *RecordWriter::Open(path, Format::kParquet, batch->schema());
  ASSERT_TRUE(writer->Write(*batch).ok());
  ASSERT_TRUE(writer->Close().ok());

  ReadOptions projected;
  projected.columns = {"name"};
  auto result = ReadAll(path, Format::kParquet, projected);
  ASSERT_EQ(result.table->num_columns(), 1);
  EXPECT_EQ(Column<arrow::StringArray>(result, "name")->GetView(2), "c");

  ReadOptions declared;
  declared.schema =
      arrow::schema({arrow::field("id", arrow::utf8()), arrow::field("missing", arrow::float64())});
  // A declared field the file lacks is an error, unless it is asked for as null.
  auto refused = RecordReader::Open(path, Format::kParquet, declared);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("'missing'"), std::string::npos);
  declared.missing_fields_null = true;
  result = ReadAll(path, Format::kParquet, declared);
  EXPECT_EQ(Column<arrow::StringArray>(result, "id")->GetView(0), "1");
  EXPECT_EQ(result.table->GetColumnByName("missing")->null_count(), 3);

  projected.columns = {"nope"};
  EXPECT_FALSE(RecordReader::Open(path, Format::kParquet, projected).ok());
}

TEST(ParquetReaderTest, ReadsEveryLeafOfNestedColumns) {
  ScratchDirectory dir;
  std::string path = dir.File("nested.parquet");
  auto kind = arrow::struct_({arrow::field("a", arrow::int64()), arrow::field("b", arrow::utf8())});
  auto schema = arrow::schema({arrow::field("id", arrow::int64()), arrow::field("obj", kind),
                               arrow::field("name", arrow::utf8())});
  auto batch = *arrow::RecordBatch::FromStructArray(*arrow::json::ArrayFromJSONString(
      arrow::struct_(schema->fields()),
      R"([{"id": 1, "obj": {"a": 7, "b": "x"}, "name": "n"}])"));
  auto writer = *RecordWriter::Open(path, Format::kParquet, schema);
  ASSERT_TRUE(writer->Write(*batch).ok());
  ASSERT_TRUE(writer->Close().ok());
  ReadOptions projected;
  projected.columns = {"obj", "name"};
  auto result = ReadAll(path, Format::kParquet, projected);
  ASSERT_EQ(result.table->num_columns(), 2);
  auto obj = std::static_pointer_cast<arrow::StructArray>(
      result.table->GetColumnByName("obj")->chunk(0));
  EXPECT_EQ(std::static_pointer_cast<arrow::StringArray>(obj->GetFieldByName("b"))->GetView(0),
            "x");
  EXPECT_EQ(Column<arrow::StringArray>(result, "name")->GetView(0), "n");
}

TEST(ParquetReaderTest, ARemoteFileFetchedRowGroupAheadReadsTheSame) {
  ScratchDirectory dir;
  std::string path = dir.File("groups.parquet");
  arrow::Int64Builder ids;
  arrow::StringBuilder names;
  for (int64_t i = 0; i < 5000; ++i) {
    ASSERT_TRUE(ids.Append(i).ok());
    ASSERT_TRUE(names.Append(fmt::format("name-{}", i % 37)).ok());  // dictionary pages
  }
  auto schema =
      arrow::schema({arrow::field("id", arrow::int64()), arrow::field("name", arrow::utf8())});
  auto table = arrow::Table::Make(schema, {*ids.Finish(), *names.Finish()});
  auto out = *arrow::io::FileOutputStream::Open(path);
  ASSERT_TRUE(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), out,
                                         /*chunk_size=*/300)
                  .ok());  // 17 row groups
  ASSERT_TRUE(out->Close().ok());
  auto read = [&](bool remote, std::vector<std::string> columns) {
    ReadOptions options;
    options.remote = remote;
    options.batch_rows = 128;
    options.columns = std::move(columns);
    auto reader = RecordReader::Open(*arrow::io::ReadableFile::Open(path), path,
                                     Format::kParquet, options);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
    while (true) {
      auto batch = (*reader)->Next(nullptr);
      EXPECT_TRUE(batch.ok()) << batch.status().ToString();
      if (!batch.ok() || *batch == nullptr) break;
      batches.push_back(*batch);
    }
    return *arrow::Table::FromRecordBatches(batches);
  };
  auto local = read(false, {});
  auto remote = read(true, {});
  EXPECT_EQ(remote->num_rows(), 5000);
  EXPECT_TRUE(remote->Equals(*local));
  auto projected = read(true, {"name"});  // only some column chunks fetched
  EXPECT_TRUE(projected->GetColumnByName("name")->Equals(*local->GetColumnByName("name")));
}

TEST(ParquetReaderTest, NotParquetIsAnError) {
  ScratchDirectory dir;
  std::string path = dir.File("fake.parquet");
  WriteText(path, "this is not parquet at all");
  EXPECT_FALSE(RecordReader::Open(path, Format::kParquet, {}).ok());
}

TEST(ArrowReaderTest, ReadsStreamFormatToo) {
  ScratchDirectory dir;
  std::string path = dir.File("small.arrows");
  auto batch = SmallBatch();
  {
    auto stream = *arrow::io::FileOutputStream::Open(path);
    auto writer = *arrow::ipc::MakeStreamWriter(stream, batch->schema());
    ASSERT_TRUE(writer->WriteRecordBatch(*batch).ok());
    ASSERT_TRUE(writer->WriteRecordBatch(*batch).ok());
    ASSERT_TRUE(writer->Close().ok());
    ASSERT_TRUE(stream->Close().ok());
  }
  auto result = ReadAll(path, Format::kArrow);
  EXPECT_EQ(result.table->num_rows(), 6);
  EXPECT_EQ(result.batches, 2);
}

/// Reads `text` as a non-seekable stream in `format` to its end.
ReadResult ReadStream(const std::string& text, Format format, const ReadOptions& options = {}) {
  ReadResult result;
  auto buffer = std::make_shared<arrow::io::BufferReader>(arrow::Buffer::FromString(text));
  // A BufferReader could seek; reading it as a plain InputStream shows that none is needed.
  std::shared_ptr<arrow::io::InputStream> stream = buffer;
  auto reader = RecordReader::OpenStream(stream, "stdin", format, options);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  if (!reader.ok()) return result;
  EXPECT_EQ((*reader)->bytes_total(), text.empty() ? 0 : RecordReader::kUnknownSize);
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  while (true) {
    auto batch = (*reader)->Next(&result.rejected);
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok() || *batch == nullptr) break;
    batches.push_back(*batch);
    ++result.batches;
  }
  result.table = *arrow::Table::FromRecordBatches((*reader)->schema(), batches);
  result.table = *result.table->CombineChunks();
  return result;
}

TEST(StreamReaderTest, ReadsCsvJsonLinesAndArrowFromAStream) {
  auto csv = ReadStream("symbol,bid\nAAPL,1.5\nMSFT,x\n", Format::kCsv);
  ASSERT_EQ(csv.table->num_rows(), 2);
  EXPECT_EQ(Column<arrow::StringArray>(csv, "bid")->GetString(1), "x");
  auto jsonl = ReadStream("{\"id\":1}\nnot json\n{\"id\":3}\n", Format::kJsonLines);
  EXPECT_EQ(jsonl.table->num_rows(), 2);
  ASSERT_EQ(jsonl.rejected.size(), 1u);
  EXPECT_EQ(jsonl.rejected[0].origin, "stdin:line 2");
  // An empty stream is no rows, not an error.
  ReadOptions declared;
  declared.schema = arrow::schema({arrow::field("id", arrow::int64())});
  EXPECT_EQ(ReadStream("", Format::kCsv, declared).table->num_rows(), 0);

  // Arrow: the stream format, and the file format read front to back.
  auto batch = SmallBatch();
  for (bool file_format : {false, true}) {
    auto sink = *arrow::io::BufferOutputStream::Create();
    WriteOptions options;
    options.arrow_stream = !file_format;
    auto writer = *RecordWriter::Open(sink, Format::kArrow, batch->schema(), options);
    ASSERT_TRUE(writer->Write(*batch).ok());
    ASSERT_TRUE(writer->Write(*batch).ok());
    ASSERT_TRUE(writer->Close().ok());
    auto bytes = (*sink->Finish())->ToString();
    EXPECT_EQ(bytes.compare(0, 6, "ARROW1") == 0, file_format);
    auto arrow = ReadStream(bytes, Format::kArrow);
    EXPECT_EQ(arrow.table->num_rows(), 6) << file_format;
    EXPECT_TRUE(arrow.table->schema()->Equals(*batch->schema())) << file_format;
  }
}

TEST(StreamReaderTest, ParquetNeedsAFile) {
  auto stream = std::make_shared<arrow::io::BufferReader>(arrow::Buffer::FromString("PAR1"));
  auto reader = RecordReader::OpenStream(stream, "stdin", Format::kParquet, {});
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find("Parquet cannot be read from a stream"),
            std::string::npos);
}

TEST(TimeReadingTest, FormatsAndEpochUnitsPerFieldInCsvJsonLinesAndParquet) {
  constexpr int64_t kMarch1 = 1709251200LL * 1000000;
  ScratchDirectory dir;
  ReadOptions options;
  options.schema =
      arrow::schema({arrow::field("when", TimestampType()), arrow::field("ms", TimestampType()),
                     arrow::field("day", arrow::date32())});
  options.times.fields["when"].format = "%d/%m/%Y %H:%M";
  options.times.fields["ms"].epoch_unit = arrow::TimeUnit::MILLI;
  options.times.format = "%d.%m.%Y";  // every other time field: `day`
  std::string csv = dir.File("t.csv");
  WriteText(csv,
            "when,ms,day\n01/03/2024 01:30,1709251200000,01.03.2024\n"
            "2024-03-01T01:30:00Z,5,01.03.2024\n");
  auto read = ReadAll(csv, Format::kCsv, options);
  ASSERT_EQ(read.table->num_rows(), 1);
  EXPECT_EQ(Column<arrow::TimestampArray>(read, "when")->Value(0), kMarch1 + 5400000000LL);
  EXPECT_EQ(Column<arrow::TimestampArray>(read, "ms")->Value(0), kMarch1);
  EXPECT_EQ(Column<arrow::Date32Array>(read, "day")->Value(0), 19783);
  // ISO text does not match the declared layout: a dead letter naming the field.
  ASSERT_EQ(read.rejected.size(), 1u);
  EXPECT_NE(read.rejected[0].reason.find("field 'when'"), std::string::npos);

  std::string jsonl = dir.File("t.jsonl");
  WriteText(jsonl, "{\"when\":\"01/03/2024 01:30\",\"ms\":1709251200000,\"day\":\"01.03.2024\"}\n");
  auto decoded = ReadAll(jsonl, Format::kJsonLines, options);
  ASSERT_EQ(decoded.table->num_rows(), 1);
  EXPECT_EQ(Column<arrow::TimestampArray>(decoded, "when")->Value(0), kMarch1 + 5400000000LL);
  EXPECT_EQ(Column<arrow::TimestampArray>(decoded, "ms")->Value(0), kMarch1);
  EXPECT_EQ(Column<arrow::Date32Array>(decoded, "day")->Value(0), 19783);

  // Parquet holding text and numbers converts the same way.
  std::string parquet = dir.File("t.parquet");
  auto text =
      arrow::schema({arrow::field("when", arrow::utf8()), arrow::field("ms", arrow::int64()),
                     arrow::field("day", arrow::utf8())});
  arrow::StringBuilder when, day;
  arrow::Int64Builder ms;
  ASSERT_TRUE(when.Append("01/03/2024 01:30").ok());
  ASSERT_TRUE(ms.Append(1709251200000).ok());
  ASSERT_TRUE(day.Append("01.03.2024").ok());
  auto batch = arrow::RecordBatch::Make(text, 1, {*when.Finish(), *ms.Finish(), *day.Finish()});
  auto writer = *RecordWriter::Open(parquet, Format::kParquet, text);
  ASSERT_TRUE(writer->Write(*batch).ok());
  ASSERT_TRUE(writer->Close().ok());
  auto columnar = ReadAll(parquet, Format::kParquet, options);
  ASSERT_EQ(columnar.table->num_rows(), 1);
  EXPECT_EQ(Column<arrow::TimestampArray>(columnar, "when")->Value(0), kMarch1 + 5400000000LL);
  EXPECT_EQ(Column<arrow::TimestampArray>(columnar, "ms")->Value(0), kMarch1);
}

TEST(TimeReadingTest, AFormattedFieldIsATimestampInAnInferredSchema) {
  ScratchDirectory dir;
  std::string csv = dir.File("t.csv");
  WriteText(csv, "id,when\n1,01/03/2024 00:00\n2,02/03/2024 00:00\n");
  ReadOptions options;
  options.times.fields["when"].format = "%d/%m/%Y %H:%M";
  auto read = ReadAll(csv, Format::kCsv, options);
  ASSERT_EQ(read.table->num_rows(), 2);
  EXPECT_TRUE(read.table->schema()->GetFieldByName("when")->type()->Equals(*TimestampType()));
  EXPECT_EQ(Column<arrow::TimestampArray>(read, "when")->Value(1), 1709337600LL * 1000000);
  options.times.fields["absent"].format = "%Y";
  EXPECT_FALSE(RecordReader::Open(csv, Format::kCsv, options).ok());
}

TEST(FormatTest, NamesAndExtensions) {
  EXPECT_EQ(*ParseFormatName("json"), Format::kJsonLines);
  EXPECT_EQ(FormatName(Format::kJsonLines), "jsonl");
  EXPECT_FALSE(ParseFormatName("xml").ok());
  EXPECT_EQ(FormatFromPath("a/b.CSV"), Format::kCsv);
  EXPECT_EQ(FormatFromPath("x.ndjson"), Format::kJsonLines);
  EXPECT_EQ(FormatFromPath("x.pq"), Format::kParquet);
  EXPECT_EQ(FormatFromPath("x.feather"), Format::kArrow);
  EXPECT_EQ(FormatFromPath("x.txt"), std::nullopt);
}

}  // namespace
}  // namespace sluice::formats
