#include "sluice/processors/sql_query.h"

#include <arrow/api.h>
#include <fmt/format.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::processors {
namespace {

/// The name under which the rows are visible to the query.
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

/// The hint of a statement refused for reaching outside `input`.
constexpr const char* kSandboxHint =
    "the sql step reads only the table `input`: no file, URL or extension, unless the file or "
    "its directory is listed in allow_files (sql: {query: \"...\", allow_files: [data/ref/]})";

}  // namespace

/// Reads `allow_files`: paths relative to the pipeline file, or absolute, of files or
/// directories that exist.
Result<AllowedFiles> ReadAllowedFiles(const config::Options& options) {
  AllowedFiles allowed;
  if (!options.Has("allow_files")) return allowed;
  const config::Location where = options.LocationOf("allow_files");
  const std::filesystem::path base = std::filesystem::path(where.file).parent_path();
  std::error_code error;
  const std::filesystem::path working = std::filesystem::current_path(error);
  for (const std::string& entry : options.GetStringList("allow_files")) {
    std::filesystem::path path(entry);
    if (entry.empty()) return config::ConfigError(where, "allow_files lists an empty path");
    if (path.is_relative()) path = base / path;
    path = std::filesystem::absolute(path, error).lexically_normal();
    const bool directory = std::filesystem::is_directory(path, error);
    if (!directory && !std::filesystem::is_regular_file(path, error)) {
      return config::ConfigError(
          where,
          fmt::format("allow_files lists '{}', which is no file or directory ({})", entry,
                      path.string()),
          "paths are relative to the pipeline file, or absolute, and must exist at the start");
    }
    std::vector<std::string> forms = {path.string()};
    if (!working.empty()) {
      const std::string relative = path.lexically_relative(working).string();
      if (!relative.empty() && relative != ".") forms.push_back(relative);
    }
    for (std::string form : forms) {
      while (form.size() > 1 && form.back() == '/') form.pop_back();
      if (directory) {
        allowed.directories.push_back(form + "/");
      } else {
        allowed.files.push_back(form);
      }
    }
  }
  return allowed;
}

Result<std::unique_ptr<SqlQuery>> SqlQuery::Make(const config::LocatedText& text,
                                                const config::Location& where,
                                                const std::shared_ptr<arrow::Schema>& input,
                                                const AllowedFiles& allowed) {
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
  SLUICE_RETURN_NOT_OK(connection->RestrictExternalAccess(allowed.directories, allowed.files));
  auto statement = connection->Prepare(query);
  if (!statement.ok()) {
    QueryError error = DescribeQueryError(text, where, statement.status().message());
    if (error.message.rfind("Permission Error", 0) == 0) error.hint = kSandboxHint;
    return config::ConfigError(error.where, error.message, error.hint);
  }
  if (!(*statement)->is_query()) {
    return config::ConfigError(
        where, "the sql processor runs a query (SELECT ...) over its input, not a command",
        kSandboxHint);
  }
  SLUICE_ASSIGN_OR_RAISE(duckdb::PlanNode plan, connection->LogicalPlan(query));
  StatementShape shape = ShapeOf(plan);
  SLUICE_ASSIGN_OR_RAISE(auto narrowed, NarrowHugeIntegers(connection.get(), query));
  if (narrowed != nullptr) statement = std::move(narrowed);
  SLUICE_RETURN_NOT_OK(connection->LockConfiguration());
  return std::unique_ptr<SqlQuery>(
      new SqlQuery(std::move(connection), std::move(*statement), std::move(shape), input, where));
}

Result<std::vector<std::shared_ptr<arrow::RecordBatch>>> SqlQuery::Run(
    std::vector<std::shared_ptr<arrow::RecordBatch>> batches) {
  SLUICE_RETURN_NOT_OK(connection_->SetBatches(kInputTable, std::move(batches)));
  auto result = statement_->Execute();
  // Let go of the batches now rather than at the next run.
  SLUICE_RETURN_NOT_OK(connection_->SetBatches(kInputTable, {}));
  // DuckDB's message goes on with the query and a caret under it, which a data error's
  // message (a dead letter's reason) does without.
  if (!result.ok()) {
    const std::string& message = result.status().message();
    return result.status().WithMessage("sql: ", message.substr(0, message.find('\n')));
  }
  return result;
}

Result<std::unique_ptr<duckdb::PreparedStatement>> SqlQuery::NarrowHugeIntegers(
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

}  // namespace sluice::processors
