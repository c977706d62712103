#include "sluice/exec/dead_letter.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

namespace sluice::exec {
namespace {

TEST(DeadLetterTest, BatchHasOneRowPerLetter) {
  std::vector<DeadLetter> letters = {
      {"invalid JSON", "source", "quotes", "a.jsonl:line 3", "{"},
      {"field 'x': cannot convert", "derive", "quotes", "row 9", "{\"x\":1}"}};
  auto batch = DeadLettersToBatch(letters);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_TRUE((*batch)->schema()->Equals(*DeadLetterSchema()));
  ASSERT_EQ((*batch)->num_rows(), 2);
  auto origin = std::static_pointer_cast<arrow::StringArray>((*batch)->GetColumnByName("origin"));
  EXPECT_EQ(origin->GetView(0), "a.jsonl:line 3");
  auto stage = std::static_pointer_cast<arrow::StringArray>((*batch)->GetColumnByName("stage"));
  EXPECT_EQ(stage->GetView(1), "derive");
  EXPECT_EQ((*batch)->GetColumnByName("rejected_at")->null_count(), 0);
}

TEST(DeadLetterTest, RowToJsonRendersEveryField) {
  arrow::Int64Builder ids;
  arrow::StringBuilder names;
  ASSERT_TRUE(ids.AppendValues({7, 8}).ok());
  ASSERT_TRUE(names.Append("a \"quoted\" name").ok());
  ASSERT_TRUE(names.AppendNull().ok());
  auto schema =
      arrow::schema({arrow::field("id", arrow::int64()), arrow::field("name", arrow::utf8())});
  auto batch = arrow::RecordBatch::Make(schema, 2, {*ids.Finish(), *names.Finish()});
  EXPECT_EQ(RowToJson(*batch, 0), R"({"id":7,"name":"a \"quoted\" name"})");
  EXPECT_EQ(RowToJson(*batch, 1), R"({"id":8,"name":null})");
}

/// A dead letter's fields always read as UTF-8: its text fields get U+FFFD for bad bytes, and
/// a raw record that is not UTF-8 is escaped so that its bytes can be recovered exactly.
TEST(DeadLetterTest, EveryFieldIsValidUtf8AndTheRecordLosesNothing) {
  std::vector<DeadLetter> letters = {
      {"invalid JSON near 'caf\xE9'", "source", "in", "bad\xFF.jsonl:line 2",
       "{\"name\":\"caf\xE9\",\"path\":\"C:\\\\x\"}"},
      {"field 'x': cannot convert", "derive", "in", "row 1", "{\"x\":\"\xE2\x82\xAC\"}"}};
  auto batch = DeadLettersToBatch(letters);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  auto column = [&](const char* name) {
    return std::static_pointer_cast<arrow::StringArray>((*batch)->GetColumnByName(name));
  };
  EXPECT_TRUE((*batch)->ValidateFull().ok());  // which checks that strings are UTF-8
  EXPECT_EQ(column("origin")->GetView(0), "bad\xEF\xBF\xBD.jsonl:line 2");
  EXPECT_EQ(column("record")->GetView(0), R"({"name":"caf\xe9","path":"C:\\\\x"})");
  EXPECT_EQ(column("reason")->GetView(0),
            "invalid JSON near 'caf\xEF\xBF\xBD' (the record is not valid UTF-8: each byte that is "
            "not is written \\xNN, and each backslash \\\\)");
  // Valid UTF-8 is left as it is, backslashes included.
  EXPECT_EQ(column("record")->GetView(1), "{\"x\":\"\xE2\x82\xAC\"}");
  EXPECT_EQ(column("reason")->GetView(1), "field 'x': cannot convert");
}

TEST(DeadLetterTest, RowToJsonKeepsTheBytesOfInvalidStrings) {
  arrow::StringBuilder names;
  ASSERT_TRUE(names.Append("caf\xE9").ok());
  auto schema = arrow::schema({arrow::field("name", arrow::utf8())});
  auto batch = arrow::RecordBatch::Make(schema, 1, {*names.Finish()});
  EXPECT_EQ(RowToJson(*batch, 0), "{\"name\":\"caf\xE9\"}");
}

TEST(DeadLetterTest, QueueDrainsAndCounts) {
  DeadLetterQueue queue;
  queue.Add({"r", "s", "src", "o", "x"});
  queue.Add({"r", "s", "src", "o", "y"});
  EXPECT_EQ(queue.Drain().size(), 2u);
  EXPECT_TRUE(queue.Drain().empty());
  queue.Add({"r", "s", "src", "o", "z"});
  EXPECT_EQ(queue.total(), 3);
}

}  // namespace
}  // namespace sluice::exec
