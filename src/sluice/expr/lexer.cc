#include "sluice/expr/lexer.h"

#include <fmt/format.h>

#include "sluice/expr/diagnostic.h"

namespace sluice::expr {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentifierStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentifierPart(char c) { return IsIdentifierStart(c) || IsDigit(c); }

/// The byte offset of the first invalid UTF-8 sequence in `text`, or text.size() if none.
/// Checked up front so that string literals handed to Arrow's UTF-8 kernels are valid.
size_t FindInvalidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length;
    uint32_t code_point;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return i;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    // Reject overlong forms, surrogates and values beyond Unicode.
    static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kSmallest[length] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return i;
    }
    i += length;
  }
  return text.size();
}

class Lexer {
 public:
  explicit Lexer(const config::LocatedText& source) : source_(source), text_(source.text) {}

  Result<std::vector<Token>> Run() {
    const size_t invalid = FindInvalidUtf8(text_);
    if (invalid != text_.size()) return ErrorAt(source_, invalid, "invalid UTF-8 in expression");
    std::vector<Token> tokens;
    while (true) {
      SkipWhitespace();
      if (position_ >= text_.size()) {
        tokens.push_back(Token{TokenKind::kEnd, text_.size(), {}});
        return tokens;
      }
      SLUICE_ASSIGN_OR_RAISE(Token token, Next());
      tokens.push_back(std::move(token));
    }
  }

 private:
  void SkipWhitespace() {
    while (position_ < text_.size()) {
      const char c = text_[position_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        ++position_;
      } else {
        break;
      }
    }
  }

  char At(size_t position) const { return position < text_.size() ? text_[position] : '\0'; }

  Token Make(TokenKind kind, size_t length) {
    Token token{kind, position_, {}};
    position_ += length;
    return token;
  }

  Result<Token> Next() {
    const char c = text_[position_];
    const char next = At(position_ + 1);
    if (IsDigit(c) || (c == '.' && IsDigit(next))) return Number();
    if (IsIdentifierStart(c)) {
      size_t end = position_;
      while (end < text_.size() && IsIdentifierPart(text_[end])) ++end;
      Token token{TokenKind::kIdentifier, position_,
                  std::string(text_.substr(position_, end - position_))};
      position_ = end;
      return token;
    }
    switch (c) {
      case '\'':
        return Quoted('\'', TokenKind::kString, "string");
      case '"':
        return Quoted('"', TokenKind::kQuotedIdentifier, "quoted identifier");
      case '(':
        return Make(TokenKind::kLeftParenthesis, 1);
      case ')':
        return Make(TokenKind::kRightParenthesis, 1);
      case ',':
        return Make(TokenKind::kComma, 1);
      case '+':
        return Make(TokenKind::kPlus, 1);
      case '-':
        return Make(TokenKind::kMinus, 1);
      case '*':
        return Make(TokenKind::kStar, 1);
      case '/':
        return Make(TokenKind::kSlash, 1);
      case '%':
        return Make(TokenKind::kPercent, 1);
      case '=':
        return Make(TokenKind::kEqual, next == '=' ? 2 : 1);
      case '!':
        if (next == '=') return Make(TokenKind::kNotEqual, 2);
        return Make(TokenKind::kBang, 1);
      case '<':
        if (next == '=') return Make(TokenKind::kLessEqual, 2);
        if (next == '>') return Make(TokenKind::kNotEqual, 2);
        return Make(TokenKind::kLess, 1);
      case '>':
        if (next == '=') return Make(TokenKind::kGreaterEqual, 2);
        return Make(TokenKind::kGreater, 1);
      case '&':
        if (next == '&') return Make(TokenKind::kAmpersands, 2);
        break;
      case '|':
        if (next == '|') return Make(TokenKind::kBars, 2);
        break;
      case ':':
        if (next == ':') return Make(TokenKind::kDoubleColon, 2);
        break;
      default:
        break;
    }
    std::string shown;
    if (static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7F) {
      shown = fmt::format("'{}'", c);
    } else {
      shown = fmt::format("byte 0x{:02X}", static_cast<unsigned char>(c));
    }
    return ErrorAt(source_, position_, fmt::format("unexpected character {}", shown),
                   c == '&' ? "use AND (or &&)" : (c == '|' ? "use OR (or ||)" : ""));
  }

  Result<Token> Number() {
    const size_t start = position_;
    size_t end = start;
    bool is_decimal = false;
    while (IsDigit(At(end))) ++end;
    if (At(end) == '.') {
      is_decimal = true;
      ++end;
      while (IsDigit(At(end))) ++end;
    }
    if (At(end) == 'e' || At(end) == 'E') {
      size_t exponent = end + 1;
      if (At(exponent) == '+' || At(exponent) == '-') ++exponent;
      if (!IsDigit(At(exponent)))
        return ErrorAt(source_, start, "malformed number: exponent has no digits");
      is_decimal = true;
      end = exponent;
      while (IsDigit(At(end))) ++end;
    }
    if (IsIdentifierPart(At(end)) || At(end) == '.') {
      return ErrorAt(source_, start, "malformed number",
                     "separate the number from the next word, or quote a field name with \"...\"");
    }
    Token token{is_decimal ? TokenKind::kDecimal : TokenKind::kInteger, start,
                std::string(text_.substr(start, end - start))};
    position_ = end;
    return token;
  }

  /// A quoted string or identifier; the quote character is escaped by doubling it.
  Result<Token> Quoted(char quote, TokenKind kind, const char* what) {
    const size_t start = position_;
    std::string value;
    size_t i = start + 1;
    while (true) {
      if (i >= text_.size()) {
        return ErrorAt(source_, start, fmt::format("unterminated {}", what),
                       fmt::format("close it with {}; write {}{} for a literal {}", quote, quote,
                                   quote, quote));
      }
      if (text_[i] == quote) {
        if (At(i + 1) == quote) {
          value += quote;
          i += 2;
          continue;
        }
        break;
      }
      value += text_[i++];
    }
    position_ = i + 1;
    if (kind == TokenKind::kQuotedIdentifier && value.empty()) {
      return ErrorAt(source_, start, "empty quoted identifier");
    }
    return Token{kind, start, std::move(value)};
  }

  const config::LocatedText& source_;
  std::string_view text_;
  size_t position_ = 0;
};

}  // namespace

Result<std::vector<Token>> Tokenize(const config::LocatedText& source) {
  return Lexer(source).Run();
}

std::string Describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kEnd:
      return "end of expression";
    case TokenKind::kInteger:
    case TokenKind::kDecimal:
      return fmt::format("number {}", token.text);
    case TokenKind::kString:
      return "string literal";
    case TokenKind::kIdentifier:
      return fmt::format("'{}'", token.text);
    case TokenKind::kQuotedIdentifier:
      return fmt::format("\"{}\"", token.text);
    case TokenKind::kLeftParenthesis:
      return "'('";
    case TokenKind::kRightParenthesis:
      return "')'";
    case TokenKind::kComma:
      return "','";
    case TokenKind::kPlus:
      return "'+'";
    case TokenKind::kMinus:
      return "'-'";
    case TokenKind::kStar:
      return "'*'";
    case TokenKind::kSlash:
      return "'/'";
    case TokenKind::kPercent:
      return "'%'";
    case TokenKind::kEqual:
      return "'='";
    case TokenKind::kNotEqual:
      return "'<>'";
    case TokenKind::kLess:
      return "'<'";
    case TokenKind::kLessEqual:
      return "'<='";
    case TokenKind::kGreater:
      return "'>'";
    case TokenKind::kGreaterEqual:
      return "'>='";
    case TokenKind::kAmpersands:
      return "'&&'";
    case TokenKind::kBars:
      return "'||'";
    case TokenKind::kBang:
      return "'!'";
    case TokenKind::kDoubleColon:
      return "'::'";
  }
  return "token";
}

}  // namespace sluice::expr
