#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "sluice/common/status.h"
#include "sluice/config/location.h"

namespace sluice::expr {

enum class TokenKind {
  kEnd,               ///< after the last token; its offset is the text length
  kInteger,           ///< digits only; `text` holds them
  kDecimal,           ///< a number with a '.' or an exponent; `text` holds it
  kString,            ///< 'single quoted'; `text` holds the value with '' unescaped
  kIdentifier,        ///< a bare word (also keywords, which the parser recognises)
  kQuotedIdentifier,  ///< "double quoted"; `text` holds the name with "" unescaped
  kLeftParenthesis,
  kRightParenthesis,
  kComma,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kPercent,
  kEqual,     ///< = or ==
  kNotEqual,  ///< != or <>
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kAmpersands,   ///< &&, a synonym of AND
  kBars,         ///< ||, a synonym of OR (not SQL concatenation; see expression.h)
  kBang,         ///< !, a synonym of NOT
  kDoubleColon,  ///< :: (cast)
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  /// Byte offset of the token's first character in the source text.
  size_t offset = 0;
  std::string text;
};

/// Splits `source.text` into tokens, ending with a kEnd token. Fails, located at the offending
/// character, on invalid UTF-8, an unterminated string or quoted identifier, a malformed number
/// or a character that starts no token.
Result<std::vector<Token>> Tokenize(const config::LocatedText& source);

/// A human-readable description of a token for "unexpected ..." messages.
std::string Describe(const Token& token);

}  // namespace sluice::expr
