// The Avro container reader and writer: every type round-trips through Sluice's writer and
// reader, files written by fastavro read back with the values it was given, and damaged files
// (cut short, corrupt blocks, bad sync markers, wrong magic) give errors or dead letters, never
// a crash, with their rows accounted for.

#include <arrow/api.h>
#include <arrow/io/memory.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "sluice/formats/formats_test_support.h"
#include "sluice/formats/record_writer.h"
#include "sluice/formats/type_names.h"
#include "sluice/formats/value_text.h"

namespace sluice::formats {
namespace {

using testing::ReadAll;
using testing::ReadText;
using testing::ScratchDirectory;
using testing::WriteReferenceFiles;
using testing::WriteText;

/// The rows of `table` as JSON lines, as the JSON lines writer renders values.
std::string JsonRows(const arrow::Table& table) {
  std::string out;
  for (int64_t row = 0; row < table.num_rows(); ++row) {
    out += '{';
    for (int i = 0; i < table.num_columns(); ++i) {
      if (i > 0) out += ',';
      out += '"' + table.field(i)->name() + "\":";
      AppendJsonValue(*table.column(i)->chunk(0), row, &out);
    }
    out += "}\n";
  }
  return out;
}

std::shared_ptr<arrow::Table> EveryTypeTable() {
  auto point = arrow::struct_({arrow::field("a", arrow::int32()),
                               arrow::field("b", arrow::utf8())});
  auto schema = arrow::schema({
      arrow::field("b", arrow::boolean()),
      arrow::field("i", arrow::int32()),
      arrow::field("l", arrow::int64()),
      arrow::field("f", arrow::float32()),
      arrow::field("d", arrow::float64()),
      arrow::field("s", arrow::utf8()),
      arrow::field("raw", arrow::binary()),
      arrow::field("day", arrow::date32()),
      arrow::field("tm", arrow::time32(arrow::TimeUnit::MILLI)),
      arrow::field("tu", arrow::time64(arrow::TimeUnit::MICRO)),
      arrow::field("ts", TimestampType()),
      arrow::field("local", arrow::timestamp(arrow::TimeUnit::MICRO)),
      arrow::field("price", arrow::decimal128(12, 3)),
      arrow::field("point", point),
      arrow::field("tags", arrow::list(arrow::int64())),
      arrow::field("scores", arrow::map(arrow::utf8(), arrow::float64())),
      arrow::field("never", arrow::null()),
      arrow::field("required", arrow::int64(), /*nullable=*/false),
  });
  arrow::ArrayVector arrays;
  auto column = [](const std::shared_ptr<arrow::DataType>& type, const std::string& json) {
    return *arrow::json::ArrayFromJSONString(type, json);
  };
  arrays.push_back(column(arrow::boolean(), "[true, null, false]"));
  arrays.push_back(column(arrow::int32(), "[-5, null, 2147483647]"));
  arrays.push_back(column(arrow::int64(), "[9007199254740993, null, -1]"));
  arrays.push_back(column(arrow::float32(), "[1.5, null, -0.0]"));
  arrays.push_back(column(arrow::float64(), "[-2.25, null, 1e300]"));
  arrays.push_back(column(arrow::utf8(), R"(["héllo", null, ""])"));
  arrays.push_back(column(arrow::binary(), R"(["\u0000\u0001", null, ""])"));
  arrays.push_back(column(arrow::date32(), "[19782, null, 0]"));
  arrays.push_back(column(arrow::time32(arrow::TimeUnit::MILLI), "[45015250, null, 0]"));
  arrays.push_back(column(arrow::time64(arrow::TimeUnit::MICRO), "[86399999999, null, 0]"));
  arrays.push_back(column(TimestampType(), "[1706702400123456, null, 0]"));
  arrays.push_back(
      column(arrow::timestamp(arrow::TimeUnit::MICRO), "[-1, null, 9183110400000000]"));
  arrays.push_back(column(arrow::decimal128(12, 3), R"(["-123456789.125", null, "0.001"])"));
  arrays.push_back(column(point, R"([{"a": 1, "b": "x"}, null, {"a": null, "b": null}])"));
  arrays.push_back(column(arrow::list(arrow::int64()), "[[1, 2, 3], null, []]"));
  arrays.push_back(column(arrow::map(arrow::utf8(), arrow::float64()),
                          R"([[["m", 1.0], ["n", null]], null, []])"));
  arrays.push_back(column(arrow::null(), "[null, null, null]"));
  arrays.push_back(column(arrow::int64(), "[1, -9223372036854775808, 0]"));
  return arrow::Table::Make(schema, arrays);
}

TEST(AvroContainerTest, EveryTypeRoundTripsWithEveryCodec) {
  ScratchDirectory directory;
  auto table = EveryTypeTable();
  auto batch = *table->CombineChunksToBatch();
  for (std::string codec : {"null", "deflate", "snappy", "zstandard"}) {
    SCOPED_TRACE(codec);
    std::string path = directory.File("every-" + codec + ".avro");
    WriteOptions options;
    options.avro_codec = codec;
    auto writer = RecordWriter::Open(path, Format::kAvro, table->schema(), options);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    // Written twice: one batch, then one row at a time.
    ASSERT_TRUE((*writer)->Write(*batch).ok());
    for (int64_t row = 0; row < batch->num_rows(); ++row)
      ASSERT_TRUE((*writer)->Write(*batch->Slice(row, 1)).ok());
    ASSERT_TRUE((*writer)->Close().ok());

    ReadOptions read;
    read.batch_rows = 2;
    auto result = ReadAll(path, Format::kAvro, read);
    ASSERT_TRUE(result.table);
    EXPECT_TRUE(result.rejected.empty());
    EXPECT_EQ(result.max_batch_rows, 2);
    auto expected = *arrow::ConcatenateTables({table, table});
    EXPECT_TRUE(result.table->schema()->Equals(*table->schema()))
        << result.table->schema()->ToString();
    EXPECT_EQ(JsonRows(*result.table), JsonRows(**expected->CombineChunks()));
  }
}

TEST(AvroContainerTest, WidensTypesAvroLacks) {
  ScratchDirectory directory;
  auto nanos = arrow::timestamp(arrow::TimeUnit::NANO, "UTC");
  auto schema = arrow::schema(
      {arrow::field("small", arrow::int8()), arrow::field("unsigned", arrow::uint32()),
       arrow::field("nanos", nanos), arrow::field("words", arrow::large_utf8())});
  arrow::ArrayVector arrays = {
      *arrow::json::ArrayFromJSONString(arrow::int8(), "[-128, 127]"),
      *arrow::json::ArrayFromJSONString(arrow::uint32(), "[4294967295, 0]"),
      *arrow::json::ArrayFromJSONString(arrow::timestamp(arrow::TimeUnit::NANO, "UTC"),
                                  "[1500, null]"),
      *arrow::json::ArrayFromJSONString(arrow::large_utf8(), R"(["a", "b"])"),
  };
  std::string path = directory.File("widened.avro");
  auto writer = RecordWriter::Open(path, Format::kAvro, schema);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write(*arrow::RecordBatch::Make(schema, 2, arrays)).ok());
  ASSERT_TRUE((*writer)->Close().ok());
  auto result = ReadAll(path, Format::kAvro);
  ASSERT_TRUE(result.table);
  EXPECT_EQ(JsonRows(*result.table),
            "{\"small\":-128,\"unsigned\":4294967295,\"nanos\":\"1970-01-01T00:00:00.000001Z\","
            "\"words\":\"a\"}\n"
            "{\"small\":127,\"unsigned\":0,\"nanos\":null,\"words\":\"b\"}\n");
}

TEST(AvroContainerTest, RefusesTypesWithoutAvroForm) {
  auto schema = arrow::schema(
      {arrow::field("m", arrow::map(arrow::int32(), arrow::utf8()))});
  auto writer = RecordWriter::Open(*arrow::io::BufferOutputStream::Create(), Format::kAvro, schema);
  ASSERT_FALSE(writer.ok());
  EXPECT_NE(writer.status().message().find("'m'"), std::string::npos) << writer.status().message();
}

TEST(AvroContainerTest, ReadsFilesFastavroWrote) {
  ScratchDirectory directory;
  if (!WriteReferenceFiles(directory)) GTEST_SKIP() << "fastavro or pyarrow is not installed";
  const std::string expected =
      R"({"b":true,"i":-7,"l":1099511627776,"f":1.5,"d":-0.25,"s":"héllo","raw":"AP8=",)"
      R"("fx":"YWJjZA==","color":"GREEN","maybe":null,"maybe_last":"x",)"
      R"("home":{"city":"Oslo","zip":150},"work":null,"tags":["a","b"],)"
      R"("scores":{"m":1.0,"n":null},"day":"2024-02-29","tm":"12:30:15.250",)"
      R"("tu":"23:59:59.999999","tsm":"2024-01-31T12:00:00.123Z",)"
      R"("tsu":"1969-12-31T23:59:59.999999Z","price":-12345678.90,)"
      R"("big":12345678901234.5678,"id":"12345678-1234-5678-1234-567812345678"})"
      "\n"
      R"({"b":false,"i":2147483647,"l":-9223372036854775808,"f":-0.0,"d":1e+300,"s":"",)"
      R"("raw":"","fx":"AAAAAQ==","color":"RED","maybe":42,"maybe_last":null,)"
      R"("home":{"city":"","zip":null},"work":{"city":"Rome","zip":100},"tags":[],)"
      R"("scores":{},"day":"1970-01-01","tm":"00:00:00.000","tu":"00:00:00.000000",)"
      R"("tsm":"1970-01-01T00:00:00Z","tsu":"2262-01-01T00:00:00Z","price":0.01,)"
      R"("big":-1.0000,"id":"00000000-0000-0000-0000-000000000000"})"
      "\n";
  for (std::string codec : {"null", "deflate"}) {
    SCOPED_TRACE(codec);
    auto result = ReadAll(directory.File("everything-" + codec + ".avro"), Format::kAvro);
    ASSERT_TRUE(result.table);
    EXPECT_TRUE(result.rejected.empty());
    EXPECT_EQ(JsonRows(*result.table), expected);
    EXPECT_EQ(result.table->schema()->GetFieldByName("maybe")->nullable(), true);
    EXPECT_EQ(result.table->schema()->GetFieldByName("i")->nullable(), false);
  }
}

TEST(AvroContainerTest, DeclaredSchemaConforms) {
  ScratchDirectory directory;
  if (!WriteReferenceFiles(directory)) GTEST_SKIP() << "fastavro or pyarrow is not installed";
  ReadOptions options;
  options.schema = arrow::schema({arrow::field("text", arrow::utf8()),
                                  arrow::field("n", arrow::float64())});
  auto result = ReadAll(directory.File("many-deflate.avro"), Format::kAvro, options);
  ASSERT_TRUE(result.table);
  EXPECT_EQ(result.table->num_rows(), 1000);
  EXPECT_EQ(result.table->schema()->field(1)->type()->id(), arrow::Type::DOUBLE);
  options.schema = arrow::schema({arrow::field("absent", arrow::utf8())});
  auto reader = RecordReader::Open(directory.File("many-deflate.avro"), Format::kAvro, options);
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find("absent"), std::string::npos);
}

TEST(AvroContainerTest, RefusesUnionsOtherThanNullable) {
  ScratchDirectory directory;
  // A header by hand: magic, {avro.schema: ...}, no codec (null), sync marker, no blocks.
  std::string schema =
      R"({"type":"record","name":"r","fields":[{"name":"u","type":["int","string"]}]})";
  std::string file = "Obj\x01";
  file += '\x02';                          // one metadata entry
  file += '\x16' + std::string("avro.schema");  // key length 11
  std::string length;
  int64_t size = static_cast<int64_t>(schema.size());
  for (uint64_t raw = static_cast<uint64_t>(size) << 1; ; raw >>= 7) {
    if (raw < 0x80) {
      length.push_back(static_cast<char>(raw));
      break;
    }
    length.push_back(static_cast<char>((raw & 0x7f) | 0x80));
  }
  file += length + schema;
  file += '\x00';
  file += std::string(16, 'S');
  WriteText(directory.File("union.avro"), file);
  auto reader = RecordReader::Open(directory.File("union.avro"), Format::kAvro, {});
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find("'u' is a union of 2 types"), std::string::npos)
      << reader.status().message();
}

/// Reads `bytes` as an Avro file with damaged input skipped; the rows out, the rows skipped and
/// the dead letters. An error opening it is reported through `open_error`.
struct Damaged {
  int64_t rows = 0;
  int64_t skipped_rows = 0;
  int64_t letters = 0;
  int64_t row_letters = 0;
  std::string open_error;
  std::string read_error;
  std::vector<exec::DeadLetter> rejected;
};

Damaged ReadDamaged(const std::string& bytes, bool skip = true) {
  Damaged result;
  ReadOptions options;
  options.skip_damaged = skip;
  options.batch_rows = 7;
  auto buffer = std::make_shared<arrow::io::BufferReader>(arrow::Buffer::FromString(bytes));
  auto reader = RecordReader::Open(buffer, "damaged.avro", Format::kAvro, options);
  if (!reader.ok()) {
    result.open_error = reader.status().message();
    return result;
  }
  while (true) {
    auto batch = (*reader)->Next(&result.rejected);
    if (!batch.ok()) {
      result.read_error = batch.status().message();
      break;
    }
    if (*batch == nullptr) break;
    auto valid = (*batch)->ValidateFull();
    EXPECT_TRUE(valid.ok()) << valid.ToString();
    result.rows += (*batch)->num_rows();
  }
  for (const auto& letter : result.rejected) {
    result.skipped_rows += letter.skipped_rows;
    ++result.letters;
    if (letter.skipped_rows == 0 && letter.skipped_bytes == 0) ++result.row_letters;
  }
  return result;
}

TEST(AvroContainerTest, CutShortKeepsTheBlocksBefore) {
  ScratchDirectory directory;
  if (!WriteReferenceFiles(directory)) GTEST_SKIP() << "fastavro or pyarrow is not installed";
  for (std::string codec : {"null", "deflate"}) {
    SCOPED_TRACE(codec);
    std::string bytes = ReadText(directory.File("many-" + codec + ".avro"));
    std::string sync = bytes.substr(bytes.size() - 16);
    ASSERT_EQ(ReadDamaged(bytes).rows, 1000);
    int checked = 0;
    for (size_t cut = 5; cut < bytes.size(); cut += 37) {
      Damaged result = ReadDamaged(bytes.substr(0, cut));
      if (!result.open_error.empty()) continue;  // cut inside the header
      ++checked;
      EXPECT_TRUE(result.read_error.empty()) << result.read_error;
      if (result.letters == 0) {
        // Cut right after a block: the format has no footer, so this reads as a shorter file.
        EXPECT_EQ(bytes.substr(cut - 16, 16), sync) << "cut at " << cut;
        continue;
      }
      // The blocks before the cut are read whole; the one it cuts is one dead letter with the
      // rows it claims (when its count is before the cut); the blocks after it are not there.
      size_t last_end = bytes.rfind(sync, cut - 16) + 16;
      EXPECT_EQ(result.rows, ReadDamaged(bytes.substr(0, last_end)).rows) << "cut at " << cut;
      EXPECT_LE(result.rows + result.skipped_rows, 1000) << "cut at " << cut;
      EXPECT_LE(result.letters, 1);
      Damaged failing = ReadDamaged(bytes.substr(0, cut), /*skip=*/false);
      if (result.letters == 1) {
        EXPECT_NE(failing.read_error.find("cut short"), std::string::npos) << failing.read_error;
      }
    }
    EXPECT_GT(checked, 50);
  }
}

TEST(AvroContainerTest, CorruptBlocksAreDeadLettersWithTheirRows) {
  ScratchDirectory directory;
  if (!WriteReferenceFiles(directory)) GTEST_SKIP() << "fastavro or pyarrow is not installed";
  std::string bytes = ReadText(directory.File("many-deflate.avro"));
  // The header ends with the sync marker; the first block starts after its first occurrence.
  // Every block ends with the file's sync marker, as the header does.
  std::string sync = bytes.substr(bytes.size() - 16);
  size_t first_block = bytes.find(sync) + 16;
  std::vector<size_t> ends;  // where each block's sync marker starts
  for (size_t at = bytes.find(sync, first_block); at != std::string::npos;
       at = bytes.find(sync, at + 16))
    ends.push_back(at);
  ASSERT_GT(ends.size(), 50u);

  // Compressed data damaged in the middle of block 10: that block's rows are lost and counted.
  std::string corrupt = bytes;
  size_t middle = (ends[8] + 16 + ends[9]) / 2;
  for (size_t i = middle; i < middle + 4; ++i) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
  Damaged result = ReadDamaged(corrupt);
  EXPECT_TRUE(result.read_error.empty()) << result.read_error;
  EXPECT_EQ(result.rows + result.skipped_rows + result.row_letters, 1000);
  EXPECT_GE(result.letters, 1);
  ASSERT_FALSE(result.rejected.empty());
  EXPECT_NE(result.rejected[0].origin.find("damaged.avro:block 10"), std::string::npos)
      << result.rejected[0].origin;
  Damaged failing = ReadDamaged(corrupt, /*skip=*/false);
  EXPECT_NE(failing.read_error.find("block 10"), std::string::npos) << failing.read_error;

  // A bad sync marker after block 5: reading goes on at the next marker; the rows of the
  // skipped span are unknown, so only their bytes are counted.
  corrupt = bytes;
  corrupt[ends[4] + 3] = static_cast<char>(corrupt[ends[4] + 3] ^ 1);
  result = ReadDamaged(corrupt);
  EXPECT_TRUE(result.read_error.empty()) << result.read_error;
  ASSERT_EQ(result.letters, 1);
  EXPECT_NE(result.rejected[0].reason.find("sync marker"), std::string::npos)
      << result.rejected[0].reason;
  EXPECT_GT(result.rejected[0].skipped_bytes, 0);
  EXPECT_LT(result.rows, 1000);
  EXPECT_GT(result.rows, 900);

  // An impossible block size: skipped to the next marker.
  corrupt = bytes;
  corrupt[ends[2] + 16] = '\x7f';  // the count of block 4 becomes negative
  result = ReadDamaged(corrupt);
  EXPECT_TRUE(result.read_error.empty()) << result.read_error;
  EXPECT_EQ(result.letters, 1);
  EXPECT_GT(result.rows, 900);
}

TEST(AvroContainerTest, WrongMagicIsAnErrorAtOpen) {
  Damaged result = ReadDamaged("PAR1 not avro at all");
  EXPECT_NE(result.open_error.find("not an Avro object container file"), std::string::npos)
      << result.open_error;
  result = ReadDamaged("");
  EXPECT_FALSE(result.open_error.empty());
  result = ReadDamaged(std::string("Obj\x01\x02\x16", 6));
  EXPECT_NE(result.open_error.find("cut short"), std::string::npos) << result.open_error;
}

TEST(AvroContainerTest, RandomDamageNeverCrashes) {
  ScratchDirectory directory;
  if (!WriteReferenceFiles(directory)) GTEST_SKIP() << "fastavro or pyarrow is not installed";
  std::mt19937 random(7);
  for (std::string name : {"many-null.avro", "many-deflate.avro", "everything-null.avro"}) {
    std::string bytes = ReadText(directory.File(name));
    for (int round = 0; round < 300; ++round) {
      std::string corrupt = bytes;
      int flips = 1 + static_cast<int>(random() % 4);
      for (int i = 0; i < flips; ++i)
        corrupt[random() % corrupt.size()] = static_cast<char>(random() & 0xff);
      Damaged result = ReadDamaged(corrupt);
      EXPECT_TRUE(result.read_error.empty()) << result.read_error;
    }
  }
}

TEST(AvroContainerTest, ReadsFromAStream) {
  ScratchDirectory directory;
  auto table = EveryTypeTable();
  std::string path = directory.File("stream.avro");
  auto writer = RecordWriter::Open(path, Format::kAvro, table->schema());
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Write(**table->CombineChunksToBatch()).ok());
  ASSERT_TRUE((*writer)->Close().ok());
  auto stream =
      std::make_shared<arrow::io::BufferReader>(arrow::Buffer::FromString(ReadText(path)));
  auto reader = RecordReader::OpenStream(stream, "-", Format::kAvro, {});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<exec::DeadLetter> rejected;
  auto batch = (*reader)->Next(&rejected);
  ASSERT_TRUE(batch.ok() && *batch);
  EXPECT_EQ((*batch)->num_rows(), 3);
}

}  // namespace
}  // namespace sluice::formats
