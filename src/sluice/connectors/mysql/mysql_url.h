#pragma once

#include <string>
#include <string_view>

#include "sluice/common/status.h"

namespace sluice::connectors::mysql {

/// Where a MySQL session connects, from `mysql://user:password@host:port/database`.
struct ConnectionTarget {
  std::string host;
  int port = 3306;
  std::string user;
  std::string password;
  /// The default database; empty when the URL names none (tables must then be qualified).
  std::string database;

  /// The URL without the password, for messages: mysql://sluice@127.0.0.1:3306/metrics.
  std::string Describe() const;
};

/// Parses `url`. User, password and database are percent-decoded (a password holding '@', ':'
/// or '/' is written %40, %3A, %2F); an IPv6 host goes in brackets. Errors describe the problem
/// without repeating the URL, which may hold a password.
Result<ConnectionTarget> ParseMySqlUrl(std::string_view url);

}  // namespace sluice::connectors::mysql
