// The duckdb sink against a real DuckDB database file: bulk inserts and upserts, rows the
// database refuses, transactions per batch and per checkpoint, retention.

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "sluice/connectors/duckdb_store/duckdb_dialect.h"
#include "sluice/connectors/duckdb_store/store_database.h"
#include "sluice/duckdb/connection.h"
#include "sluice/exec/dead_letter.h"
#include "sluice/testing/connector_from_yaml.h"

namespace sluice::connectors {
namespace {

/// A fresh folder per test, removed afterwards.
class DuckDbSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> next{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-duckdb-sink-" + std::to_string(getpid()) + "-" + std::to_string(next++));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "store.duckdb").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<exec::Sink> MakeSink(const std::string& options, bool checkpoints = false,
                                       std::shared_ptr<arrow::Schema> schema = nullptr) {
    exec::ConnectorContext context{"test", "store"};
    context.dead_letters = &dead_letters_;
    context.checkpoints = checkpoints;
    context.input_schema = std::move(schema);
    auto sink =
        testing::SinkFromYaml("duckdb", "{path: '" + path_ + "', " + options + "}", context);
    EXPECT_TRUE(sink.ok()) << sink.status().ToString();
    return sink.ok() ? std::move(*sink) : nullptr;
  }

  /// The rows of `sql` over the database (opened after the sink closed it).
  std::string Rows(const std::string& sql) {
    auto database = duckdb_store::OpenStore(path_, /*read_only=*/true);
    EXPECT_TRUE(database.ok()) << database.status().ToString();
    auto connection = duckdb::Connection::Open(*database);
    auto table = (*connection)->Query(sql);
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    if (!table.ok()) return "";
    std::string text;
    auto batch = (*table)->CombineChunksToBatch();
    for (int64_t row = 0; row < (*batch)->num_rows(); ++row) {
      text += exec::RowToJson(**batch, row) + "\n";
    }
    return text;
  }

  std::filesystem::path dir_;
  std::string path_;
  exec::DeadLetterQueue dead_letters_;
};

std::shared_ptr<arrow::Schema> KeyValueSchema() {
  return arrow::schema({arrow::field("k", arrow::int64()), arrow::field("v", arrow::utf8())});
}

std::shared_ptr<arrow::RecordBatch> KeyValues(const std::string& rows) {
  auto schema = KeyValueSchema();
  auto struct_array = arrow::json::ArrayFromJSONString(arrow::struct_(schema->fields()), rows);
  EXPECT_TRUE(struct_array.ok()) << struct_array.status().ToString();
  auto batch = arrow::RecordBatch::FromStructArray(*struct_array);
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  return *batch;
}

exec::InputDone Done() { return exec::InputDone{}; }

TEST(DuckDbDialect, MapsArrowTypesToDuckDbTypes) {
  duckdb_store::DuckDbDialect dialect;
  auto type = [&](const std::shared_ptr<arrow::DataType>& arrow_type) {
    auto column = dialect.ColumnType(*arrow_type);
    return column.ok() ? *column : "error: " + column.status().message();
  };
  EXPECT_EQ(type(arrow::int64()), "BIGINT");
  EXPECT_EQ(type(arrow::uint8()), "UTINYINT");
  EXPECT_EQ(type(arrow::float64()), "DOUBLE");
  EXPECT_EQ(type(arrow::large_utf8()), "VARCHAR");
  EXPECT_EQ(type(arrow::binary()), "BLOB");
  EXPECT_EQ(type(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")), "TIMESTAMPTZ");
  EXPECT_EQ(type(arrow::timestamp(arrow::TimeUnit::MILLI)), "TIMESTAMP_MS");
  EXPECT_EQ(type(arrow::timestamp(arrow::TimeUnit::NANO, "UTC")), "TIMESTAMP_NS");
  EXPECT_EQ(type(arrow::decimal128(12, 3)), "DECIMAL(12, 3)");
  EXPECT_EQ(type(arrow::list(arrow::int32())), "INTEGER[]");
  EXPECT_EQ(type(arrow::struct_({arrow::field("a b", arrow::boolean())})),
            "STRUCT(\"a b\" BOOLEAN)");
  EXPECT_EQ(type(arrow::map(arrow::utf8(), arrow::float32())), "MAP(VARCHAR, FLOAT)");
  EXPECT_EQ(type(arrow::dictionary(arrow::int32(), arrow::utf8())), "VARCHAR");
  EXPECT_NE(type(arrow::null()).find("error"), std::string::npos);
}

TEST_F(DuckDbSinkTest, CreatesTheTableAndAppendsEachBatchInATransaction) {
  auto sink = MakeSink("table: kv, create_table: true", false, KeyValueSchema());
  ASSERT_TRUE(sink->Open(KeyValueSchema()).ok());
  ASSERT_TRUE(sink->Write(KeyValues(R"([{"k": 1, "v": "a"}, {"k": 2, "v": null}])")).ok());
  ASSERT_TRUE(sink->Commit(Done()).ok());
  ASSERT_TRUE(sink->Write(KeyValues(R"([{"k": 3, "v": "ünï"}])")).ok());
  ASSERT_TRUE(sink->Commit(Done()).ok());
  ASSERT_TRUE(sink->Close().ok());
  EXPECT_EQ(Rows("SELECT * FROM kv ORDER BY k"),
            "{\"k\":1,\"v\":\"a\"}\n{\"k\":2,\"v\":null}\n{\"k\":3,\"v\":\"ünï\"}\n");
  EXPECT_EQ(dead_letters_.total(), 0);
}

TEST_F(DuckDbSinkTest, AnAbortedRunLeavesOnlyCommittedBatches) {
  auto sink = MakeSink("table: kv, create_table: true");
  ASSERT_TRUE(sink->Open(KeyValueSchema()).ok());
  ASSERT_TRUE(sink->Write(KeyValues(R"([{"k": 1, "v": "a"}])")).ok());
  ASSERT_TRUE(sink->Commit(Done()).ok());
  ASSERT_TRUE(sink->Write(KeyValues(R"([{"k": 2, "v": "b"}])")).ok());
  sink->Abort();
  EXPECT_EQ(Rows("SELECT k FROM kv"), "{\"k\":1}\n");
}

TEST_F(DuckDbSinkTest, RefusedRowsBecomeDeadLettersAndTheRestIsWritten) {
  {
    auto database = duckdb_store::OpenStore(path_, false);
    ASSERT_TRUE(database.ok());
    auto connection = duckdb::Connection::Open(*database);
    ASSERT_TRUE((*connection)
                    ->Execute("CREATE TABLE kv (k BIGINT PRIMARY KEY, v VARCHAR NOT NULL "
                              "CHECK (v <> 'bad'))")
                    .ok());
  }
  auto sink = MakeSink("table: kv");
  ASSERT_TRUE(sink->Open(KeyValueSchema()).ok());
  // A batch written before the bad one, in the same transaction, must survive its isolation.
  ASSERT_TRUE(sink->Write(KeyValues(R"([{"k": 100, "v": "first"}])")).ok());
  ASSERT_TRUE(sink
                  ->Write(KeyValues(R"([{"k": 1, "v": "a"}, {"k": 2, "v": null},
                                        {"k": 3, "v": "c"}, {"k": 1, "v": "dup"},
                                        {"k": 4, "v": "bad"}, {"k": 100, "v": "again"},
                                        {"k": 5, "v": "e"}])"))
                  .ok());
  ASSERT_TRUE(sink->Commit(Done()).ok());
  ASSERT_TRUE(sink->Close().ok());
  EXPECT_EQ(Rows("SELECT k, v FROM kv ORDER BY k"),
            "{\"k\":1,\"v\":\"a\"}\n{\"k\":3,\"v\":\"c\"}\n{\"k\":5,\"v\":\"e\"}\n"
            "{\"k\":100,\"v\":\"first\"}\n");
  auto letters = dead_letters_.Drain();
  ASSERT_EQ(letters.size(), 4u);
  EXPECT_EQ(letters[0].record, "{\"k\":2,\"v\":null}");
  EXPECT_NE(letters[0].reason.find("NOT NULL constraint failed"), std::string::npos)
      << letters[0].reason;
  EXPECT_EQ(letters[1].record, "{\"k\":1,\"v\":\"dup\"}");
  // "Duplicate key" against the table, "duplicate key" within one statement.
  EXPECT_NE(letters[1].reason.find("uplicate key"), std::string::npos) << letters[1].reason;
  EXPECT_NE(letters[2].reason.find("CHECK constraint failed"), std::string::npos)
      << letters[2].reason;
  EXPECT_EQ(letters[3].record, "{\"k\":100,\"v\":\"again\"}");
  EXPECT_EQ(letters[0].stage, "sink:store");
}

TEST_F(DuckDbSinkTest, UpsertsKeepTheLastRowOfEachKeyWhateverTheBatchCuts) {
  // Random updates of 50 keys, written in batches of 1, 7 and 1000 rows: the table must be the
  // last value of each key, as a batch GROUP BY over the input says.
  std::mt19937 random(7);
  std::string json = "[";
  std::map<int64_t, std::string> last;
  for (int i = 0; i < 3000; ++i) {
    int64_t key = random() % 50;
    std::string value = "v" + std::to_string(i);
    last[key] = value;
    json += (i ? "," : "") + std::string("{\"k\":") + std::to_string(key) + ",\"v\":\"" + value +
            "\"}";
  }
  auto all = KeyValues(json + "]");
  std::string expected;
  for (const auto& [key, value] : last) {
    expected += "{\"k\":" + std::to_string(key) + ",\"v\":\"" + value + "\"}\n";
  }
  for (int64_t cut : {1, 7, 1000}) {
    std::filesystem::remove(path_);
    auto sink = MakeSink("table: kv, create_table: true, mode: upsert, key: [k]");
    ASSERT_TRUE(sink->Open(KeyValueSchema()).ok());
    for (int64_t offset = 0; offset < all->num_rows(); offset += cut) {
      ASSERT_TRUE(sink->Write(all->Slice(offset, cut)).ok());
      // Several batches per transaction, as when one input batch makes several outputs.
      if ((offset / cut) % 3 == 2) ASSERT_TRUE(sink->Commit(Done()).ok());
    }
    ASSERT_TRUE(sink->Commit(Done()).ok());
    ASSERT_TRUE(sink->Close().ok());
    EXPECT_EQ(Rows("SELECT k, v FROM kv ORDER BY k"), expected) << "batches of " << cut;
  }
}

TEST_F(DuckDbSinkTest, ACheckpointCommitsItsRowsWithItsId) {
  auto sink = MakeSink("table: kv, create_table: true", /*checkpoints=*/true);
  EXPECT_EQ(sink->checkpoint_role(), exec::CheckpointRole::kDeciding);
  ASSERT_TRUE(sink->Open(KeyValueSchema()).ok());
  EXPECT_EQ(*sink->LastCommittedCheckpoint(), -1);
  ASSERT_TRUE(sink->Write(KeyValues(R"([{"k": 1, "v": "a"}])")).ok());
  ASSERT_TRUE(sink->Commit(Done()).ok());  // no transaction boundary with checkpoints
  ASSERT_TRUE(sink->PrepareCheckpoint(1).ok());
  // Written while checkpoint 1 is saved: belongs to checkpoint 2.
  ASSERT_TRUE(sink->Write(KeyValues(R"([{"k": 2, "v": "b"}])")).ok());
  ASSERT_TRUE(sink->CommitCheckpoint(1, "{}").ok());
  EXPECT_EQ(*sink->LastCommittedCheckpoint(), 1);
  ASSERT_TRUE(sink->Write(KeyValues(R"([{"k": 3, "v": "c"}])")).ok());
  ASSERT_TRUE(sink->PrepareCheckpoint(2).ok());
  // A crash now: checkpoint 2's transaction was never committed.
  sink->Abort();
  EXPECT_EQ(Rows("SELECT k FROM kv ORDER BY k"), "{\"k\":1}\n");
  EXPECT_EQ(Rows("SELECT pipeline, sink, checkpoint FROM sluice_commits"),
            "{\"pipeline\":\"test\",\"sink\":\"store\",\"checkpoint\":1}\n");

  // Recovery: the restarted sink says checkpoint 1 was the last committed; the pipeline then
  // replays from it.
  auto restarted = MakeSink("table: kv, create_table: true", /*checkpoints=*/true);
  ASSERT_TRUE(restarted->Open(KeyValueSchema()).ok());
  EXPECT_EQ(*restarted->LastCommittedCheckpoint(), 1);
  ASSERT_TRUE(restarted->AbortCheckpoint(2, "{}").ok());
  ASSERT_TRUE(restarted->CommitCheckpoint(1, "{}").ok());
  ASSERT_TRUE(restarted->Write(KeyValues(R"([{"k": 2, "v": "b"}, {"k": 3, "v": "c"}])")).ok());
  ASSERT_TRUE(restarted->PrepareCheckpoint(2).ok());
  ASSERT_TRUE(restarted->CommitCheckpoint(2, "{}").ok());
  ASSERT_TRUE(restarted->Close().ok());
  EXPECT_EQ(Rows("SELECT k FROM kv ORDER BY k"), "{\"k\":1}\n{\"k\":2}\n{\"k\":3}\n");
  EXPECT_EQ(Rows("SELECT checkpoint FROM sluice_commits"), "{\"checkpoint\":2}\n");
}

TEST_F(DuckDbSinkTest, RetentionDeletesRowsOlderThanTheLatestEventTimeMinusTheWindow) {
  auto schema = arrow::schema({arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MILLI, "UTC")),
                               arrow::field("n", arrow::int64())});
  auto batch = [&](const std::string& rows) {
    auto array = arrow::json::ArrayFromJSONString(arrow::struct_(schema->fields()), rows);
    return *arrow::RecordBatch::FromStructArray(*array);
  };
  const int64_t day = 86400000;
  auto sink = MakeSink("table: events, create_table: true, retention: 2d, time_field: ts", false,
                       schema);
  ASSERT_TRUE(sink->Open(schema).ok());
  ASSERT_TRUE(sink->Write(batch("[{\"ts\": 0, \"n\": 0}, {\"ts\": " + std::to_string(day) +
                                ", \"n\": 1}]"))
                  .ok());
  ASSERT_TRUE(sink->Commit(Done()).ok());
  ASSERT_TRUE(sink->Write(batch("[{\"ts\": " + std::to_string(3 * day) + ", \"n\": 3}]")).ok());
  ASSERT_TRUE(sink->Commit(Done()).ok());
  ASSERT_TRUE(sink->Close().ok());
  // Latest 3d: rows before 1d go.
  EXPECT_EQ(Rows("SELECT n FROM events ORDER BY n"), "{\"n\":1}\n{\"n\":3}\n");
}

TEST_F(DuckDbSinkTest, ConfigurationErrorsNameTheOption) {
  exec::ConnectorContext context{"test", "store"};
  context.input_schema = KeyValueSchema();
  auto make = [&](const std::string& options) {
    auto sink = testing::SinkFromYaml("duckdb", "{path: '" + path_ + "', " + options + "}",
                                      context);
    return sink.ok() ? std::string("ok") : sink.status().message();
  };
  EXPECT_NE(make("table: kv, retention: 7d").find("retention needs time_field"),
            std::string::npos);
  EXPECT_NE(make("table: kv, retention: 7d, time_field: k").find("must be a timestamp"),
            std::string::npos);
  EXPECT_NE(make("table: kv, mode: upsert").find("needs a key"), std::string::npos);
  EXPECT_NE(make("table: kv, key: [x]").find("key field 'x' is not in the stream"),
            std::string::npos);
}

TEST_F(DuckDbSinkTest, AMissingTableOrColumnIsAClearError) {
  auto sink = MakeSink("table: nowhere");
  Status opened = sink->Open(KeyValueSchema());
  EXPECT_NE(opened.message().find("table 'nowhere' does not exist"), std::string::npos)
      << opened.ToString();
  sink->Abort();
  {
    auto database = duckdb_store::OpenStore(path_, false);
    auto connection = duckdb::Connection::Open(*database);
    ASSERT_TRUE((*connection)->Execute("CREATE TABLE kv (k BIGINT)").ok());
  }
  auto narrow = MakeSink("table: kv");
  opened = narrow->Open(KeyValueSchema());
  EXPECT_NE(opened.message().find("has no column v"), std::string::npos) << opened.ToString();
  narrow->Abort();
  auto upsert = MakeSink("table: kv, mode: upsert, key: [k]");
  opened = upsert->Open(arrow::schema({arrow::field("k", arrow::int64())}));
  EXPECT_NE(opened.message().find("needs a primary key or unique constraint"), std::string::npos)
      << opened.ToString();
  upsert->Abort();
}

}  // namespace
}  // namespace sluice::connectors
