#include "sluice/connectors/mysql/mysql_dialect.h"

#include <arrow/type.h>
#include <fmt/format.h>

namespace sluice::connectors::mysql {

/// DECIMAL's largest precision and scale on MariaDB and MySQL.
constexpr int kMaxDecimalPrecision = 65;
constexpr int kMaxDecimalScale = 30;

std::string MySqlDialect::QuoteIdentifier(std::string_view name) const {
  std::string quoted = "`";
  for (char c : name) {
    if (c == '`') quoted += '`';
    quoted += c;
  }
  quoted += '`';
  return quoted;
}

std::string MySqlDialect::QuoteLiteral(std::string_view text) const {
  std::string quoted = "'";
  for (char c : text) {
    switch (c) {
      case '\'':
        quoted += "\\'";
        break;
      case '\\':
        quoted += "\\\\";
        break;
      case '\0':
        quoted += "\\0";
        break;
      case '\n':
        quoted += "\\n";
        break;
      case '\r':
        quoted += "\\r";
        break;
      case '\x1a':
        quoted += "\\Z";
        break;
      default:
        quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

Result<std::string> MySqlDialect::ColumnType(const arrow::DataType& type) const {
  switch (type.id()) {
    case arrow::Type::BOOL:
      return std::string("BOOLEAN");
    case arrow::Type::INT8:
      return std::string("TINYINT");
    case arrow::Type::INT16:
      return std::string("SMALLINT");
    case arrow::Type::INT32:
      return std::string("INT");
    case arrow::Type::INT64:
      return std::string("BIGINT");
    case arrow::Type::UINT8:
      return std::string("TINYINT UNSIGNED");
    case arrow::Type::UINT16:
      return std::string("SMALLINT UNSIGNED");
    case arrow::Type::UINT32:
      return std::string("INT UNSIGNED");
    case arrow::Type::UINT64:
      return std::string("BIGINT UNSIGNED");
    case arrow::Type::FLOAT:
      return std::string("FLOAT");
    case arrow::Type::DOUBLE:
      return std::string("DOUBLE");
    case arrow::Type::STRING:
    case arrow::Type::STRING_VIEW:
      return std::string("TEXT CHARACTER SET utf8mb4");
    case arrow::Type::LARGE_STRING:
      return std::string("LONGTEXT CHARACTER SET utf8mb4");
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
    case arrow::Type::BINARY_VIEW:
    case arrow::Type::FIXED_SIZE_BINARY:
      return std::string("LONGBLOB");
    case arrow::Type::DATE32:
    case arrow::Type::DATE64:
      return std::string("DATE");
    case arrow::Type::TIMESTAMP:
      return std::string("DATETIME(6)");
    case arrow::Type::DECIMAL128:
    case arrow::Type::DECIMAL256: {
      const auto& decimal = static_cast<const arrow::DecimalType&>(type);
      if (decimal.precision() > kMaxDecimalPrecision || decimal.scale() > kMaxDecimalScale ||
          decimal.scale() < 0) {
        return Status::NotImplemented(fmt::format(
            "{} is beyond DECIMAL's precision {} and scale 0 to {}", type.ToString(),
            kMaxDecimalPrecision, kMaxDecimalScale));
      }
      return fmt::format("DECIMAL({},{})", decimal.precision(), decimal.scale());
    }
    default:
      return Status::NotImplemented(fmt::format("no column type for {}", type.ToString()));
  }
}

Result<std::string> MySqlDialect::KeyColumnType(const arrow::DataType& type) const {
  switch (type.id()) {
    case arrow::Type::STRING:
    case arrow::Type::STRING_VIEW:
    case arrow::Type::LARGE_STRING:
      switch (server_) {
        case Server::kMariaDb:
          return std::string("VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin");
        case Server::kMySql8:
          return std::string("VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_bin");
        case Server::kMySql57:
          // Pads: 'a' and 'a ' are one key.
          return std::string("VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
      }
      break;
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
    case arrow::Type::BINARY_VIEW:
      return std::string("VARBINARY(255)");
    case arrow::Type::FIXED_SIZE_BINARY: {
      int width = static_cast<const arrow::FixedSizeBinaryType&>(type).byte_width();
      if (width <= 255) return fmt::format("BINARY({})", width);
      return Status::NotImplemented(
          fmt::format("a key column holds at most 255 bytes, not {}", type.ToString()));
    }
    default:
      break;
  }
  return ColumnType(type);
}

const MySqlDialect& MySqlDialect::Get() {
  static const MySqlDialect dialect;
  return dialect;
}

}  // namespace sluice::connectors::mysql
