#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "sluice/connectors/sql/sql_sink.h"

namespace sluice::connectors::postgres {

/// PostgreSQL as the SQL sink core sees it: column types, and identifiers in double quotes.
class PostgresDialect final : public sql::Dialect {
 public:
  std::string_view name() const override { return "PostgreSQL"; }
  Result<std::string> ColumnType(const arrow::DataType& type) const override;
};

/// Opens a session of the `postgres` sink on `url`: rows are written with binary COPY (into a
/// temporary staging table and merged with INSERT ... ON CONFLICT for upserts), each slice
/// under a savepoint.
Result<std::unique_ptr<sql::Session>> OpenPgSession(const std::string& url,
                                                    std::chrono::milliseconds connect_timeout);

}  // namespace sluice::connectors::postgres
