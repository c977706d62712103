#include "sluice/connectors/mysql/mysql_url.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

namespace sluice::connectors::mysql {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// `text` with %XX sequences decoded; `what` names the part in errors.
Result<std::string> PercentDecode(std::string_view text, std::string_view what) {
  std::string decoded;
  decoded.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      decoded += text[i];
      continue;
    }
    int high = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
    int low = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return Status::Invalid(
          fmt::format("the {} holds a '%' not followed by two hex digits", what));
    }
    decoded += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return decoded;
}

/// `text` with the characters a URL part cannot hold percent-encoded.
std::string PercentEncode(std::string_view text) {
  std::string encoded;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      encoded += static_cast<char>(c);
    } else {
      encoded += fmt::format("%{:02X}", c);
    }
  }
  return encoded;
}

}  // namespace

std::string ConnectionTarget::Describe() const {
  bool brackets = host.find(':') != std::string::npos;
  return fmt::format("mysql://{}{}{}{}{}:{}/{}", user.empty() ? "" : PercentEncode(user),
                     user.empty() ? "" : "@", brackets ? "[" : "", host, brackets ? "]" : "",
                     port, PercentEncode(database));
}

Result<ConnectionTarget> ParseMySqlUrl(std::string_view url) {
  constexpr std::string_view kScheme = "mysql://";
  constexpr std::string_view kMariaDbScheme = "mariadb://";
  std::string_view rest;
  if (url.substr(0, kScheme.size()) == kScheme) {
    rest = url.substr(kScheme.size());
  } else if (url.substr(0, kMariaDbScheme.size()) == kMariaDbScheme) {
    rest = url.substr(kMariaDbScheme.size());
  } else {
    return Status::Invalid("it must start with mysql:// (or mariadb://)");
  }
  ConnectionTarget target;
  size_t query = rest.find('?');
  if (query != std::string_view::npos) {
    return Status::Invalid("query parameters (?...) are not supported");
  }
  // The user information ends at the last '@' before the path, so that an unencoded '@' in a
  // password still parses.
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view user_info = authority.substr(0, at);
    authority = authority.substr(at + 1);
    size_t colon = user_info.find(':');
    SLUICE_ASSIGN_OR_RAISE(target.user, PercentDecode(user_info.substr(0, colon), "user"));
    if (colon != std::string_view::npos) {
      SLUICE_ASSIGN_OR_RAISE(target.password,
                             PercentDecode(user_info.substr(colon + 1), "password"));
    }
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Status::Invalid("an IPv6 host lacks its closing ']'");
    }
    target.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::Invalid("unexpected text after the host");
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.find(':');
    target.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (target.host.empty()) return Status::Invalid("it names no host");
  if (!port_text.empty()) {
    int port = 0;
    auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (error != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
        port > 65535) {
      return Status::Invalid(fmt::format("bad port '{}'", port_text));
    }
    target.port = port;
  }
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.find('/') != std::string_view::npos) {
    return Status::Invalid("the path must be just the database name");
  }
  SLUICE_ASSIGN_OR_RAISE(target.database, PercentDecode(path, "database"));
  return target;
}

}  // namespace sluice::connectors::mysql
