#pragma once

#include "sluice/connectors/sql/dialect.h"

namespace sluice::connectors::duckdb_store {

/// DuckDB's spelling of identifiers (standard double quotes) and of the column types that hold
/// Arrow values without loss. Stateless.
class DuckDbDialect final : public sql::Dialect {
 public:
  std::string_view name() const override { return "DuckDB"; }
  Result<std::string> ColumnType(const arrow::DataType& type) const override;
};

}  // namespace sluice::connectors::duckdb_store
