#include "sluice/duckdb/connection.h"

#include <arrow/scalar.h>
#include <arrow/table.h>
#include <arrow/type.h>
#include <simdjson.h>

#include <cctype>
#include <string>
#include <utility>

#include "sluice/duckdb/arrow_scan_internal.h"
#include "sluice/duckdb/result_internal.h"

namespace sluice::duckdb {

namespace {

std::string QuoteIdentifier(std::string_view name) {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + '"';
}

std::string QuoteLiteral(std::string_view text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += '\'';
    quoted += c;
  }
  return quoted + '\'';
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

/// One operator of `EXPLAIN (FORMAT json)`: {"name": ..., "children": [...], "extra_info": {...}}.
Result<PlanNode> ReadPlanNode(const simdjson::dom::element& element,
                              const std::string& scan_function) {
  simdjson::dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS)
    return Status::UnknownError("DuckDB: an EXPLAIN operator is not a JSON object");
  PlanNode node;
  std::string_view name;
  if (object["name"].get_string().get(name) == simdjson::SUCCESS) node.name = std::string(name);
  // DuckDB pads some names ("SEQ_SCAN ") in the physical plan.
  while (!node.name.empty() && node.name.back() == ' ') node.name.pop_back();
  simdjson::dom::object info;
  if (object["extra_info"].get_object().get(info) == simdjson::SUCCESS) {
    for (auto [key, value] : info) {
      std::string text;
      std::string_view scalar;
      simdjson::dom::array list;
      if (value.get_string().get(scalar) == simdjson::SUCCESS) {
        text = std::string(scalar);
      } else if (value.get_array().get(list) == simdjson::SUCCESS) {
        for (auto item : list) {
          if (item.get_string().get(scalar) != simdjson::SUCCESS) continue;
          if (!text.empty()) text += ", ";
          text += std::string(scalar);
        }
      } else {
        text = simdjson::minify(value);
      }
      node.info.emplace(std::string(key), std::move(text));
    }
  }
  // A table function's scan is named after the function, with its name in "Function" too in
  // some versions.
  auto function = node.info.find("Function");
  node.scans_registered_data =
      EqualsIgnoringCase(node.name, scan_function) ||
      (function != node.info.end() && EqualsIgnoringCase(function->second, scan_function));
  simdjson::dom::array children;
  if (object["children"].get_array().get(children) == simdjson::SUCCESS) {
    for (auto child : children) {
      SLUICE_ASSIGN_OR_RAISE(PlanNode read, ReadPlanNode(child, scan_function));
      node.children.push_back(std::move(read));
    }
  }
  return node;
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::Open(std::shared_ptr<Database> database) {
  if (database == nullptr) return Status::Invalid("DuckDB: cannot connect to a null database");
  duckdb_connection connection = nullptr;
  if (duckdb_connect(database->handle(), &connection) != DuckDBSuccess) {
    return Status::IOError("DuckDB: cannot connect to the database");
  }
  duckdb_connection conversion = nullptr;
  if (duckdb_connect(database->handle(), &conversion) != DuckDBSuccess) {
    duckdb_disconnect(&connection);
    return Status::IOError("DuckDB: cannot connect to the database");
  }
  // From here the Connection owns both handles, whatever fails next.
  std::unique_ptr<Connection> session(new Connection(std::move(database), connection, conversion));
  // DuckDB labels TIMESTAMP WITH TIME ZONE results with the session's zone, which defaults to
  // the machine's; UTC keeps a round trip exact and results independent of the host.
  SLUICE_RETURN_NOT_OK(session->Execute("SET TimeZone = 'UTC'"));
  SLUICE_ASSIGN_OR_RAISE(session->scan_function_, internal::RegisterArrowScanFunction(
                                                      session->connection_, session->registry_));
  return session;
}

Connection::Connection(std::shared_ptr<Database> database, duckdb_connection connection,
                       duckdb_connection conversion)
    : database_(std::move(database)),
      connection_(connection),
      conversion_(conversion),
      registry_(std::make_shared<internal::ArrowScanRegistry>(conversion)) {}

Connection::~Connection() {
  // Closing the session drops its temporary views; the registry may outlive it inside DuckDB's
  // catalog, so it must forget the conversion session before that goes.
  duckdb_disconnect(&connection_);
  registry_->Close();
  duckdb_disconnect(&conversion_);
}

Status Connection::Execute(std::string_view sql) {
  internal::ResultHandle result;
  if (duckdb_query(connection_, std::string(sql).c_str(), result.get()) != DuckDBSuccess) {
    return internal::ResultErrorStatus(result.get());
  }
  return Status::OK();
}

namespace {

/// A DuckDB list of string literals: ['a', 'it''s'].
std::string StringList(const std::vector<std::string>& values) {
  std::string list = "[";
  for (const std::string& value : values) {
    if (list.size() > 1) list += ", ";
    list += '\'';
    for (char c : value) list += c == '\'' ? std::string("''") : std::string(1, c);
    list += '\'';
  }
  return list + "]";
}

}  // namespace

Status Connection::RestrictExternalAccess(const std::vector<std::string>& directories,
                                          const std::vector<std::string>& files) {
  // The allow-lists can only be set while external access is still on.
  if (!directories.empty())
    SLUICE_RETURN_NOT_OK(Execute("SET allowed_directories = " + StringList(directories)));
  if (!files.empty()) SLUICE_RETURN_NOT_OK(Execute("SET allowed_paths = " + StringList(files)));
  return Execute("SET enable_external_access = false");
}

Status Connection::LockConfiguration() { return Execute("SET lock_configuration = true"); }

Result<std::shared_ptr<arrow::Table>> Connection::Query(std::string_view sql) {
  internal::ResultHandle result;
  if (duckdb_query(connection_, std::string(sql).c_str(), result.get()) != DuckDBSuccess) {
    return internal::ResultErrorStatus(result.get());
  }
  SLUICE_ASSIGN_OR_RAISE(auto schema, internal::ResultSchema(result.get()));
  SLUICE_ASSIGN_OR_RAISE(auto batches, internal::ReadResult(result.get(), schema));
  return arrow::Table::FromRecordBatches(schema, std::move(batches));
}

Result<PlanNode> Connection::LogicalPlan(std::string_view sql) {
  // `all` lists the unoptimised logical plan besides the optimised and physical ones.
  SLUICE_RETURN_NOT_OK(Execute("SET explain_output = 'all'"));
  auto explained = Query("EXPLAIN (FORMAT json) " + std::string(sql));
  SLUICE_RETURN_NOT_OK(Execute("RESET explain_output"));
  SLUICE_RETURN_NOT_OK(explained.status());
  const std::shared_ptr<arrow::Table>& table = *explained;
  auto keys = table->GetColumnByName("explain_key");
  auto values = table->GetColumnByName("explain_value");
  if (keys == nullptr || values == nullptr)
    return Status::UnknownError("DuckDB: EXPLAIN returned no explain_key and explain_value");
  for (int64_t row = 0; row < table->num_rows(); ++row) {
    SLUICE_ASSIGN_OR_RAISE(auto key, keys->GetScalar(row));
    if (!key->is_valid || key->ToString() != "logical_plan") continue;
    SLUICE_ASSIGN_OR_RAISE(auto value, values->GetScalar(row));
    const std::string json = value->ToString();
    simdjson::dom::parser parser;
    simdjson::dom::element document;
    if (parser.parse(json).get(document) != simdjson::SUCCESS)
      return Status::UnknownError("DuckDB: EXPLAIN returned a plan that is not JSON");
    simdjson::dom::array roots;
    simdjson::dom::element root;
    if (document.get_array().get(roots) != simdjson::SUCCESS || roots.size() != 1 ||
        roots.at(0).get(root) != simdjson::SUCCESS)
      return Status::UnknownError("DuckDB: EXPLAIN returned no single plan");
    return ReadPlanNode(root, scan_function_);
  }
  return Status::UnknownError("DuckDB: EXPLAIN returned no logical plan");
}

Result<std::shared_ptr<arrow::Schema>> Connection::Describe(std::string_view sql) {
  SLUICE_ASSIGN_OR_RAISE(auto statement, Prepare(sql));
  return statement->schema();
}

Result<std::unique_ptr<PreparedStatement>> Connection::Prepare(std::string_view sql) {
  duckdb_prepared_statement statement = nullptr;
  if (duckdb_prepare(connection_, std::string(sql).c_str(), &statement) != DuckDBSuccess) {
    const char* message = duckdb_prepare_error(statement);
    Status status =
        Status::Invalid("DuckDB: ", message != nullptr ? message : "cannot prepare the statement");
    duckdb_destroy_prepare(&statement);
    return status;
  }
  // Owned from here, so that every early return below destroys it.
  std::unique_ptr<PreparedStatement> prepared(new PreparedStatement(statement, nullptr));
  const idx_t column_count = duckdb_prepared_statement_column_count(statement);
  std::vector<internal::LogicalType> types;
  std::vector<std::string> names;
  for (idx_t column = 0; column < column_count; ++column) {
    types.emplace_back(duckdb_prepared_statement_column_logical_type(statement, column));
    const char* name = duckdb_prepared_statement_column_name(statement, column);
    names.emplace_back(name != nullptr ? name : "");
    if (name != nullptr) duckdb_free(const_cast<char*>(name));
  }
  duckdb_arrow_options options = nullptr;
  duckdb_connection_get_arrow_options(connection_, &options);
  auto schema = internal::ToArrowSchema(options, types, names);
  duckdb_destroy_arrow_options(&options);
  SLUICE_RETURN_NOT_OK(schema.status());
  prepared->schema_ = std::move(*schema);
  return prepared;
}

Status Connection::RegisterBatch(const std::string& name,
                                 std::shared_ptr<arrow::RecordBatch> batch) {
  if (batch == nullptr)
    return Status::Invalid("cannot register a null record batch as '", name, "'");
  auto schema = batch->schema();
  return RegisterSource(name, std::move(schema), {std::move(batch)}, nullptr);
}

Status Connection::RegisterBatches(const std::string& name, std::shared_ptr<arrow::Schema> schema,
                                   std::vector<std::shared_ptr<arrow::RecordBatch>> batches) {
  return RegisterSource(name, std::move(schema), std::move(batches), nullptr);
}

Status Connection::RegisterTable(const std::string& name,
                                 const std::shared_ptr<arrow::Table>& table) {
  if (table == nullptr) return Status::Invalid("cannot register a null table as '", name, "'");
  arrow::TableBatchReader reader(*table);
  SLUICE_ASSIGN_OR_RAISE(auto batches, reader.ToRecordBatches());
  return RegisterSource(name, table->schema(), std::move(batches), nullptr);
}

Status Connection::RegisterReader(const std::string& name,
                                  std::shared_ptr<arrow::RecordBatchReader> reader) {
  if (reader == nullptr) return Status::Invalid("cannot register a null reader as '", name, "'");
  auto schema = reader->schema();
  return RegisterSource(name, std::move(schema), {}, std::move(reader));
}

Status Connection::RegisterSource(const std::string& name, std::shared_ptr<arrow::Schema> schema,
                                  std::vector<std::shared_ptr<arrow::RecordBatch>> batches,
                                  std::shared_ptr<arrow::RecordBatchReader> reader) {
  if (name.empty()) return Status::Invalid("cannot register Arrow data under an empty name");
  if (schema == nullptr)
    return Status::Invalid("cannot register Arrow data without a schema as '", name, "'");
  SLUICE_ASSIGN_OR_RAISE(auto source,
                         internal::ArrowScanSource::Make(conversion_, std::move(schema)));
  if (reader != nullptr) {
    SLUICE_RETURN_NOT_OK(source->SetReader(std::move(reader)));
  } else {
    SLUICE_RETURN_NOT_OK(source->SetBatches(std::move(batches)));
  }
  registry_->Add(name, std::move(source));
  Status status = Execute("CREATE OR REPLACE TEMPORARY VIEW " + QuoteIdentifier(name) +
                          " AS SELECT * FROM " + scan_function_ + "(" + QuoteLiteral(name) + ")");
  if (!status.ok()) registry_->Remove(name);
  return status;
}

Status Connection::SetBatches(const std::string& name,
                              std::vector<std::shared_ptr<arrow::RecordBatch>> batches) {
  auto source = registry_->Find(name);
  if (source == nullptr) return Status::KeyError("no Arrow data is registered as '", name, "'");
  return source->SetBatches(std::move(batches));
}

Status Connection::Unregister(const std::string& name) {
  SLUICE_RETURN_NOT_OK(Execute("DROP VIEW IF EXISTS " + QuoteIdentifier(name)));
  registry_->Remove(name);
  return Status::OK();
}

}  // namespace sluice::duckdb
