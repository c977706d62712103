#include "sluice/processors/sql.h"

#include <arrow/record_batch.h>
#include <arrow/scalar.h>
#include <arrow/table.h>
#include <arrow/type.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/config/location.h"
#include "sluice/duckdb/connection.h"
#include "sluice/duckdb/database.h"

namespace sluice::processors {
namespace {

/// The name under which each micro-batch is visible to the query.
constexpr const char* kInputTable = "input";

/// The query without trailing blanks and semicolons, which DuckDB accepts but which would break
/// the query when it is wrapped in another.
std::string TrimStatement(std::string_view query) {
  while (!query.empty() && (query.back() == ';' || query.back() == ' ' || query.back() == '\t' ||
                            query.back() == '\n' || query.back() == '\r')) {
    query.remove_suffix(1);
  }
  return std::string(query);
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

/// A DuckDB error message split into what a configuration error shows: the first line, the
/// remaining explanation (e.g. "Candidate bindings: ...") as a hint, and the file position of
/// the caret DuckDB draws under the query, when it can be mapped back.
struct QueryError {
  std::string message;
  std::string hint;
  config::Location where;
};

QueryError DescribeQueryError(const config::LocatedText& query, const config::Location& fallback,
                              std::string_view duckdb_message) {
  constexpr std::string_view kPrefix = "DuckDB: ";
  if (duckdb_message.substr(0, kPrefix.size()) == kPrefix)
    duckdb_message.remove_prefix(kPrefix.size());
  QueryError error;
  error.where = fallback;
  std::vector<std::string_view> lines = SplitLines(duckdb_message);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (i == 0) {
      error.message = std::string(line);
      continue;
    }
    if (line.substr(0, 5) == "LINE ") {
      // "LINE 1: <part of the query>" with a caret line below it.
      const size_t colon = line.find(": ");
      if (colon != std::string_view::npos && i + 1 < lines.size() &&
          line.substr(5, colon - 5) == "1" && query.text.find('\n') == std::string::npos) {
        std::string_view context = line.substr(colon + 2);
        const size_t caret = lines[i + 1].find('^');
        if (caret != std::string_view::npos && caret >= colon + 2) {
          size_t offset = caret - (colon + 2);
          if (context.substr(0, 3) == "...") {
            context.remove_prefix(3);
            offset = offset >= 3 ? offset - 3 : 0;
          }
          if (context.size() >= 3 && context.substr(context.size() - 3) == "...")
            context.remove_suffix(3);
          const size_t found = query.text.find(context);
          if (found != std::string::npos && query.where.known())
            error.where = query.At(found + offset);
        }
      }
      ++i;  // the caret line
      continue;
    }
    if (line.empty()) continue;
    if (!error.hint.empty()) error.hint += "; ";
    error.hint += std::string(line);
  }
  return error;
}

/// Runs one DuckDB query over each micro-batch.
///
/// Owns an in-memory DuckDB database with one thread and a connection to it. The input schema
/// is registered as the table `input` at configuration time and the query prepared against it,
/// so a query that does not fit the data fails before the run with DuckDB's message, and the
/// output schema is known. Each batch is then handed to DuckDB in place (see duckdb/connection.h)
/// and the prepared query re-run: the processor keeps nothing between batches, so aggregations
/// are per micro-batch. Driven by one thread at a time, like every processor.
class SqlProcessor final : public exec::Processor {
 public:
  static Result<std::unique_ptr<exec::Processor>> Make(
      const config::Options& options, const std::shared_ptr<arrow::Schema>& input) {
    const config::LocatedText text = options.GetText("query");
    const config::Location where = options.LocationOf("query");
    const std::string query = TrimStatement(text.text);
    if (query.find_first_not_of(" \t\r\n") == std::string::npos) {
      return config::ConfigError(where, "the sql query is empty",
                                 "e.g. sql: \"SELECT * FROM input WHERE volume > 0\"");
    }

    duckdb::DatabaseOptions database_options;
    database_options.threads = 1;
    SLUICE_ASSIGN_OR_RAISE(auto database, duckdb::Database::Open(":memory:", database_options));
    SLUICE_ASSIGN_OR_RAISE(auto connection, duckdb::Connection::Open(std::move(database)));
    Status registered = connection->RegisterBatches(kInputTable, input, {});
    if (!registered.ok()) {
      return config::ConfigError(where, "DuckDB cannot read this processor's input " +
                                            input->ToString() + ": " + registered.message());
    }

    auto statement = connection->Prepare(query);
    if (!statement.ok()) {
      QueryError error = DescribeQueryError(text, where, statement.status().message());
      return config::ConfigError(error.where, error.message, error.hint);
    }
    if (!(*statement)->is_query()) {
      return config::ConfigError(
          where, "the sql processor runs a query (SELECT ...) over each batch, not a command",
          "tables other than `input` are not available to it");
    }
    SLUICE_ASSIGN_OR_RAISE(auto narrowed, NarrowHugeIntegers(connection.get(), query));
    if (narrowed != nullptr) statement = std::move(narrowed);

    return std::unique_ptr<exec::Processor>(
        new SqlProcessor(std::move(connection), std::move(*statement)));
  }

  std::shared_ptr<arrow::Schema> output_schema() const override { return statement_->schema(); }

  Status Process(const std::shared_ptr<arrow::RecordBatch>& batch, exec::Emitter& out) override {
    SLUICE_RETURN_NOT_OK(connection_->SetBatches(kInputTable, {batch}));
    auto result = statement_->Execute();
    // Let go of the batch now rather than at the next one.
    SLUICE_RETURN_NOT_OK(connection_->SetBatches(kInputTable, {}));
    if (!result.ok()) {
      // A failed cast or an overflow on some rows: a data error, which the driver isolates.
      return result.status().WithMessage("sql: ", result.status().message());
    }
    std::vector<std::shared_ptr<arrow::RecordBatch>>& batches = *result;
    if (batches.empty()) return Status::OK();
    if (batches.size() == 1) return out.Emit(std::move(batches.front()));
    // DuckDB answers in vectors of 2048 rows; one batch per input batch keeps downstream
    // stages working on micro-batches of a useful size.
    SLUICE_ASSIGN_OR_RAISE(auto combined, arrow::ConcatenateRecordBatches(batches));
    return out.Emit(std::move(combined));
  }

 private:
  SqlProcessor(std::unique_ptr<duckdb::Connection> connection,
               std::unique_ptr<duckdb::PreparedStatement> statement)
      : connection_(std::move(connection)), statement_(std::move(statement)) {}

  /// DuckDB sums and counts integers into HUGEINT (128 bits), which Arrow can only carry as
  /// decimal128(38, 0). Pipelines expect int64 (DESIGN.md types), so such columns are cast to
  /// BIGINT (UHUGEINT to UBIGINT); a value out of range then fails its batch as a data error.
  /// Returns null when no column needs it, or when the wrapped query does not prepare (e.g.
  /// duplicate column names), in which case the decimal is kept.
  static Result<std::unique_ptr<duckdb::PreparedStatement>> NarrowHugeIntegers(
      duckdb::Connection* connection, const std::string& query) {
    auto description = connection->Query("DESCRIBE " + query);
    if (!description.ok()) return nullptr;
    auto names = (*description)->GetColumnByName("column_name");
    auto types = (*description)->GetColumnByName("column_type");
    if (names == nullptr || types == nullptr) return nullptr;
    std::string replacements;
    for (int64_t row = 0; row < (*description)->num_rows(); ++row) {
      SLUICE_ASSIGN_OR_RAISE(auto name, names->GetScalar(row));
      SLUICE_ASSIGN_OR_RAISE(auto type, types->GetScalar(row));
      if (!name->is_valid || !type->is_valid) continue;
      const std::string type_name = type->ToString();
      const char* narrow = type_name == "HUGEINT"    ? "BIGINT"
                           : type_name == "UHUGEINT" ? "UBIGINT"
                                                     : nullptr;
      if (narrow == nullptr) continue;
      std::string quoted = "\"";
      for (char c : name->ToString()) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
      quoted += '"';
      if (!replacements.empty()) replacements += ", ";
      replacements += "CAST(" + quoted + " AS " + narrow + ") AS " + quoted;
    }
    if (replacements.empty()) return nullptr;
    // The newlines keep a trailing `-- comment` in the user's query from swallowing the ')'.
    auto wrapped =
        connection->Prepare("SELECT * REPLACE (" + replacements + ") FROM (\n" + query + "\n)");
    if (!wrapped.ok()) return nullptr;
    return std::move(*wrapped);
  }

  // Declared before the statement, which must be destroyed first.
  std::unique_ptr<duckdb::Connection> connection_;
  std::unique_ptr<duckdb::PreparedStatement> statement_;
};

}  // namespace

void RegisterSql(exec::Registry* registry) {
  config::PluginSpec spec;
  spec.name = "sql";
  spec.doc =
      "Runs a DuckDB query over each micro-batch, which the query reads as the table `input`; "
      "aggregations are per batch (use `window` for aggregations over time).";
  spec.value_option = "query";
  config::OptionSpec query;
  query.name = "query";
  query.type = config::OptionType::kString;
  query.doc =
      "A DuckDB SELECT statement over the table `input`, checked against the input schema before "
      "the run.";
  query.required = true;
  spec.options = {query};
  spec.example =
      "- sql: \"SELECT symbol, max(ask) - min(bid) AS range FROM input GROUP BY symbol\"";
  registry->AddProcessor(std::move(spec),
                         [](const exec::ProcessorContext&, const config::Options& options,
                            const std::shared_ptr<arrow::Schema>& input) {
                           return SqlProcessor::Make(options, input);
                         });
}

}  // namespace sluice::processors
