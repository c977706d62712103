// The duckdb source and `sluice query` against real DuckDB database files: streamed results in
// batches of batch_size, positions that resume exactly, and clear errors.

#include <arrow/api.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "sluice/cli/query_command.h"
#include "sluice/connectors/duckdb_store/store_database.h"
#include "sluice/duckdb/connection.h"
#include "sluice/duckdb/query_stream.h"
#include "sluice/testing/collecting_output.h"
#include "sluice/testing/connector_from_yaml.h"
#include "sluice/testing/position_recording_output.h"

namespace sluice::connectors {
namespace {

class DuckDbSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> next{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-duckdb-source-" + std::to_string(getpid()) + "-" + std::to_string(next++));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "store.duckdb").string();
    auto database = duckdb_store::OpenStore(path_, false);
    ASSERT_TRUE(database.ok()) << database.status().ToString();
    auto connection = duckdb::Connection::Open(*database);
    ASSERT_TRUE((*connection)
                    ->Execute("CREATE TABLE numbers AS SELECT range AS n, 'row ' || range AS "
                              "label, TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(range) "
                              "AS ts FROM range(10000)")
                    .ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<std::unique_ptr<exec::Source>> MakeSource(const std::string& options,
                                                   bool checkpoints = false) {
    exec::ConnectorContext context{"test", "history"};
    context.checkpoints = checkpoints;
    return testing::SourceFromYaml("duckdb", "{path: '" + path_ + "', " + options + "}", context);
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(DuckDbSourceTest, StreamsTheResultInBatchesOfBatchSize) {
  for (int64_t batch_size : {1, 7, 1000, 4096, 65536}) {
    if (batch_size == 1) continue;  // 10,000 single-row batches are slow under sanitizers
    auto source = MakeSource("query: SELECT * FROM numbers ORDER BY n, batch_size: " +
                             std::to_string(batch_size));
    ASSERT_TRUE(source.ok()) << source.status().ToString();
    EXPECT_TRUE((*source)->bounded());
    EXPECT_EQ((*source)->schema()->ToString(),
              "n: int64\nlabel: string\nts: timestamp[us, tz=UTC]");
    testing::CollectingOutput out;
    ASSERT_TRUE((*source)->Run(out).ok());
    EXPECT_EQ(out.num_rows(), 10000);
    for (size_t i = 0; i + 1 < out.batches().size(); ++i) {
      EXPECT_EQ(out.batches()[i]->num_rows(), batch_size) << i;
    }
    auto table = out.Table();
    auto n = std::static_pointer_cast<arrow::Int64Array>(
        table->GetColumnByName("n")->chunk(0));
    EXPECT_EQ(n->Value(0), 0);
  }
}

TEST_F(DuckDbSourceTest, ResumesAfterAnyBatchWithTheRowsThatFollow) {
  testing::ExpectSourceResumesExactly(
      [&] { return MakeSource("query: 'SELECT n, label FROM numbers ORDER BY n', batch_size: 900",
                              /*checkpoints=*/true); },
      {0, 1, 3, 11}, testing::ExpectSameRowsAfterCut);
}

TEST_F(DuckDbSourceTest, ReadsFilesThroughAnInMemoryDatabase) {
  const std::string csv = (dir_ / "quotes.csv").string();
  std::ofstream(csv) << "symbol,price\nAAPL,1.5\nMSFT,2.25\n";
  exec::ConnectorContext context{"test", "files"};
  auto source = testing::SourceFromYaml(
      "duckdb", "{query: \"SELECT * FROM read_csv('" + csv + "') ORDER BY symbol\"}", context);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  testing::CollectingOutput out;
  ASSERT_TRUE((*source)->Run(out).ok());
  EXPECT_EQ(out.num_rows(), 2);
}

TEST_F(DuckDbSourceTest, BadQueriesAndMissingFilesAreConfigurationErrors) {
  auto bad = MakeSource("query: SELECT * FROM nowhere");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("test.yaml:1:"), std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("nowhere"), std::string::npos);
  auto write = MakeSource("query: DELETE FROM numbers");
  ASSERT_FALSE(write.ok());
  exec::ConnectorContext context{"test", "history"};
  auto missing = testing::SourceFromYaml(
      "duckdb", "{path: '" + (dir_ / "missing.duckdb").string() + "', query: SELECT 1}", context);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("does not exist"), std::string::npos)
      << missing.status().message();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "missing.duckdb"));
}

TEST_F(DuckDbSourceTest, AQueryStreamHoldsOnlyAPieceAtATime) {
  auto database = duckdb_store::OpenStore(":memory:", true);
  auto connection = duckdb::Connection::Open(*database);
  auto stream = (*connection)->Stream("SELECT range AS n FROM range(1000000)");
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  int64_t rows = 0;
  int64_t largest = 0;
  while (true) {
    auto batch = (*stream)->Next();
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    if (*batch == nullptr) break;
    rows += (*batch)->num_rows();
    largest = std::max(largest, (*batch)->num_rows());
  }
  EXPECT_EQ(rows, 1000000);
  EXPECT_LE(largest, 2048);
  // A failure while the query runs comes from Next(), after the rows before it.
  auto failing = (*connection)->Stream(
      "SELECT CAST(CASE WHEN range < 900000 THEN range::VARCHAR ELSE 'x' END AS INTEGER) "
      "FROM range(1000000)");
  ASSERT_TRUE(failing.ok()) << failing.status().ToString();
  Status status;
  int64_t before_failure = 0;
  while (status.ok()) {
    auto batch = (*failing)->Next();
    status = batch.status();
    if (status.ok() && *batch == nullptr) break;
    if (status.ok()) before_failure += (*batch)->num_rows();
  }
  EXPECT_GT(before_failure, 0);
  EXPECT_NE(status.message().find("Conversion Error"), std::string::npos) << status.ToString();
}

TEST_F(DuckDbSourceTest, QueryCommandPrintsTablesJsonLinesAndCsv) {
  auto run = [&](const std::string& sql, const std::string& format, int* code) {
    std::ostringstream out, err;
    *code = cli::RunQuery({path_, sql, format}, out, err);
    return out.str() + err.str();
  };
  int code = -1;
  EXPECT_EQ(run("SELECT n, label FROM numbers WHERE n IN (3, 10) ORDER BY n", "table", &code),
            " n | label\n---+-------\n 3 | row 3\n10 | row 10\n(2 rows)\n");
  EXPECT_EQ(code, 0);
  EXPECT_EQ(run("SELECT n, NULL AS x FROM numbers WHERE n = 3", "jsonl", &code),
            "{\"n\":3,\"x\":null}\n");
  EXPECT_EQ(run("SELECT 'a,b' AS t, 'say \"hi\"' AS u", "csv", &code),
            "t,u\n\"a,b\",\"say \"\"hi\"\"\"\n");
  EXPECT_EQ(code, 0);
  std::string error = run("SELEC 1", "table", &code);
  EXPECT_EQ(code, 2);
  EXPECT_NE(error.find("syntax error"), std::string::npos) << error;
  error = run("SELECT CAST('x' AS INTEGER) FROM numbers", "jsonl", &code);
  EXPECT_EQ(code, 1) << error;
  EXPECT_NE(error.find("Conversion Error"), std::string::npos) << error;
  error = run("INSERT INTO numbers VALUES (1, 'x', now())", "table", &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(error.find("read-only"), std::string::npos) << error;
  std::ostringstream out, err;
  EXPECT_EQ(cli::RunQuery({(dir_ / "none.duckdb").string(), "SELECT 1", "table"}, out, err), 2);
  EXPECT_NE(err.str().find("does not exist"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "none.duckdb"));
}

}  // namespace
}  // namespace sluice::connectors
