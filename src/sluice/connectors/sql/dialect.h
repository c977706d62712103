#pragma once

#include <arrow/type_fwd.h>

#include <string>
#include <string_view>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::connectors::sql {

/// How one database spells what the SQL sink core generates: identifiers and column types.
class Dialect {
 public:
  virtual ~Dialect() = default;

  /// The database's name, for messages ("PostgreSQL").
  virtual std::string_view name() const = 0;

  /// `name` as a quoted identifier. The default quotes with double quotes, doubling any inside
  /// (standard SQL); MySQL quotes with backquotes.
  virtual std::string QuoteIdentifier(std::string_view name) const;

  /// The column type that holds values of `type` without loss, or NotImplemented naming the
  /// type when the database has none.
  virtual Result<std::string> ColumnType(const arrow::DataType& type) const = 0;

  /// The column type for a key column of `type`; the default is ColumnType(). A database
  /// that cannot key its text type (MySQL's TEXT) answers a bounded one.
  virtual Result<std::string> KeyColumnType(const arrow::DataType& type) const {
    return ColumnType(type);
  }

  /// `text` as a string literal. The default doubles single quotes (standard SQL).
  virtual std::string QuoteLiteral(std::string_view text) const;

  /// A possibly schema-qualified table name ("metrics.readings") quoted part by part.
  std::string QuoteTable(std::string_view table) const;

  /// The quoted names of `names`, joined with ", ".
  std::string QuoteList(const std::vector<std::string>& names) const;
};

/// `CREATE TABLE IF NOT EXISTS table (columns..., PRIMARY KEY (key))` for `schema`, with the
/// key columns NOT NULL. Fails, naming the field, when a field's type has no column type.
Result<std::string> CreateTableSql(const Dialect& dialect, std::string_view table,
                                   const arrow::Schema& schema,
                                   const std::vector<std::string>& key);

}  // namespace sluice::connectors::sql
