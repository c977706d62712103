#include "sluice/connectors/sql/dialect.h"

#include <arrow/type.h>
#include <fmt/format.h>

#include <algorithm>

namespace sluice::connectors::sql {

std::string Dialect::QuoteIdentifier(std::string_view name) const {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string Dialect::QuoteLiteral(std::string_view text) const {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += '\'';
    quoted += c;
  }
  quoted += '\'';
  return quoted;
}

std::string Dialect::QuoteTable(std::string_view table) const {
  size_t dot = table.find('.');
  if (dot == std::string_view::npos) return QuoteIdentifier(table);
  return QuoteIdentifier(table.substr(0, dot)) + "." + QuoteIdentifier(table.substr(dot + 1));
}

std::string Dialect::QuoteList(const std::vector<std::string>& names) const {
  std::string list;
  for (const auto& name : names) {
    if (!list.empty()) list += ", ";
    list += QuoteIdentifier(name);
  }
  return list;
}

Result<std::string> CreateTableSql(const Dialect& dialect, std::string_view table,
                                   const arrow::Schema& schema,
                                   const std::vector<std::string>& key) {
  std::string sql = fmt::format("CREATE TABLE IF NOT EXISTS {} (", dialect.QuoteTable(table));
  for (int i = 0; i < schema.num_fields(); ++i) {
    const auto& field = *schema.field(i);
    const bool keyed = std::find(key.begin(), key.end(), field.name()) != key.end();
    auto type = keyed ? dialect.KeyColumnType(*field.type()) : dialect.ColumnType(*field.type());
    if (!type.ok()) {
      return Status::NotImplemented("field '", field.name(), "' of type ",
                                    field.type()->ToString(), " has no ", dialect.name(),
                                    " column type: ", type.status().message(),
                                    "; cast it first (cast processor)");
    }
    if (i > 0) sql += ", ";
    sql += dialect.QuoteIdentifier(field.name()) + " " + *type;
    if (keyed) sql += " NOT NULL";
  }
  if (!key.empty()) sql += ", PRIMARY KEY (" + dialect.QuoteList(key) + ")";
  sql += ")";
  return sql;
}

}  // namespace sluice::connectors::sql
