#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace sluice::expr {

/// The deepest expression tree the parser builds. Evaluation, binding and destruction walk the
/// tree recursively, so a bound on depth is what keeps a hostile expression from exhausting the
/// stack.
inline constexpr int kMaxDepth = 256;

/// Which syntax a Node stands for; it decides which members of Node are meaningful.
enum class NodeKind {
  kLiteral,  ///< `literal`
  kField,    ///< `name` is the field name, exactly as written (case-sensitive)
  kUnary,    ///< `unary_operator` applied to children[0]
  kBinary,   ///< `binary_operator` applied to children[0] and children[1]
  kCall,     ///< function `name` applied to `children`
  kCast,     ///< children[0] converted to the type called `name`
  kCase,     ///< [operand], (when, then)..., [else] in `children`; see has_operand/has_else
  kIn,       ///< children[0] [NOT] IN (children[1..])
  kBetween,  ///< children[0] [NOT] BETWEEN children[1] AND children[2]
  kLike,     ///< children[0] [NOT] LIKE/ILIKE children[1]
  kIsNull,   ///< children[0] IS [NOT] NULL
};

enum class UnaryOperator { kNegate, kPlus, kNot };

enum class BinaryOperator {
  kAdd,
  kSubtract,
  kMultiply,
  kDivide,
  kModulo,
  kEqual,
  kNotEqual,
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kAnd,
  kOr,
};

/// A literal as written: NULL (monostate), a boolean, an integer, a floating-point number or a
/// string.
using LiteralValue = std::variant<std::monostate, bool, int64_t, double, std::string>;

/// One node of a parsed expression. A plain tagged struct rather than a class hierarchy: the
/// binder switches on `kind`, and the parser is the only producer. A node owns its children.
struct Node {
  NodeKind kind = NodeKind::kLiteral;
  /// Byte offset in the source of the token that names this node (the operator, the function
  /// name, the literal); errors about the node point there.
  size_t offset = 0;
  /// Byte offset of the type name of a kCast node, so that an unknown type is reported there.
  size_t name_offset = 0;
  /// 1 for a leaf; 1 + the deepest child otherwise. Never above kMaxDepth.
  int depth = 1;

  LiteralValue literal;
  /// The integer literal 9223372036854775808, kept as a double unless it is negated, in which
  /// case it becomes the smallest int64 (which has no positive counterpart).
  bool is_int64_min_magnitude = false;

  std::string name;
  UnaryOperator unary_operator = UnaryOperator::kNegate;
  BinaryOperator binary_operator = BinaryOperator::kAdd;
  /// NOT IN, NOT BETWEEN, NOT LIKE, IS NOT NULL.
  bool negated = false;
  /// ILIKE rather than LIKE.
  bool case_insensitive = false;
  /// CASE x WHEN ... (the operand is children[0]) rather than CASE WHEN ...
  bool has_operand = false;
  /// CASE ... ELSE e END (e is the last child).
  bool has_else = false;

  std::vector<std::unique_ptr<Node>> children;
};

using NodePointer = std::unique_ptr<Node>;

/// Renders the tree fully parenthesised, e.g. "(a + (b * 2))". Tests use it to check precedence,
/// and the fuzzer to exercise every node kind.
std::string ToString(const Node& node);

/// The SQL spelling of an operator, e.g. "<=", for messages.
const char* OperatorSymbol(BinaryOperator op);

}  // namespace sluice::expr
