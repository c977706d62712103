#include "sluice/connectors/duckdb_store/duckdb_dialect.h"

#include <arrow/type.h>
#include <fmt/format.h>

namespace sluice::connectors::duckdb_store {
namespace {

/// DuckDB's timestamp type of each Arrow unit: its TIMESTAMP counts microseconds, and it has
/// types of their own for seconds, milliseconds and nanoseconds.
std::string TimestampType(const arrow::TimestampType& type) {
  if (!type.timezone().empty()) {
    // TIMESTAMPTZ counts microseconds; nanoseconds keep their precision as TIMESTAMP_NS, which
    // holds the same instants (UTC) without the zone label.
    return type.unit() == arrow::TimeUnit::NANO ? "TIMESTAMP_NS" : "TIMESTAMPTZ";
  }
  switch (type.unit()) {
    case arrow::TimeUnit::SECOND:
      return "TIMESTAMP_S";
    case arrow::TimeUnit::MILLI:
      return "TIMESTAMP_MS";
    case arrow::TimeUnit::MICRO:
      return "TIMESTAMP";
    case arrow::TimeUnit::NANO:
      return "TIMESTAMP_NS";
  }
  return "TIMESTAMP";
}

}  // namespace

Result<std::string> DuckDbDialect::ColumnType(const arrow::DataType& type) const {
  switch (type.id()) {
    case arrow::Type::BOOL:
      return std::string("BOOLEAN");
    case arrow::Type::INT8:
      return std::string("TINYINT");
    case arrow::Type::INT16:
      return std::string("SMALLINT");
    case arrow::Type::INT32:
      return std::string("INTEGER");
    case arrow::Type::INT64:
      return std::string("BIGINT");
    case arrow::Type::UINT8:
      return std::string("UTINYINT");
    case arrow::Type::UINT16:
      return std::string("USMALLINT");
    case arrow::Type::UINT32:
      return std::string("UINTEGER");
    case arrow::Type::UINT64:
      return std::string("UBIGINT");
    case arrow::Type::HALF_FLOAT:
    case arrow::Type::FLOAT:
      return std::string("FLOAT");
    case arrow::Type::DOUBLE:
      return std::string("DOUBLE");
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::STRING_VIEW:
      return std::string("VARCHAR");
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
    case arrow::Type::BINARY_VIEW:
    case arrow::Type::FIXED_SIZE_BINARY:
      return std::string("BLOB");
    case arrow::Type::DATE32:
    case arrow::Type::DATE64:
      return std::string("DATE");
    case arrow::Type::TIME32:
    case arrow::Type::TIME64:
      return std::string("TIME");
    case arrow::Type::TIMESTAMP:
      return TimestampType(static_cast<const arrow::TimestampType&>(type));
    case arrow::Type::DURATION:
      return std::string("INTERVAL");
    case arrow::Type::DECIMAL128:
    case arrow::Type::DECIMAL256: {
      const auto& decimal = static_cast<const arrow::DecimalType&>(type);
      if (decimal.precision() > 38) {
        return Status::NotImplemented("DuckDB's DECIMAL holds at most 38 digits, not ",
                                      decimal.precision());
      }
      return fmt::format("DECIMAL({}, {})", decimal.precision(), decimal.scale());
    }
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST:
    case arrow::Type::LIST_VIEW:
    case arrow::Type::LARGE_LIST_VIEW: {
      SLUICE_ASSIGN_OR_RAISE(std::string element, ColumnType(*type.field(0)->type()));
      return element + "[]";
    }
    case arrow::Type::FIXED_SIZE_LIST: {
      const auto& list = static_cast<const arrow::FixedSizeListType&>(type);
      SLUICE_ASSIGN_OR_RAISE(std::string element, ColumnType(*list.value_type()));
      return fmt::format("{}[{}]", element, list.list_size());
    }
    case arrow::Type::STRUCT: {
      std::string columns;
      for (const auto& field : type.fields()) {
        SLUICE_ASSIGN_OR_RAISE(std::string member, ColumnType(*field->type()));
        if (!columns.empty()) columns += ", ";
        columns += QuoteIdentifier(field->name()) + " " + member;
      }
      return "STRUCT(" + columns + ")";
    }
    case arrow::Type::MAP: {
      const auto& map = static_cast<const arrow::MapType&>(type);
      SLUICE_ASSIGN_OR_RAISE(std::string key, ColumnType(*map.key_type()));
      SLUICE_ASSIGN_OR_RAISE(std::string item, ColumnType(*map.item_type()));
      return fmt::format("MAP({}, {})", key, item);
    }
    case arrow::Type::DICTIONARY:
      return ColumnType(*static_cast<const arrow::DictionaryType&>(type).value_type());
    default:
      return Status::NotImplemented("DuckDB has no column type for ", type.ToString());
  }
}

}  // namespace sluice::connectors::duckdb_store
