#include "sluice/connectors/http/request_body.h"

#include <arrow/api.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/reader.h>
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

namespace sluice::connectors::http {
namespace {

std::shared_ptr<arrow::Schema> TestSchema() {
  return arrow::schema({arrow::field("id", arrow::int64()), arrow::field("name", arrow::utf8())});
}

/// Rows first..first+count-1 with id = i and name "n<i>" ("a,b" for id 1, to be quoted in CSV).
std::shared_ptr<arrow::RecordBatch> Rows(int64_t first, int64_t count) {
  arrow::Int64Builder ids;
  arrow::StringBuilder names;
  for (int64_t i = first; i < first + count; ++i) {
    EXPECT_TRUE(ids.Append(i).ok());
    EXPECT_TRUE(names.Append(i == 1 ? std::string("a,b") : "n" + std::to_string(i)).ok());
  }
  return arrow::RecordBatch::Make(TestSchema(), count,
                                  {ids.Finish().ValueOrDie(), names.Finish().ValueOrDie()});
}

TEST(RowsThatFitTest, StopsAtRowsOrBytes) {
  // Rows of 3, 3, 3, 3 bytes; framing "[" "," "]".
  std::vector<int64_t> ends = {3, 6, 9, 12};
  Framing json{"[", ",", "]"};
  EXPECT_EQ(RowsThatFit(ends, 0, json, 2, 1000), 2u);
  EXPECT_EQ(RowsThatFit(ends, 0, json, 10, 1000), 4u);
  // [aaa,bbb] is 9 bytes: a limit of 9 takes two rows, 8 only one.
  EXPECT_EQ(RowsThatFit(ends, 0, json, 10, 9), 2u);
  EXPECT_EQ(RowsThatFit(ends, 0, json, 10, 8), 1u);
  // A row larger than the limit goes alone.
  EXPECT_EQ(RowsThatFit(ends, 1, json, 10, 2), 1u);
  EXPECT_EQ(RowsThatFit(ends, 3, json, 10, 1000), 1u);
  EXPECT_EQ(RowsThatFit(ends, 4, json, 10, 1000), 0u);
}

TEST(RowsThatFitTest, GreedyWithinLimitsOnRandomRows) {
  std::mt19937 random(7);
  Framing csv{"id,name\n", "\n", "\n"};
  for (int round = 0; round < 200; ++round) {
    std::vector<int64_t> ends;
    int64_t end = 0;
    int num_rows = 1 + static_cast<int>(random() % 300);
    for (int i = 0; i < num_rows; ++i) ends.push_back(end += 1 + random() % 120);
    const int64_t max_rows = 1 + random() % 50;
    const int64_t max_bytes = 1 + random() % 2000;
    auto size = [&](size_t begin, size_t count) {
      int64_t start = begin == 0 ? 0 : ends[begin - 1];
      return static_cast<int64_t>(csv.prefix.size() + csv.suffix.size() + count - 1) +
             ends[begin + count - 1] - start;
    };
    size_t begin = 0;
    while (begin < ends.size()) {
      size_t count = RowsThatFit(ends, begin, csv, max_rows, max_bytes);
      ASSERT_GE(count, 1u);
      ASSERT_LE(static_cast<int64_t>(count), max_rows);
      if (count > 1) ASSERT_LE(size(begin, count), max_bytes);
      // One more row would break a limit.
      if (begin + count < ends.size() && static_cast<int64_t>(count) < max_rows) {
        ASSERT_GT(size(begin, count + 1), max_bytes);
      }
      begin += count;
    }
  }
}

TEST(PendingRowsTest, JsonArrayJsonLinesAndCsvBodies) {
  auto json = PendingRows::Make(BodyFormat::kJson, TestSchema()).ValueOrDie();
  ASSERT_TRUE(json->Add(Rows(1, 2)).ok());
  ASSERT_TRUE(json->Add(Rows(3, 1)).ok());
  auto request = json->Next(0, 2, 1 << 20).ValueOrDie();
  EXPECT_EQ(request.body, R"([{"id":1,"name":"a,b"},{"id":2,"name":"n2"}])");
  EXPECT_EQ(request.num_rows, 2u);
  EXPECT_TRUE(request.full);
  json->Drop(2);
  request = json->Next(0, 2, 1 << 20).ValueOrDie();
  EXPECT_EQ(request.body, R"([{"id":3,"name":"n3"}])");
  EXPECT_FALSE(request.full);
  EXPECT_EQ(json->RowRecord(0), R"({"id":3,"name":"n3"})");

  auto jsonl = PendingRows::Make(BodyFormat::kJsonl, TestSchema()).ValueOrDie();
  ASSERT_TRUE(jsonl->Add(Rows(2, 2)).ok());
  EXPECT_EQ(jsonl->Next(0, 10, 1 << 20).ValueOrDie().body,
            "{\"id\":2,\"name\":\"n2\"}\n{\"id\":3,\"name\":\"n3\"}\n");

  auto csv = PendingRows::Make(BodyFormat::kCsv, TestSchema()).ValueOrDie();
  ASSERT_TRUE(csv->Add(Rows(1, 3)).ok());
  request = csv->Next(0, 10, 1 << 20).ValueOrDie();
  EXPECT_EQ(request.body, "id,name\n1,\"a,b\"\n2,n2\n3,n3\n");
}

TEST(PendingRowsTest, BytesLimitHoldsForEveryRequest) {
  auto pending = PendingRows::Make(BodyFormat::kJson, TestSchema()).ValueOrDie();
  ASSERT_TRUE(pending->Add(Rows(100, 1000)).ok());
  size_t rows = 0;
  while (pending->num_rows() > 0) {
    auto request = pending->Next(0, 500, 200).ValueOrDie();
    EXPECT_LE(request.body.size(), 200u);
    EXPECT_GT(request.num_rows, 1u);
    rows += request.num_rows;
    pending->Drop(request.num_rows);
  }
  EXPECT_EQ(rows, 1000u);
}

TEST(PendingRowsTest, RequestsFromAnOffsetEqualThoseAfterDropping) {
  for (BodyFormat format : {BodyFormat::kJson, BodyFormat::kCsv, BodyFormat::kArrow}) {
    auto ahead = PendingRows::Make(format, TestSchema()).ValueOrDie();
    auto dropped = PendingRows::Make(format, TestSchema()).ValueOrDie();
    for (auto* pending : {ahead.get(), dropped.get()}) {
      ASSERT_TRUE(pending->Add(Rows(0, 300)).ok());
      ASSERT_TRUE(pending->Add(Rows(300, 300)).ok());
    }
    size_t begin = 0;
    while (begin < ahead->num_rows()) {
      auto request = ahead->Next(begin, 250, 1 << 20).ValueOrDie();
      auto expected = dropped->Next(0, 250, 1 << 20).ValueOrDie();
      EXPECT_EQ(request.begin, begin);
      EXPECT_EQ(request.num_rows, expected.num_rows);
      EXPECT_EQ(request.body, expected.body);
      EXPECT_EQ(request.full, expected.full);
      EXPECT_EQ(ahead->RowRecord(begin), dropped->RowRecord(0));
      dropped->Drop(expected.num_rows);
      begin += request.num_rows;
    }
    EXPECT_EQ(begin, 600u);
  }
}

/// The rows of an Arrow IPC stream.
std::shared_ptr<arrow::Table> ReadArrow(const std::string& body) {
  auto input = std::make_shared<arrow::io::BufferReader>(arrow::Buffer::FromString(body));
  auto reader = arrow::ipc::RecordBatchStreamReader::Open(input).ValueOrDie();
  return reader->ToTable().ValueOrDie();
}

TEST(PendingRowsTest, ArrowBodiesSpanBatchesAndShrinkToTheBytesLimit) {
  auto pending = PendingRows::Make(BodyFormat::kArrow, TestSchema()).ValueOrDie();
  ASSERT_TRUE(pending->Add(Rows(0, 300)).ok());
  ASSERT_TRUE(pending->Add(Rows(300, 300)).ok());
  auto request = pending->Next(0, 500, 1 << 20).ValueOrDie();
  EXPECT_EQ(request.num_rows, 500u);
  auto table = ReadArrow(request.body);
  ASSERT_EQ(table->num_rows(), 500);
  auto expected = arrow::Table::FromRecordBatches({Rows(0, 500)}).ValueOrDie();
  EXPECT_TRUE(table->CombineChunks().ValueOrDie()->Equals(*expected->CombineChunks().ValueOrDie()));

  const int64_t limit = static_cast<int64_t>(request.body.size() / 3);
  int64_t delivered = 0;
  while (pending->num_rows() > 0) {
    request = pending->Next(0, 500, limit).ValueOrDie();
    EXPECT_LE(static_cast<int64_t>(request.body.size()), limit);
    auto part = ReadArrow(request.body);
    ASSERT_EQ(part->num_rows(), static_cast<int64_t>(request.num_rows));
    auto first = std::static_pointer_cast<arrow::Int64Array>(part->column(0)->chunk(0));
    EXPECT_EQ(first->Value(0), delivered);
    delivered += part->num_rows();
    pending->Drop(request.num_rows);
  }
  EXPECT_EQ(delivered, 600);
}

}  // namespace
}  // namespace sluice::connectors::http
