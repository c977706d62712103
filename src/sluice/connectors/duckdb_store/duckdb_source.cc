#include "sluice/connectors/duckdb_store/duckdb_source.h"

#include <arrow/record_batch.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/config/location.h"
#include "sluice/connectors/duckdb_store/store_database.h"
#include "sluice/duckdb/connection.h"
#include "sluice/duckdb/query_stream.h"
#include "sluice/exec/source_positions.h"

namespace sluice::connectors {
namespace {

/// The `duckdb` source. Built (database opened, query bound) by its factory on the main
/// thread; Run() then reads on the source's thread, the only one that uses the connection.
///
/// Its position is the number of rows pushed. A restored source runs the query again and skips
/// that many rows, which resumes exactly where the checkpoint was taken when the query's order
/// is deterministic (an ORDER BY on a unique key); DuckDB does not promise an order otherwise.
class DuckDbSource : public exec::Source {
 public:
  DuckDbSource(std::shared_ptr<duckdb::Database> database,
               std::unique_ptr<duckdb::Connection> connection, std::string query,
               std::shared_ptr<arrow::Schema> schema, exec::BatchingOptions batching,
               bool keep_positions)
      : database_(std::move(database)),
        connection_(std::move(connection)),
        query_(std::move(query)),
        schema_(std::move(schema)),
        batching_(batching),
        keep_positions_(keep_positions) {}

  std::shared_ptr<arrow::Schema> schema() const override { return schema_; }
  bool bounded() const override { return true; }

  Status Run(exec::SourceOutput& out) override {
    SLUICE_ASSIGN_OR_RAISE(auto stream, connection_->Stream(query_));
    if (!stream->schema()->Equals(*schema_)) {
      return Status::UnknownError("DuckDB: the query's result has the schema ",
                                  stream->schema()->ToString(), " instead of ",
                                  schema_->ToString());
    }
    int64_t to_skip = start_row_;
    int64_t rows = start_row_;
    std::vector<std::shared_ptr<arrow::RecordBatch>> pending;
    int64_t pending_rows = 0;
    bool end = false;
    while (!out.stopping()) {
      if (!end && pending_rows < batching_.batch_size) {
        SLUICE_ASSIGN_OR_RAISE(auto chunk, stream->Next());
        if (chunk == nullptr) {
          end = true;
        } else if (to_skip >= chunk->num_rows()) {
          to_skip -= chunk->num_rows();
        } else {
          if (to_skip > 0) chunk = chunk->Slice(to_skip);
          to_skip = 0;
          pending_rows += chunk->num_rows();
          pending.push_back(std::move(chunk));
        }
        continue;
      }
      if (pending_rows == 0) break;
      // A batch of batch_size rows (fewer at the end) from the pieces DuckDB produced.
      SLUICE_ASSIGN_OR_RAISE(auto combined, arrow::ConcatenateRecordBatches(pending));
      const int64_t take = std::min(batching_.batch_size, pending_rows);
      pending.clear();
      if (take < combined->num_rows()) pending.push_back(combined->Slice(take));
      pending_rows -= take;
      rows += take;
      if (keep_positions_) positions_.Add(pushed_ + 1, rows);
      Status pushed = out.Push(combined->Slice(0, take));
      if (pushed.IsCancelled()) return Status::OK();
      SLUICE_RETURN_NOT_OK(pushed);
      ++pushed_;
    }
    return Status::OK();
  }

  bool checkpointable() const override { return true; }

  Result<std::string> PositionAfter(int64_t batches) override {
    if (!keep_positions_) {
      return Status::Invalid("the duckdb source keeps positions only with checkpoint:");
    }
    for (auto& [pushed, rows] : positions_.TakeThrough(batches)) answered_ = {pushed, rows};
    if (answered_.first != batches) {
      return Status::Invalid("the duckdb source has no position after batch ", batches,
                             " (the last one recorded is after batch ", answered_.first, ")");
    }
    return fmt::format(R"({{"rows":{}}})", answered_.second);
  }

  Status RestorePosition(const std::string& position) override {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    int64_t rows = 0;
    if (parser.parse(position).get(root) != simdjson::SUCCESS ||
        root["rows"].get_int64().get(rows) != simdjson::SUCCESS || rows < 0) {
      return Status::Invalid("the duckdb source's position in the checkpoint is not valid: ",
                             position);
    }
    start_row_ = rows;
    answered_ = {0, rows};
    return Status::OK();
  }

 private:
  std::shared_ptr<duckdb::Database> database_;
  std::unique_ptr<duckdb::Connection> connection_;
  const std::string query_;
  const std::shared_ptr<arrow::Schema> schema_;
  const exec::BatchingOptions batching_;
  const bool keep_positions_;
  /// Rows to skip: where a restored position left off.
  int64_t start_row_ = 0;
  /// Batches pushed so far (source thread).
  int64_t pushed_ = 0;
  /// Rows pushed after each push.
  exec::SourcePositions<int64_t> positions_;
  /// The last position PositionAfter() found, as (batches, rows) (pipeline thread).
  std::pair<int64_t, int64_t> answered_{0, 0};
};

Result<std::unique_ptr<exec::Source>> MakeDuckDbSource(const exec::ConnectorContext& context,
                                                       const config::Options& options) {
  const std::string path = options.GetString("path");
  const std::string query = options.GetString("query");
  auto database = duckdb_store::OpenStore(path, /*read_only=*/true);
  if (!database.ok()) {
    return config::ConfigError(options.LocationOf("path"), database.status().message());
  }
  SLUICE_ASSIGN_OR_RAISE(auto connection, duckdb::Connection::Open(*database));
  auto statement = connection->Prepare(query);
  if (!statement.ok()) {
    return config::ConfigError(options.LocationOf("query"), statement.status().message());
  }
  if (!(*statement)->is_query()) {
    return config::ConfigError(options.LocationOf("query"),
                               "the duckdb source runs queries only (SELECT, WITH, FROM ...), "
                               "not statements that change the database or write files");
  }
  auto schema = (*statement)->schema();
  statement->reset();
  return std::make_unique<DuckDbSource>(std::move(*database), std::move(connection), query,
                                        std::move(schema),
                                        exec::BatchingOptions::FromOptions(options),
                                        context.checkpoints);
}

config::PluginSpec DuckDbSourceSpec() {
  using config::OptionSpec;
  using config::OptionType;
  config::PluginSpec spec;
  spec.kind = config::PluginKind::kSource;
  spec.name = "duckdb";
  spec.doc =
      "Runs a bounded DuckDB query and streams its result in batches of batch_size, holding "
      "only a few thousand rows at a time: over a DuckDB database file (opened read only), or "
      "with path \":memory:\" over Parquet, CSV or JSON files through read_parquet, read_csv, "
      "read_json. With checkpoint: its position is the rows read so far, which resumes "
      "exactly only when the query has a deterministic order (ORDER BY a unique key).";
  OptionSpec path = config::MakeOption(
      "path", OptionType::kString,
      "The DuckDB database file to query (read only; it must exist), or \":memory:\" to query "
      "files only.",
      ":memory:");
  OptionSpec query = config::MakeOption(
      "query", OptionType::kString,
      "The query whose result is the stream, e.g. SELECT * FROM quotes ORDER BY ts.");
  query.required = true;
  spec.options = {path, query};
  spec.example =
      "sources:\n"
      "  history:\n"
      "    connector: duckdb\n"
      "    path: store.duckdb\n"
      "    query: SELECT * FROM quotes WHERE ts >= DATE '2024-01-01' ORDER BY ts\n"
      "    event_time: ts\n";
  return spec;
}

}  // namespace

void RegisterDuckDbSource(exec::Registry* registry) {
  registry->AddSource(DuckDbSourceSpec(), MakeDuckDbSource);
}

}  // namespace sluice::connectors
