#pragma once

#include <string>
#include <string_view>

#include "sluice/connectors/sql/dialect.h"

namespace sluice::connectors::mysql {

/// How MariaDB and MySQL spell identifiers, literals and column types. Stateless; shared by
/// every session.
///
/// Types: a string is TEXT in utf8mb4 (whatever the database's default character set), a key
/// column VARCHAR(255) with a binary collation that does not pad: neither server keys TEXT
/// without a prefix (which would merge distinct values), and the default collations would take
/// 'IBM', 'ibm' and 'IBM ' for one key. A large string is LONGTEXT, binary LONGBLOB (a key
/// column VARBINARY(255)), a timestamp DATETIME(6) holding UTC (DATETIME keeps no time zone;
/// TIMESTAMP would be converted through the session's zone and ends in 2038).
class MySqlDialect final : public sql::Dialect {
 public:
  /// Which server: the binary collation without padding is named differently.
  enum class Server { kMariaDb, kMySql8, kMySql57 };

  explicit MySqlDialect(Server server = Server::kMariaDb) : server_(server) {}

  std::string_view name() const override {
    return server_ == Server::kMariaDb ? "MariaDB" : "MySQL";
  }
  /// `name` in backquotes, doubling any backquote inside.
  std::string QuoteIdentifier(std::string_view name) const override;
  Result<std::string> ColumnType(const arrow::DataType& type) const override;
  Result<std::string> KeyColumnType(const arrow::DataType& type) const override;
  /// `text` in single quotes with quotes and backslashes escaped (the session's sql_mode keeps
  /// backslash escapes on).
  std::string QuoteLiteral(std::string_view text) const override;

  /// The dialect of MariaDB, for checks before connecting.
  static const MySqlDialect& Get();

 private:
  Server server_;
};

}  // namespace sluice::connectors::mysql
