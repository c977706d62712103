#include "sluice/expr/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <limits>

#include "sluice/expr/diagnostic.h"
#include "sluice/expr/lexer.h"

namespace sluice::expr {

namespace {

bool EqualsIgnoringCase(std::string_view left, std::string_view right) {
  if (left.size() != right.size()) return false;
  for (size_t i = 0; i < left.size(); ++i) {
    const char a = left[i] >= 'A' && left[i] <= 'Z' ? static_cast<char>(left[i] + 32) : left[i];
    const char b = right[i] >= 'A' && right[i] <= 'Z' ? static_cast<char>(right[i] + 32) : right[i];
    if (a != b) return false;
  }
  return true;
}

/// Words that cannot name a field unless double-quoted.
constexpr std::string_view kReservedWords[] = {"and",  "or",    "not",     "in",   "is",    "null",
                                               "true", "false", "between", "like", "ilike", "case",
                                               "when", "then",  "else",    "end",  "cast",  "as"};

bool IsReserved(const Token& token) {
  if (token.kind != TokenKind::kIdentifier) return false;
  return std::any_of(std::begin(kReservedWords), std::end(kReservedWords),
                     [&](std::string_view word) { return EqualsIgnoringCase(token.text, word); });
}

/// The integer literal whose negation is the smallest int64.
constexpr std::string_view kInt64MinMagnitude = "9223372036854775808";

class Parser {
 public:
  Parser(const config::LocatedText& source, std::vector<Token> tokens)
      : source_(source), tokens_(std::move(tokens)) {}

  Result<NodePointer> Run() {
    SLUICE_ASSIGN_OR_RAISE(NodePointer node, ParseOr());
    if (Peek().kind != TokenKind::kEnd) {
      if (IsComparison(Peek())) {
        return Error(Peek(), "comparisons cannot be chained", "add parentheses, e.g. (a < b) = c");
      }
      return Error(Peek(), fmt::format("unexpected {} after the expression", Describe(Peek())));
    }
    return node;
  }

 private:
  /// Counts recursion so that "((((...))))" or "- - - - x" fails cleanly before the stack does.
  class DepthGuard {
   public:
    explicit DepthGuard(int* depth) : depth_(depth) { ++*depth_; }
    ~DepthGuard() { --*depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

   private:
    int* depth_;
  };

  Status TooDeep(size_t offset) const {
    return ErrorAt(source_, offset,
                   fmt::format("expression is nested too deeply (more than {} levels)", kMaxDepth),
                   "split it up, or use IN (...) instead of a long chain of OR");
  }

  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(position_ + ahead, tokens_.size() - 1)];
  }
  const Token& Advance() {
    const Token& token = tokens_[position_];
    if (position_ + 1 < tokens_.size()) ++position_;
    return token;
  }
  bool IsKeyword(const Token& token, std::string_view word) const {
    return token.kind == TokenKind::kIdentifier && EqualsIgnoringCase(token.text, word);
  }
  bool AcceptKeyword(std::string_view word) {
    if (!IsKeyword(Peek(), word)) return false;
    Advance();
    return true;
  }
  bool Accept(TokenKind kind) {
    if (Peek().kind != kind) return false;
    Advance();
    return true;
  }

  Status Error(const Token& token, std::string_view message, std::string_view hint = {}) const {
    return ErrorAt(source_, token.offset, message, hint);
  }
  Status Expected(std::string_view what) const {
    return Error(Peek(), fmt::format("expected {} but found {}", what, Describe(Peek())));
  }
  Status Expect(TokenKind kind, std::string_view what) {
    if (Accept(kind)) return Status::OK();
    return Expected(what);
  }
  Status ExpectKeyword(std::string_view word) {
    if (AcceptKeyword(word)) return Status::OK();
    return Expected(word);
  }

  /// A node with its depth computed from its children; fails if that exceeds kMaxDepth.
  Result<NodePointer> Make(NodeKind kind, size_t offset, std::vector<NodePointer> children) {
    auto node = std::make_unique<Node>();
    node->kind = kind;
    node->offset = offset;
    int deepest = 0;
    for (const auto& child : children) deepest = std::max(deepest, child->depth);
    node->depth = deepest + 1;
    if (node->depth > kMaxDepth) return TooDeep(offset);
    node->children = std::move(children);
    return node;
  }
  Result<NodePointer> MakeBinary(BinaryOperator op, size_t offset, NodePointer left,
                                 NodePointer right) {
    std::vector<NodePointer> children;
    children.push_back(std::move(left));
    children.push_back(std::move(right));
    SLUICE_ASSIGN_OR_RAISE(NodePointer node, Make(NodeKind::kBinary, offset, std::move(children)));
    node->binary_operator = op;
    return node;
  }
  Result<NodePointer> MakeUnary(UnaryOperator op, size_t offset, NodePointer operand) {
    std::vector<NodePointer> children;
    children.push_back(std::move(operand));
    SLUICE_ASSIGN_OR_RAISE(NodePointer node, Make(NodeKind::kUnary, offset, std::move(children)));
    node->unary_operator = op;
    return node;
  }

  bool IsComparison(const Token& token) const {
    switch (token.kind) {
      case TokenKind::kEqual:
      case TokenKind::kNotEqual:
      case TokenKind::kLess:
      case TokenKind::kLessEqual:
      case TokenKind::kGreater:
      case TokenKind::kGreaterEqual:
        return true;
      default:
        break;
    }
    if (IsKeyword(token, "is") || IsKeyword(token, "in") || IsKeyword(token, "between") ||
        IsKeyword(token, "like") || IsKeyword(token, "ilike")) {
      return true;
    }
    return IsKeyword(token, "not") && (IsKeyword(Peek(1), "in") || IsKeyword(Peek(1), "between") ||
                                       IsKeyword(Peek(1), "like") || IsKeyword(Peek(1), "ilike"));
  }

  // expression := or
  Result<NodePointer> ParseOr() {
    DepthGuard guard(&nesting_);
    if (nesting_ > kMaxDepth) return TooDeep(Peek().offset);
    SLUICE_ASSIGN_OR_RAISE(NodePointer left, ParseAnd());
    while (IsKeyword(Peek(), "or") || Peek().kind == TokenKind::kBars) {
      const size_t offset = Advance().offset;
      SLUICE_ASSIGN_OR_RAISE(NodePointer right, ParseAnd());
      SLUICE_ASSIGN_OR_RAISE(
          left, MakeBinary(BinaryOperator::kOr, offset, std::move(left), std::move(right)));
    }
    return left;
  }

  Result<NodePointer> ParseAnd() {
    SLUICE_ASSIGN_OR_RAISE(NodePointer left, ParseNot());
    while (IsKeyword(Peek(), "and") || Peek().kind == TokenKind::kAmpersands) {
      const size_t offset = Advance().offset;
      SLUICE_ASSIGN_OR_RAISE(NodePointer right, ParseNot());
      SLUICE_ASSIGN_OR_RAISE(
          left, MakeBinary(BinaryOperator::kAnd, offset, std::move(left), std::move(right)));
    }
    return left;
  }

  Result<NodePointer> ParseNot() {
    if (IsKeyword(Peek(), "not") || Peek().kind == TokenKind::kBang) {
      DepthGuard guard(&nesting_);
      if (nesting_ > kMaxDepth) return TooDeep(Peek().offset);
      const size_t offset = Advance().offset;
      SLUICE_ASSIGN_OR_RAISE(NodePointer operand, ParseNot());
      return MakeUnary(UnaryOperator::kNot, offset, std::move(operand));
    }
    return ParsePredicate();
  }

  // predicate := additive [comparison additive | IS [NOT] NULL | [NOT] IN (...) |
  //                        [NOT] BETWEEN additive AND additive | [NOT] [I]LIKE additive]
  Result<NodePointer> ParsePredicate() {
    SLUICE_ASSIGN_OR_RAISE(NodePointer left, ParseAdditive());
    if (!IsComparison(Peek())) return left;
    const Token& first = Peek();
    const size_t offset = first.offset;
    NodePointer result;
    if (first.kind != TokenKind::kIdentifier) {
      BinaryOperator op = BinaryOperator::kEqual;
      switch (first.kind) {
        case TokenKind::kNotEqual:
          op = BinaryOperator::kNotEqual;
          break;
        case TokenKind::kLess:
          op = BinaryOperator::kLess;
          break;
        case TokenKind::kLessEqual:
          op = BinaryOperator::kLessEqual;
          break;
        case TokenKind::kGreater:
          op = BinaryOperator::kGreater;
          break;
        case TokenKind::kGreaterEqual:
          op = BinaryOperator::kGreaterEqual;
          break;
        default:
          break;
      }
      Advance();
      SLUICE_ASSIGN_OR_RAISE(NodePointer right, ParseAdditive());
      SLUICE_ASSIGN_OR_RAISE(result, MakeBinary(op, offset, std::move(left), std::move(right)));
    } else if (AcceptKeyword("is")) {
      const bool negated = AcceptKeyword("not");
      SLUICE_RETURN_NOT_OK(ExpectKeyword("NULL"));
      std::vector<NodePointer> children;
      children.push_back(std::move(left));
      SLUICE_ASSIGN_OR_RAISE(result, Make(NodeKind::kIsNull, offset, std::move(children)));
      result->negated = negated;
    } else {
      const bool negated = AcceptKeyword("not");
      std::vector<NodePointer> children;
      children.push_back(std::move(left));
      if (AcceptKeyword("in")) {
        SLUICE_RETURN_NOT_OK(Expect(TokenKind::kLeftParenthesis, "'(' after IN"));
        do {
          SLUICE_ASSIGN_OR_RAISE(NodePointer item, ParseOr());
          children.push_back(std::move(item));
        } while (Accept(TokenKind::kComma));
        SLUICE_RETURN_NOT_OK(Expect(TokenKind::kRightParenthesis, "',' or ')' in the IN list"));
        SLUICE_ASSIGN_OR_RAISE(result, Make(NodeKind::kIn, offset, std::move(children)));
      } else if (AcceptKeyword("between")) {
        SLUICE_ASSIGN_OR_RAISE(NodePointer low, ParseAdditive());
        SLUICE_RETURN_NOT_OK(ExpectKeyword("AND"));
        SLUICE_ASSIGN_OR_RAISE(NodePointer high, ParseAdditive());
        children.push_back(std::move(low));
        children.push_back(std::move(high));
        SLUICE_ASSIGN_OR_RAISE(result, Make(NodeKind::kBetween, offset, std::move(children)));
      } else {
        const bool case_insensitive = IsKeyword(Peek(), "ilike");
        Advance();  // LIKE or ILIKE: IsComparison() saw one of them
        SLUICE_ASSIGN_OR_RAISE(NodePointer pattern, ParseAdditive());
        children.push_back(std::move(pattern));
        SLUICE_ASSIGN_OR_RAISE(result, Make(NodeKind::kLike, offset, std::move(children)));
        result->case_insensitive = case_insensitive;
      }
      result->negated = negated;
    }
    if (IsComparison(Peek())) {
      return Error(Peek(), "comparisons cannot be chained", "add parentheses, e.g. (a < b) = c");
    }
    return result;
  }

  Result<NodePointer> ParseAdditive() {
    SLUICE_ASSIGN_OR_RAISE(NodePointer left, ParseMultiplicative());
    while (Peek().kind == TokenKind::kPlus || Peek().kind == TokenKind::kMinus) {
      const Token& token = Advance();
      const auto op =
          token.kind == TokenKind::kPlus ? BinaryOperator::kAdd : BinaryOperator::kSubtract;
      SLUICE_ASSIGN_OR_RAISE(NodePointer right, ParseMultiplicative());
      SLUICE_ASSIGN_OR_RAISE(left, MakeBinary(op, token.offset, std::move(left), std::move(right)));
    }
    return left;
  }

  Result<NodePointer> ParseMultiplicative() {
    SLUICE_ASSIGN_OR_RAISE(NodePointer left, ParseUnary());
    while (Peek().kind == TokenKind::kStar || Peek().kind == TokenKind::kSlash ||
           Peek().kind == TokenKind::kPercent) {
      const Token& token = Advance();
      const auto op = token.kind == TokenKind::kStar    ? BinaryOperator::kMultiply
                      : token.kind == TokenKind::kSlash ? BinaryOperator::kDivide
                                                        : BinaryOperator::kModulo;
      SLUICE_ASSIGN_OR_RAISE(NodePointer right, ParseUnary());
      SLUICE_ASSIGN_OR_RAISE(left, MakeBinary(op, token.offset, std::move(left), std::move(right)));
    }
    return left;
  }

  Result<NodePointer> ParseUnary() {
    if (Peek().kind != TokenKind::kMinus && Peek().kind != TokenKind::kPlus) return ParsePostfix();
    DepthGuard guard(&nesting_);
    if (nesting_ > kMaxDepth) return TooDeep(Peek().offset);
    const Token& token = Advance();
    const bool negate = token.kind == TokenKind::kMinus;
    SLUICE_ASSIGN_OR_RAISE(NodePointer operand, ParseUnary());
    // Fold the sign into a numeric literal, so that -3 is a constant (functions such as
    // round(x, -1) need constant arguments) and -9223372036854775808 is representable.
    if (operand->kind == NodeKind::kLiteral && operand->children.empty()) {
      auto* integer = std::get_if<int64_t>(&operand->literal);
      // The smallest int64 has no positive counterpart: its negation is left to the binder,
      // which reports the overflow.
      if (integer != nullptr && *integer != std::numeric_limits<int64_t>::min()) {
        if (negate) *integer = -*integer;
        operand->offset = token.offset;
        return operand;
      }
      if (auto* real = std::get_if<double>(&operand->literal)) {
        if (negate && operand->is_int64_min_magnitude) {
          operand->literal = std::numeric_limits<int64_t>::min();
          operand->is_int64_min_magnitude = false;
        } else if (negate) {
          *real = -*real;
        }
        operand->offset = token.offset;
        return operand;
      }
    }
    return MakeUnary(negate ? UnaryOperator::kNegate : UnaryOperator::kPlus, token.offset,
                     std::move(operand));
  }

  Result<NodePointer> ParsePostfix() {
    SLUICE_ASSIGN_OR_RAISE(NodePointer operand, ParsePrimary());
    while (Peek().kind == TokenKind::kDoubleColon) {
      const size_t offset = Advance().offset;
      SLUICE_ASSIGN_OR_RAISE(operand, MakeCast(offset, std::move(operand)));
    }
    return operand;
  }

  /// The type name after '::' or AS, kept as written; the binder resolves it.
  Result<NodePointer> MakeCast(size_t offset, NodePointer operand) {
    if (Peek().kind != TokenKind::kIdentifier) return Expected("a type name");
    const Token& type = Advance();
    std::vector<NodePointer> children;
    children.push_back(std::move(operand));
    SLUICE_ASSIGN_OR_RAISE(NodePointer node, Make(NodeKind::kCast, offset, std::move(children)));
    node->name = type.text;
    node->name_offset = type.offset;
    return node;
  }

  Result<NodePointer> MakeLiteral(size_t offset, LiteralValue value) {
    SLUICE_ASSIGN_OR_RAISE(NodePointer node, Make(NodeKind::kLiteral, offset, {}));
    node->literal = std::move(value);
    return node;
  }

  Result<NodePointer> ParseNumber(const Token& token) {
    if (token.kind == TokenKind::kInteger) {
      int64_t value = 0;
      const char* end = token.text.data() + token.text.size();
      auto [stop, error] = std::from_chars(token.text.data(), end, value);
      if (error == std::errc() && stop == end) return MakeLiteral(token.offset, value);
      // Too large for int64: like DuckDB's wider integers, but approximated by a double.
      SLUICE_ASSIGN_OR_RAISE(NodePointer node,
                             MakeLiteral(token.offset, std::strtod(token.text.c_str(), nullptr)));
      node->is_int64_min_magnitude = token.text == kInt64MinMagnitude;
      return node;
    }
    // strtod rather than from_chars: it gives infinity for 1e400, as DuckDB does.
    return MakeLiteral(token.offset, std::strtod(token.text.c_str(), nullptr));
  }

  Result<NodePointer> ParsePrimary() {
    const Token& token = Peek();
    switch (token.kind) {
      case TokenKind::kInteger:
      case TokenKind::kDecimal:
        Advance();
        return ParseNumber(token);
      case TokenKind::kString:
        Advance();
        return MakeLiteral(token.offset, token.text);
      case TokenKind::kQuotedIdentifier: {
        Advance();
        SLUICE_ASSIGN_OR_RAISE(NodePointer node, Make(NodeKind::kField, token.offset, {}));
        node->name = token.text;
        return node;
      }
      case TokenKind::kLeftParenthesis: {
        Advance();
        SLUICE_ASSIGN_OR_RAISE(NodePointer inner, ParseOr());
        SLUICE_RETURN_NOT_OK(Expect(TokenKind::kRightParenthesis, "')'"));
        return inner;
      }
      case TokenKind::kIdentifier:
        return ParseWord();
      case TokenKind::kEnd:
        return Error(token, "unexpected end of expression");
      default:
        return Error(token, fmt::format("expected an expression but found {}", Describe(token)));
    }
  }

  /// A keyword-led construct, a function call or a field name.
  Result<NodePointer> ParseWord() {
    const Token& token = Advance();
    if (IsKeyword(token, "null")) return MakeLiteral(token.offset, std::monostate{});
    if (IsKeyword(token, "true")) return MakeLiteral(token.offset, true);
    if (IsKeyword(token, "false")) return MakeLiteral(token.offset, false);
    if (IsKeyword(token, "case")) return ParseCase(token.offset);
    if (IsKeyword(token, "cast")) {
      SLUICE_RETURN_NOT_OK(Expect(TokenKind::kLeftParenthesis, "'(' after CAST"));
      SLUICE_ASSIGN_OR_RAISE(NodePointer operand, ParseOr());
      SLUICE_RETURN_NOT_OK(ExpectKeyword("AS"));
      SLUICE_ASSIGN_OR_RAISE(NodePointer node, MakeCast(token.offset, std::move(operand)));
      SLUICE_RETURN_NOT_OK(Expect(TokenKind::kRightParenthesis, "')' to close CAST"));
      return node;
    }
    // Typed literals: DATE '2024-01-31', TIMESTAMP '2024-01-31 12:00:00'.
    if ((IsKeyword(token, "date") || IsKeyword(token, "timestamp")) &&
        Peek().kind == TokenKind::kString) {
      const Token& value = Advance();
      SLUICE_ASSIGN_OR_RAISE(NodePointer literal, MakeLiteral(value.offset, value.text));
      std::vector<NodePointer> children;
      children.push_back(std::move(literal));
      SLUICE_ASSIGN_OR_RAISE(NodePointer node,
                             Make(NodeKind::kCast, token.offset, std::move(children)));
      node->name = token.text;
      node->name_offset = token.offset;
      return node;
    }
    if (IsReserved(token)) {
      return Error(token,
                   fmt::format("expected an expression but found keyword {}", Describe(token)),
                   fmt::format("write \"{}\" to refer to a field of that name", token.text));
    }
    if (Peek().kind == TokenKind::kLeftParenthesis) {
      Advance();
      std::vector<NodePointer> arguments;
      if (!Accept(TokenKind::kRightParenthesis)) {
        do {
          SLUICE_ASSIGN_OR_RAISE(NodePointer argument, ParseOr());
          arguments.push_back(std::move(argument));
        } while (Accept(TokenKind::kComma));
        SLUICE_RETURN_NOT_OK(
            Expect(TokenKind::kRightParenthesis, "',' or ')' in the argument list"));
      }
      SLUICE_ASSIGN_OR_RAISE(NodePointer node,
                             Make(NodeKind::kCall, token.offset, std::move(arguments)));
      node->name = token.text;
      return node;
    }
    SLUICE_ASSIGN_OR_RAISE(NodePointer node, Make(NodeKind::kField, token.offset, {}));
    node->name = token.text;
    return node;
  }

  // CASE [operand] WHEN condition THEN value ... [ELSE value] END
  Result<NodePointer> ParseCase(size_t offset) {
    std::vector<NodePointer> children;
    bool has_operand = false;
    if (!IsKeyword(Peek(), "when")) {
      SLUICE_ASSIGN_OR_RAISE(NodePointer operand, ParseOr());
      children.push_back(std::move(operand));
      has_operand = true;
    }
    if (!IsKeyword(Peek(), "when")) return Expected("WHEN");
    while (AcceptKeyword("when")) {
      SLUICE_ASSIGN_OR_RAISE(NodePointer condition, ParseOr());
      SLUICE_RETURN_NOT_OK(ExpectKeyword("THEN"));
      SLUICE_ASSIGN_OR_RAISE(NodePointer value, ParseOr());
      children.push_back(std::move(condition));
      children.push_back(std::move(value));
    }
    bool has_else = false;
    if (AcceptKeyword("else")) {
      SLUICE_ASSIGN_OR_RAISE(NodePointer value, ParseOr());
      children.push_back(std::move(value));
      has_else = true;
    }
    SLUICE_RETURN_NOT_OK(ExpectKeyword("END"));
    SLUICE_ASSIGN_OR_RAISE(NodePointer node, Make(NodeKind::kCase, offset, std::move(children)));
    node->has_operand = has_operand;
    node->has_else = has_else;
    return node;
  }

  const config::LocatedText& source_;
  std::vector<Token> tokens_;
  size_t position_ = 0;
  int nesting_ = 0;
};

}  // namespace

Result<NodePointer> Parse(const config::LocatedText& source) {
  SLUICE_ASSIGN_OR_RAISE(std::vector<Token> tokens, Tokenize(source));
  return Parser(source, std::move(tokens)).Run();
}

}  // namespace sluice::expr
