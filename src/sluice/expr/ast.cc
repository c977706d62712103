#include "sluice/expr/ast.h"

#include <fmt/format.h>

namespace sluice::expr {

namespace {

std::string LiteralToString(const Node& node) {
  struct Visitor {
    std::string operator()(std::monostate) const { return "NULL"; }
    std::string operator()(bool value) const { return value ? "TRUE" : "FALSE"; }
    std::string operator()(int64_t value) const { return std::to_string(value); }
    std::string operator()(double value) const { return fmt::format("{}", value); }
    std::string operator()(const std::string& value) const {
      std::string quoted = "'";
      for (char c : value) {
        quoted += c;
        if (c == '\'') quoted += '\'';
      }
      return quoted + "'";
    }
  };
  return std::visit(Visitor{}, node.literal);
}

std::string JoinChildren(const Node& node, size_t begin) {
  std::string joined;
  for (size_t i = begin; i < node.children.size(); ++i) {
    if (i > begin) joined += ", ";
    joined += ToString(*node.children[i]);
  }
  return joined;
}

}  // namespace

const char* OperatorSymbol(BinaryOperator op) {
  switch (op) {
    case BinaryOperator::kAdd:
      return "+";
    case BinaryOperator::kSubtract:
      return "-";
    case BinaryOperator::kMultiply:
      return "*";
    case BinaryOperator::kDivide:
      return "/";
    case BinaryOperator::kModulo:
      return "%";
    case BinaryOperator::kEqual:
      return "=";
    case BinaryOperator::kNotEqual:
      return "<>";
    case BinaryOperator::kLess:
      return "<";
    case BinaryOperator::kLessEqual:
      return "<=";
    case BinaryOperator::kGreater:
      return ">";
    case BinaryOperator::kGreaterEqual:
      return ">=";
    case BinaryOperator::kAnd:
      return "AND";
    case BinaryOperator::kOr:
      return "OR";
  }
  return "?";
}

std::string ToString(const Node& node) {
  const auto child = [&node](size_t i) { return ToString(*node.children[i]); };
  switch (node.kind) {
    case NodeKind::kLiteral:
      return LiteralToString(node);
    case NodeKind::kField: {
      std::string quoted = "\"";
      for (char c : node.name) {
        quoted += c;
        if (c == '"') quoted += '"';
      }
      return quoted + "\"";
    }
    case NodeKind::kUnary:
      switch (node.unary_operator) {
        case UnaryOperator::kNegate:
          return fmt::format("(- {})", child(0));
        case UnaryOperator::kPlus:
          return fmt::format("(+ {})", child(0));
        case UnaryOperator::kNot:
          return fmt::format("(NOT {})", child(0));
      }
      return "?";
    case NodeKind::kBinary:
      return fmt::format("({} {} {})", child(0), OperatorSymbol(node.binary_operator), child(1));
    case NodeKind::kCall:
      return fmt::format("{}({})", node.name, JoinChildren(node, 0));
    case NodeKind::kCast:
      return fmt::format("CAST({} AS {})", child(0), node.name);
    case NodeKind::kCase: {
      std::string text = "CASE";
      size_t i = 0;
      if (node.has_operand) text += " " + child(i++);
      const size_t end = node.children.size() - (node.has_else ? 1 : 0);
      for (; i + 1 < end; i += 2) {
        text += fmt::format(" WHEN {} THEN {}", child(i), child(i + 1));
      }
      if (node.has_else) text += " ELSE " + child(end);
      return text + " END";
    }
    case NodeKind::kIn:
      return fmt::format("({} {}IN ({}))", child(0), node.negated ? "NOT " : "",
                         JoinChildren(node, 1));
    case NodeKind::kBetween:
      return fmt::format("({} {}BETWEEN {} AND {})", child(0), node.negated ? "NOT " : "", child(1),
                         child(2));
    case NodeKind::kLike:
      return fmt::format("({} {}{} {})", child(0), node.negated ? "NOT " : "",
                         node.case_insensitive ? "ILIKE" : "LIKE", child(1));
    case NodeKind::kIsNull:
      return fmt::format("({} IS {}NULL)", child(0), node.negated ? "NOT " : "");
  }
  return "?";
}

}  // namespace sluice::expr
