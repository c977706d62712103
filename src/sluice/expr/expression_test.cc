#include "sluice/expr/expression.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "sluice/expr/parser.h"

namespace sluice::expr {
namespace {

config::LocatedText At(std::string text, int line = 3, int column = 11, bool quoted = false) {
  return config::LocatedText{std::move(text), config::Location{"pipeline.yaml", line, column},
                             quoted};
}

std::string Parsed(const std::string& text) {
  auto tree = ParseExpression(At(text));
  if (!tree.ok()) return "error: " + tree.status().message();
  return ToString(**tree);
}

TEST(ExpressionParserTest, Precedence) {
  EXPECT_EQ(Parsed("a OR b AND c"), R"(("a" OR ("b" AND "c")))");
  EXPECT_EQ(Parsed("a || b && c"), R"(("a" OR ("b" AND "c")))");
  EXPECT_EQ(Parsed("NOT a = b"), R"((NOT ("a" = "b")))");
  EXPECT_EQ(Parsed("!a AND b"), R"(((NOT "a") AND "b"))");
  EXPECT_EQ(Parsed("1 + 2 * 3 - 4 % 5 / 6"), "((1 + (2 * 3)) - ((4 % 5) / 6))");
  EXPECT_EQ(Parsed("(1 + 2) * 3"), "((1 + 2) * 3)");
  EXPECT_EQ(Parsed("-x::int"), R"((- CAST("x" AS int)))");
  EXPECT_EQ(Parsed("- - x"), R"((- (- "x")))");
  EXPECT_EQ(Parsed("a + 1 < b * 2"), R"((("a" + 1) < ("b" * 2)))");
  EXPECT_EQ(Parsed("x NOT BETWEEN 1 AND 2 AND y"), R"((("x" NOT BETWEEN 1 AND 2) AND "y"))");
  EXPECT_EQ(Parsed("a = 1 OR b IS NOT NULL"), R"((("a" = 1) OR ("b" IS NOT NULL)))");
  EXPECT_EQ(Parsed("a NOT IN (1, 2) AND s NOT ILIKE 'x%'"),
            R"((("a" NOT IN (1, 2)) AND ("s" NOT ILIKE 'x%')))");
  EXPECT_EQ(Parsed("a == 1 and b != 2 or c <> 3"), R"(((("a" = 1) AND ("b" <> 2)) OR ("c" <> 3)))");
}

TEST(ExpressionParserTest, Literals) {
  EXPECT_EQ(Parsed("-3"), "-3");
  EXPECT_EQ(Parsed("-9223372036854775808"), "-9223372036854775808");
  EXPECT_EQ(Parsed("9223372036854775807"), "9223372036854775807");
  EXPECT_EQ(Parsed("1.5e3"), "1500");
  EXPECT_EQ(Parsed(".5"), "0.5");
  EXPECT_EQ(Parsed("'it''s'"), "'it''s'");
  EXPECT_EQ(Parsed("TRUE AND false OR null"), "((TRUE AND FALSE) OR NULL)");
  EXPECT_EQ(Parsed(R"("odd ""name""" + 1)"), R"(("odd ""name""" + 1))");
  EXPECT_EQ(Parsed("DATE '2024-01-31'"), "CAST('2024-01-31' AS DATE)");
  EXPECT_EQ(Parsed("CAST(x AS bigint)"), R"(CAST("x" AS bigint))");
  EXPECT_EQ(Parsed("CASE WHEN a THEN 1 WHEN b THEN 2 ELSE 3 END"),
            R"(CASE WHEN "a" THEN 1 WHEN "b" THEN 2 ELSE 3 END)");
  EXPECT_EQ(Parsed("case x when 1 then 'one' end"), R"(CASE "x" WHEN 1 THEN 'one' END)");
  EXPECT_EQ(Parsed("Round(x, -1)"), R"(Round("x", -1))");
}

TEST(ExpressionParserTest, SyntaxErrorsAreLocated) {
  auto error = [](const std::string& text) { return ParseExpression(At(text)).status().message(); };
  EXPECT_EQ(error("i + "), "pipeline.yaml:3:15: error: unexpected end of expression");
  EXPECT_EQ(error("'abc"),
            "pipeline.yaml:3:11: error: unterminated string\n  hint: close it with '; write '' for "
            "a literal '");
  EXPECT_EQ(error("1 < 2 = 3"),
            "pipeline.yaml:3:17: error: comparisons cannot be chained\n  hint: add parentheses, "
            "e.g. (a < b) = c");
  EXPECT_EQ(error("a = = b"), "pipeline.yaml:3:15: error: expected an expression but found '='");
  EXPECT_EQ(error("f(1, 2"),
            "pipeline.yaml:3:17: error: expected ',' or ')' in the argument list but found end of "
            "expression");
  EXPECT_EQ(error("a # b"), "pipeline.yaml:3:13: error: unexpected character '#'");
  EXPECT_EQ(error("a & b"),
            "pipeline.yaml:3:13: error: unexpected character '&'\n  hint: use AND (or &&)");
  EXPECT_EQ(error("12abc"),
            "pipeline.yaml:3:11: error: malformed number\n  hint: separate the number from the "
            "next word, or quote a "
            "field name with \"...\"");
  EXPECT_EQ(error("CASE WHEN a THEN 1"),
            "pipeline.yaml:3:29: error: expected END but found end of expression");
  EXPECT_EQ(error("a IN ()"), "pipeline.yaml:3:17: error: expected an expression but found ')'");
  EXPECT_EQ(error("end + 1"),
            "pipeline.yaml:3:11: error: expected an expression but found keyword 'end'\n  hint: "
            "write \"end\" to refer "
            "to a field of that name");
  EXPECT_EQ(error("a 1"), "pipeline.yaml:3:13: error: unexpected number 1 after the expression");
  EXPECT_EQ(error("\"\""), "pipeline.yaml:3:11: error: empty quoted identifier");
  EXPECT_EQ(error(std::string("'a\xff'")),
            "pipeline.yaml:3:13: error: invalid UTF-8 in expression");
  // Columns count characters: 'é' is two bytes but one column.
  EXPECT_EQ(error("'é' = = 1"), "pipeline.yaml:3:17: error: expected an expression but found '='");
  // A quoted YAML scalar starts one column after its opening quote.
  EXPECT_EQ(ParseExpression(At("1 +", 2, 5, true)).status().message(),
            "pipeline.yaml:2:9: error: unexpected end of expression");
}

TEST(ExpressionParserTest, DeepNestingFailsCleanly) {
  const auto nested = [](const std::string& open, int depth, const std::string& middle,
                         const std::string& close) {
    std::string text;
    for (int i = 0; i < depth; ++i) text += open;
    text += middle;
    for (int i = 0; i < depth; ++i) text += close;
    return text;
  };
  EXPECT_TRUE(ParseExpression(At(nested("(", 200, "1", ")"))).ok());
  for (const auto& text :
       {nested("(", 300, "1", ")"), nested("(", 100000, "", ""), nested("-", 300, "1", ""),
        nested("NOT ", 300, "TRUE", ""), nested("abs(", 300, "1", ")"),
        nested("", 300, "1", " + 1"), nested("", 300, "1", "::int"),
        nested("CASE WHEN TRUE THEN ", 300, "1", " END")}) {
    auto result = ParseExpression(At(text));
    ASSERT_FALSE(result.ok()) << text.substr(0, 40);
    EXPECT_NE(result.status().message().find("nested too deeply"), std::string::npos)
        << result.status().message();
  }
  // A long but shallow expression is fine.
  std::string list = "x IN (0";
  for (int i = 1; i < 5000; ++i) list += ", " + std::to_string(i);
  EXPECT_TRUE(ParseExpression(At(list + ")")).ok());
}

/// A batch with every column type the language handles, and a NULL in each column.
class ExpressionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_ = arrow::schema({
        arrow::field("i", arrow::int64()),
        arrow::field("j", arrow::int64()),
        arrow::field("x", arrow::float64()),
        arrow::field("price", arrow::float64()),
        arrow::field("s", arrow::utf8()),
        arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
        arrow::field("d", arrow::date32()),
        arrow::field("b", arrow::boolean()),
        arrow::field("odd name", arrow::int32()),
    });
    batch_ = arrow::RecordBatch::Make(
        schema_, 4,
        {Array(arrow::int64(), "[1, -7, null, 10]"), Array(arrow::int64(), "[0, 3, 2, null]"),
         Array(arrow::float64(), "[5.5, -7.5, null, 2.0]"),
         Array(arrow::float64(), "[1.25, 2.5, 0, null]"),
         Array(arrow::utf8(), R"(["  a b  ", "héllo", null, "abc"])"),
         Array(
             arrow::timestamp(arrow::TimeUnit::MICRO),
             R"(["2024-03-05 10:11:12.5", "1969-12-31 23:59:59.9995", null, "2024-12-31 23:59:59"])"),
         Array(arrow::date32(), "[19787, 0, null, 20088]"),
         Array(arrow::boolean(), "[true, false, null, true]"),
         Array(arrow::int32(), "[1, 2, 3, 4]")});
  }

  static std::shared_ptr<arrow::Array> Array(const std::shared_ptr<arrow::DataType>& type,
                                             const std::string& json) {
    auto array = arrow::json::ArrayFromJSONString(type, json);
    EXPECT_TRUE(array.ok()) << array.status().ToString();
    return array.ValueOrDie();
  }

  Result<CompiledExpression> CompileText(const std::string& text) {
    return Compile(At(text), *schema_);
  }

  std::string CompileError(const std::string& text) {
    auto compiled = CompileText(text);
    if (compiled.ok()) return "compiled to " + compiled->type->ToString();
    return compiled.status().message();
  }

  Result<std::shared_ptr<arrow::Array>> Run(const std::string& text) {
    SLUICE_ASSIGN_OR_RAISE(auto compiled, CompileText(text));
    return Evaluate(compiled, *batch_);
  }

  /// Evaluates `text` on the batch and compares with `json` of type `type`.
  void Expect(const std::string& text, const std::shared_ptr<arrow::DataType>& type,
              const std::string& json) {
    SCOPED_TRACE(text);
    auto compiled = CompileText(text);
    ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
    EXPECT_TRUE(compiled->type->Equals(*type)) << compiled->type->ToString();
    auto result = Evaluate(*compiled, *batch_);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    auto expected = Array(type, json);
    EXPECT_TRUE((*result)->Equals(*expected))
        << "got " << (*result)->ToString() << "\nwant " << expected->ToString();
  }

  void ExpectEvaluationError(const std::string& text) {
    SCOPED_TRACE(text);
    auto compiled = CompileText(text);
    ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
    EXPECT_FALSE(Evaluate(*compiled, *batch_).ok());
  }

  std::shared_ptr<arrow::Schema> schema_;
  std::shared_ptr<arrow::RecordBatch> batch_;
};

const auto kBool = arrow::boolean();
const auto kInt = arrow::int64();
const auto kDouble = arrow::float64();
const auto kString = arrow::utf8();

TEST_F(ExpressionTest, Arithmetic) {
  Expect("i + j", kInt, "[1, -4, null, null]");
  Expect("i - j", kInt, "[1, -10, null, null]");
  Expect("i * j", kInt, "[0, -21, null, null]");
  Expect("j / 2", kDouble, "[0, 1.5, 1, null]");
  Expect("i + x", kDouble, "[6.5, -14.5, null, 12]");
  Expect("-i", kInt, "[-1, 7, null, -10]");
  Expect("+i", kInt, "[1, -7, null, 10]");
  Expect("-x", kDouble, "[-5.5, 7.5, null, -2]");
  // As in DuckDB, an INTEGER column times a small literal stays INTEGER.
  Expect("\"odd name\" * 2", arrow::int32(), "[2, 4, 6, 8]");
  Expect("\"odd name\" * 3000000000", kInt, "[3000000000, 6000000000, 9000000000, 12000000000]");
  Expect("\"odd name\" + 0.5", kDouble, "[1.5, 2.5, 3.5, 4.5]");
  Expect("i + NULL", kInt, "[null, null, null, null]");
  Expect("1 + 2 * 3", kInt, "[7, 7, 7, 7]");
  Expect("-9223372036854775808 + j", kInt,
         "[-9223372036854775808, -9223372036854775805, -9223372036854775806, null]");
}

TEST_F(ExpressionTest, ArithmeticEdgeCases) {
  // Overflow is a data error at evaluation; in a constant, a compile error.
  ExpectEvaluationError("i * 9223372036854775807");
  ExpectEvaluationError("-(i - 9223372036854775807 - 2)");
  EXPECT_NE(CompileError("9223372036854775807 + 1")
                .find("pipeline.yaml:3:31: error: this constant expression fails"),
            std::string::npos);
  // '/' divides in floating point; a zero divisor gives infinity or NaN as in DuckDB.
  auto divided = Run("i / j");
  ASSERT_TRUE(divided.ok()) << divided.status().ToString();
  const auto& quotients = static_cast<const arrow::DoubleArray&>(**divided);
  EXPECT_TRUE(std::isinf(quotients.Value(0)));
  EXPECT_DOUBLE_EQ(quotients.Value(1), -7.0 / 3.0);
  auto nan = Run("0 / 0");
  ASSERT_TRUE(nan.ok());
  EXPECT_TRUE(std::isnan(static_cast<const arrow::DoubleArray&>(**nan).Value(0)));
}

TEST_F(ExpressionTest, Modulo) {
  Expect("i % j", kInt, "[null, -1, null, null]");
  Expect("i % 3", kInt, "[1, -1, null, 1]");
  Expect("7 % -3", kInt, "[1, 1, 1, 1]");
  Expect("-7 % 3", kInt, "[-1, -1, -1, -1]");
  Expect("x % 2", kDouble, "[1.5, -1.5, null, 0]");
  Expect("i % 2.5", kDouble, "[1, -2, null, 0]");
  Expect("i % 0", kInt, "[null, null, null, null]");
  auto nan = Run("x % 0.0");
  ASSERT_TRUE(nan.ok());
  EXPECT_TRUE(std::isnan(static_cast<const arrow::DoubleArray&>(**nan).Value(0)));
  ExpectEvaluationError("(i - i - 9223372036854775807 - 1) % -1");
}

TEST_F(ExpressionTest, Comparisons) {
  Expect("i = 1", kBool, "[true, false, null, false]");
  Expect("i == 1", kBool, "[true, false, null, false]");
  Expect("i != 1", kBool, "[false, true, null, true]");
  Expect("i <> 1", kBool, "[false, true, null, true]");
  Expect("i < j", kBool, "[false, true, null, null]");
  Expect("i <= 1", kBool, "[true, true, null, false]");
  Expect("i > x", kBool, "[false, true, null, true]");
  Expect("i >= 1", kBool, "[true, false, null, true]");
  Expect("s < 'b'", kBool, "[true, false, null, true]");
  Expect("i = NULL", kBool, "[null, null, null, null]");
  Expect("i = '1'", kBool, "[true, false, null, false]");
  Expect("ts > '2024-06-01'", kBool, "[false, false, null, true]");
  Expect("d = '2024-03-05'", kBool, "[true, false, null, false]");
  Expect("d < ts", kBool, "[true, false, null, true]");
  Expect("b = true", kBool, "[true, false, null, true]");
  // DuckDB orders NaN above every number and equal to itself.
  Expect("0.0 / 0.0 > x", kBool, "[true, true, null, true]");
  Expect("x < 0.0 / 0.0", kBool, "[true, true, null, true]");
  Expect("x >= 0.0 / 0.0", kBool, "[false, false, null, false]");
  Expect("x / 0 * 0 = 0.0 / 0.0", kBool, "[true, true, null, true]");
  Expect("x / 0 * 0 <> 0.0 / 0.0", kBool, "[false, false, null, false]");
  Expect("x / 0 * 0 <= 1e308 * 10", kBool, "[false, false, null, false]");
  Expect("greatest(x, 0.0 / 0.0) = 0.0 / 0.0", kBool, "[true, true, true, true]");
  Expect("x IN (0.0 / 0.0, i)", kBool, "[false, false, null, false]");
}

TEST_F(ExpressionTest, Logic) {
  Expect("b AND NULL", kBool, "[null, false, null, null]");
  Expect("b OR NULL", kBool, "[true, null, null, true]");
  Expect("b && i > 0", kBool, "[true, false, null, true]");
  Expect("b || i > 0", kBool, "[true, false, null, true]");
  Expect("NOT b", kBool, "[false, true, null, false]");
  Expect("!b", kBool, "[false, true, null, false]");
  Expect("NOT NULL", kBool, "[null, null, null, null]");
  Expect("i IS NULL", kBool, "[false, false, true, false]");
  Expect("x IS NOT NULL", kBool, "[true, true, false, true]");
  Expect("NULL IS NULL", kBool, "[true, true, true, true]");
}

TEST_F(ExpressionTest, InBetweenLike) {
  Expect("i IN (1, 10)", kBool, "[true, false, null, true]");
  Expect("i IN (1, NULL)", kBool, "[true, null, null, null]");
  Expect("i NOT IN (1, NULL)", kBool, "[false, null, null, null]");
  Expect("i NOT IN (1, 2)", kBool, "[false, true, null, true]");
  Expect("i IN (j, 1)", kBool, "[true, false, null, null]");
  Expect("i IN (1.0, 2.5)", kBool, "[true, false, null, false]");
  Expect("s IN ('abc', 'x')", kBool, "[false, false, null, true]");
  Expect("d IN ('2024-03-05')", kBool, "[true, false, null, false]");
  Expect("i BETWEEN 0 AND 5", kBool, "[true, false, null, false]");
  Expect("i NOT BETWEEN 0 AND 5", kBool, "[false, true, null, true]");
  Expect("i BETWEEN 0 AND NULL", kBool, "[null, false, null, null]");
  Expect("x BETWEEN i AND 6", kBool, "[true, false, null, false]");
  Expect("s LIKE 'a%'", kBool, "[false, false, null, true]");
  Expect("s LIKE '%l_o'", kBool, "[false, true, null, false]");
  Expect("s ILIKE 'ABC'", kBool, "[false, false, null, true]");
  Expect("s NOT LIKE 'a%'", kBool, "[true, true, null, false]");
  Expect("s NOT ILIKE '%B%'", kBool, "[false, true, null, false]");
  Expect("s LIKE NULL", kBool, "[null, null, null, null]");
  // Without an ESCAPE clause a backslash is an ordinary character, as in DuckDB.
  Expect(R"('a\b' LIKE 'a\b')", kBool, "[true, true, true, true]");
  Expect(R"('a_c' LIKE 'a\_c')", kBool, "[false, false, false, false]");
}

TEST_F(ExpressionTest, Case) {
  Expect("CASE WHEN i > 0 THEN 'pos' WHEN i < 0 THEN 'neg' ELSE 'none' END", kString,
         R"(["pos", "neg", "none", "pos"])");
  Expect("CASE i WHEN 1 THEN 10 WHEN -7 THEN 20 END", kInt, "[10, 20, null, null]");
  // A NULL condition does not match; branch types unify to double.
  Expect("CASE WHEN b THEN 1 ELSE 2.5 END", kDouble, "[1, 2.5, 2.5, 1]");
  Expect("CASE WHEN b THEN ts ELSE '2000-01-01' END", arrow::timestamp(arrow::TimeUnit::MICRO),
         R"(["2024-03-05 10:11:12.5", "2000-01-01", "2000-01-01", "2024-12-31 23:59:59"])");
  Expect("CASE NULL WHEN NULL THEN 1 ELSE 2 END", kInt, "[2, 2, 2, 2]");
}

/// i: [1, -7, null, 10]; s: ["  a b  ", "héllo", null, "abc"], none of which is a number; b:
/// [true, false, null, true]; "odd name": [1, 2, 3, 4].
TEST_F(ExpressionTest, ABranchRunsOnlyOnTheRowsThatSelectIt) {
  Expect("CASE WHEN s IS NULL THEN CAST(s AS int64) ELSE 0 END", kInt, "[0, 0, null, 0]");
  Expect("CASE WHEN i < 5 THEN i + 9223372036854775800 WHEN i IS NULL THEN -1 END", kInt,
         "[9223372036854775801, 9223372036854775793, -1, null]");
  // A NULL condition takes no row: the ELSE runs there.
  Expect("CASE WHEN b THEN 1 WHEN b IS NULL THEN CAST(s AS int64) ELSE 2 END", kInt,
         "[1, 2, null, 1]");
  Expect("CASE WHEN NOT b THEN i + 9223372036854775800 ELSE 0 END", kInt,
         "[0, 9223372036854775793, 0, 0]");
  Expect("b AND i IS NULL AND CAST(s AS int64) > 0", kBool, "[false, false, null, false]");
  Expect("b IS NOT NULL OR CAST(s AS int64) > 0", kBool, "[true, true, null, true]");
  Expect("coalesce(\"odd name\", CAST(s AS int32))", arrow::int32(), "[1, 2, 3, 4]");
  Expect("coalesce(s, CAST(i AS string))", kString, R"(["  a b  ", "héllo", null, "abc"])");
  Expect("nullif(CASE WHEN s IS NULL THEN 7 ELSE 0 END, 0)", kInt, "[null, null, 7, null]");
  // Rows that reach the failing branch still fail.
  ExpectEvaluationError("CASE WHEN i > 0 THEN CAST(s AS int64) END");
  ExpectEvaluationError("b OR CAST(s AS int64) > 0");
  ExpectEvaluationError("coalesce(j, CAST(s AS int64))");
  // A constant is evaluated when the expression is compiled, guarded or not.
  EXPECT_NE(CompileError("CASE WHEN FALSE THEN CAST('x' AS int) END").find("cannot convert"),
            std::string::npos);
}

/// When every row selects one branch, its values are the result as they are, without a copy.
TEST_F(ExpressionTest, ABranchEveryRowSelectsIsNotCopied) {
  auto compiled = CompileText("coalesce(\"odd name\", CAST(s AS int32))");
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  auto result = Evaluate(*compiled, *batch_);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ((*result)->data()->buffers[1]->data(), batch_->column(8)->data()->buffers[1]->data());
}

TEST_F(ExpressionTest, Cast) {
  // A double rounds to the nearest integer, halves to even, as in DuckDB.
  Expect("CAST(x AS bigint)", kInt, "[6, -8, null, 2]");
  Expect("CAST(x + 1 AS bigint)", kInt, "[6, -6, null, 3]");
  // Doubles print as DuckDB prints them.
  Expect("CAST(x AS string)", kString, R"(["5.5", "-7.5", null, "2.0"])");
  Expect(
      "concat(1e15, ' ', 1e16, ' ', 1e-5, ' ', 0.0001, ' ', -0.0, ' ', 0.1 + 0.2, ' ', 1e300 * "
      "1e300)",
      kString,
      R"(["1000000000000000.0 1e+16 1e-05 0.0001 -0.0 0.30000000000000004 inf",
             "1000000000000000.0 1e+16 1e-05 0.0001 -0.0 0.30000000000000004 inf",
             "1000000000000000.0 1e+16 1e-05 0.0001 -0.0 0.30000000000000004 inf",
             "1000000000000000.0 1e+16 1e-05 0.0001 -0.0 0.30000000000000004 inf"])");
  Expect("x::int", arrow::int32(), "[6, -8, null, 2]");
  Expect("CAST(i AS string)", kString, R"(["1", "-7", null, "10"])");
  Expect("CAST(' 12 ' AS int64)", kInt, "[12, 12, 12, 12]");
  Expect("CAST(b AS integer)", arrow::int32(), "[1, 0, null, 1]");
  Expect("CAST(i AS boolean)", kBool, "[true, true, null, true]");
  Expect("CAST(i AS double) / 2", kDouble, "[0.5, -3.5, null, 5]");
  Expect("'2024-03-05'::date = d", kBool, "[true, false, null, false]");
  Expect("CAST(ts AS date)", arrow::date32(), "[19787, -1, null, 20088]");
  Expect("CAST(d AS timestamp)", arrow::timestamp(arrow::TimeUnit::MICRO),
         R"(["2024-03-05", "1970-01-01", null, "2024-12-31"])");
  Expect("CAST(NULL AS text)", kString, "[null, null, null, null]");
  Expect("CAST(ts AS string)", kString,
         R"(["2024-03-05 10:11:12.5", "1969-12-31 23:59:59.9995", null, "2024-12-31 23:59:59"])");
  Expect("CAST(d AS string)", kString, R"(["2024-03-05", "1970-01-01", null, "2024-12-31"])");
  Expect("TIMESTAMP '2024-01-01 00:00:00' < ts", kBool, "[true, false, null, true]");
  ExpectEvaluationError("CAST(s AS int64)");
  ExpectEvaluationError("CAST(x * 1e300 AS bigint)");
  EXPECT_EQ(CompileError("CAST(ts AS bool)"),
            "pipeline.yaml:3:11: error: cannot cast timestamp[us] to bool");
  EXPECT_EQ(CompileError("i::boool"),
            "pipeline.yaml:3:14: error: unknown type 'boool'\n  hint: did you mean 'bool'?");
  const std::string conversion_error =
      "pipeline.yaml:3:11: error: cannot convert 'abc' to int64\n  hint: ";
  EXPECT_EQ(CompileError("CAST('abc' AS int64)").substr(0, conversion_error.size()),
            conversion_error);
}

TEST_F(ExpressionTest, NumericFunctions) {
  Expect("abs(i)", kInt, "[1, 7, null, 10]");
  Expect("ABS(x)", kDouble, "[5.5, 7.5, null, 2]");
  Expect("round(x)", kDouble, "[6, -8, null, 2]");
  Expect("round(2.5) + round(-2.5)", kDouble, "[0, 0, 0, 0]");
  Expect("round(-2.5)", kDouble, "[-3, -3, -3, -3]");
  Expect("round(price, 1)", kDouble, "[1.3, 2.5, 0, null]");
  Expect("round(i, -1)", kInt, "[0, -10, null, 10]");
  Expect("round(15, -1) + round(-25, -1)", kInt, "[-10, -10, -10, -10]");
  Expect("round(i, 2)", kInt, "[1, -7, null, 10]");
  Expect("round(x, NULL)", kDouble, "[null, null, null, null]");
  Expect("floor(x)", kDouble, "[5, -8, null, 2]");
  Expect("floor(i)", kDouble, "[1, -7, null, 10]");
  Expect("ceil(x)", kDouble, "[6, -7, null, 2]");
  Expect("ceiling(x)", kDouble, "[6, -7, null, 2]");
  Expect("sqrt(j)", kDouble, "[0, 1.7320508075688772, 1.4142135623730951, null]");
  Expect("power(2, 10) + pow(j, 2)", kDouble, "[1024, 1033, 1028, null]");
  Expect("exp(0) + ln(1) + log10(100) + log2(8)", kDouble, "[6, 6, 6, 6]");
  Expect("sign(i)", arrow::int8(), "[1, -1, null, 1]");
  Expect("sign(x - 2)", arrow::int8(), "[1, -1, null, 0]");
  Expect("sign(0.0 / 0.0)", arrow::int8(), "[0, 0, 0, 0]");
  ExpectEvaluationError("sqrt(x)");
  ExpectEvaluationError("ln(j)");
  ExpectEvaluationError("abs(i - 9223372036854775807 - 2)");
}

TEST_F(ExpressionTest, ChoiceFunctions) {
  Expect("greatest(i, j)", kInt, "[1, 3, 2, 10]");
  Expect("least(i, j)", kInt, "[0, -7, 2, 10]");
  Expect("greatest(i, x)", kDouble, "[5.5, -7, null, 10]");
  Expect("least(s, 'b')", kString, R"(["  a b  ", "b", "b", "abc"])");
  Expect("greatest(NULL, NULL)", arrow::null(), "[null, null, null, null]");
  Expect("coalesce(i, j, 0)", kInt, "[1, -7, 2, 10]");
  Expect("coalesce(x, i)", kDouble, "[5.5, -7.5, null, 2]");
  Expect("nullif(i, 1)", kInt, "[null, -7, null, 10]");
  Expect("nullif(i, j)", kInt, "[1, -7, null, 10]");
}

TEST_F(ExpressionTest, StringFunctions) {
  Expect("upper(s)", kString, R"(["  A B  ", "HÉLLO", null, "ABC"])");
  Expect("LOWER('ÀB')", kString, R"(["àb", "àb", "àb", "àb"])");
  Expect("length(s)", kInt, "[7, 5, null, 3]");
  Expect("char_length('héllo')", kInt, "[5, 5, 5, 5]");
  Expect("trim(s)", kString, R"(["a b", "héllo", null, "abc"])");
  Expect("ltrim(s)", kString, R"(["a b  ", "héllo", null, "abc"])");
  Expect("rtrim(s)", kString, R"(["  a b", "héllo", null, "abc"])");
  Expect("trim('xxaxx', 'x')", kString, R"(["a", "a", "a", "a"])");
  Expect("substr(s, 2, 3)", kString, R"([" a ", "éll", null, "bc"])");
  Expect("substring(s, -2)", kString, R"(["  ", "lo", null, "bc"])");
  Expect("concat(s, '-', i)", kString, R"(["  a b  -1", "héllo--7", "-", "abc-10"])");
  Expect("concat(NULL)", kString, R"(["", "", "", ""])");
  Expect("concat(b, 1.5)", kString, R"(["true1.5", "false1.5", "1.5", "true1.5"])");
  Expect("replace(s, 'l', 'L')", kString, R"(["  a b  ", "héLLo", null, "abc"])");
  Expect("replace(s, '', 'x')", kString, R"(["  a b  ", "héllo", null, "abc"])");
  Expect("starts_with(s, 'ab')", kBool, "[false, false, null, true]");
  Expect("ends_with(s, 'lo')", kBool, "[false, true, null, false]");
  Expect("contains(s, 'b')", kBool, "[true, false, null, true]");
  Expect("strpos(s, 'l')", kInt, "[0, 3, null, 0]");
  Expect("strpos(s, 'b')", kInt, "[5, 0, null, 2]");
  Expect("instr(s, '')", kInt, "[1, 1, null, 1]");
}

/// substr() against answers DuckDB 1.4 gave for the same calls.
TEST_F(ExpressionTest, SubstringMatchesDuckDb) {
  struct Case {
    const char* arguments;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"-12", {"", "h", "hello", "héllo wörld"}},
      {"-12, -12", {"", "", "", ""}},
      {"-12, -3", {"", "", "", ""}},
      {"-12, -1", {"", "", "", ""}},
      {"-12, 0", {"", "", "", ""}},
      {"-12, 1", {"", "", "", ""}},
      {"-12, 2", {"", "", "", "h"}},
      {"-12, 3", {"", "", "", "hé"}},
      {"-12, 12", {"", "h", "hello", "héllo wörld"}},
      {"-5", {"", "h", "hello", "wörld"}},
      {"-5, -12", {"", "", "", "héllo "}},
      {"-5, -3", {"", "", "", "lo "}},
      {"-5, -1", {"", "", "", " "}},
      {"-5, 0", {"", "", "", ""}},
      {"-5, 1", {"", "", "h", "w"}},
      {"-5, 2", {"", "", "he", "wö"}},
      {"-5, 3", {"", "", "hel", "wör"}},
      {"-5, 12", {"", "h", "hello", "wörld"}},
      {"-3", {"", "h", "llo", "rld"}},
      {"-3, -12", {"", "", "he", "héllo wö"}},
      {"-3, -3", {"", "", "he", " wö"}},
      {"-3, -1", {"", "", "e", "ö"}},
      {"-3, 0", {"", "", "", ""}},
      {"-3, 1", {"", "", "l", "r"}},
      {"-3, 2", {"", "", "ll", "rl"}},
      {"-3, 3", {"", "h", "llo", "rld"}},
      {"-3, 12", {"", "h", "llo", "rld"}},
      {"-1", {"", "h", "o", "d"}},
      {"-1, -12", {"", "", "hell", "héllo wörl"}},
      {"-1, -3", {"", "", "ell", "örl"}},
      {"-1, -1", {"", "", "l", "l"}},
      {"-1, 0", {"", "", "", ""}},
      {"-1, 1", {"", "h", "o", "d"}},
      {"-1, 2", {"", "h", "o", "d"}},
      {"-1, 3", {"", "h", "o", "d"}},
      {"-1, 12", {"", "h", "o", "d"}},
      {"0", {"", "h", "hello", "héllo wörld"}},
      {"0, -12", {"", "", "", ""}},
      {"0, -3", {"", "", "", ""}},
      {"0, -1", {"", "", "", ""}},
      {"0, 0", {"", "", "", ""}},
      {"0, 1", {"", "", "", ""}},
      {"0, 2", {"", "h", "h", "h"}},
      {"0, 3", {"", "h", "he", "hé"}},
      {"0, 12", {"", "h", "hello", "héllo wörld"}},
      {"1", {"", "h", "hello", "héllo wörld"}},
      {"1, -12", {"", "", "", ""}},
      {"1, -3", {"", "", "", ""}},
      {"1, -1", {"", "", "", ""}},
      {"1, 0", {"", "", "", ""}},
      {"1, 1", {"", "h", "h", "h"}},
      {"1, 2", {"", "h", "he", "hé"}},
      {"1, 3", {"", "h", "hel", "hél"}},
      {"1, 12", {"", "h", "hello", "héllo wörld"}},
      {"2", {"", "", "ello", "éllo wörld"}},
      {"2, -12", {"", "h", "h", "h"}},
      {"2, -3", {"", "h", "h", "h"}},
      {"2, -1", {"", "h", "h", "h"}},
      {"2, 0", {"", "", "", ""}},
      {"2, 1", {"", "", "e", "é"}},
      {"2, 2", {"", "", "el", "él"}},
      {"2, 3", {"", "", "ell", "éll"}},
      {"2, 12", {"", "", "ello", "éllo wörld"}},
      {"5", {"", "", "o", "o wörld"}},
      {"5, -12", {"", "h", "hell", "héll"}},
      {"5, -3", {"", "", "ell", "éll"}},
      {"5, -1", {"", "", "l", "l"}},
      {"5, 0", {"", "", "", ""}},
      {"5, 1", {"", "", "o", "o"}},
      {"5, 2", {"", "", "o", "o "}},
      {"5, 3", {"", "", "o", "o w"}},
      {"5, 12", {"", "", "o", "o wörld"}},
      {"6", {"", "", "", " wörld"}},
      {"6, -12", {"", "h", "hello", "héllo"}},
      {"6, -3", {"", "", "llo", "llo"}},
      {"6, -1", {"", "", "o", "o"}},
      {"6, 0", {"", "", "", ""}},
      {"6, 1", {"", "", "", " "}},
      {"6, 2", {"", "", "", " w"}},
      {"6, 3", {"", "", "", " wö"}},
      {"6, 12", {"", "", "", " wörld"}},
      {"12", {"", "", "", ""}},
      {"12, -12", {"", "h", "hello", "héllo wörld"}},
      {"12, -3", {"", "", "", "rld"}},
      {"12, -1", {"", "", "", "d"}},
      {"12, 0", {"", "", "", ""}},
      {"12, 1", {"", "", "", ""}},
      {"12, 2", {"", "", "", ""}},
      {"12, 3", {"", "", "", ""}},
      {"12, 12", {"", "", "", ""}},
  };
  auto schema = arrow::schema({arrow::field("s", arrow::utf8())});
  auto batch = arrow::RecordBatch::Make(
      schema, 4, {Array(arrow::utf8(), R"(["", "h", "hello", "héllo wörld"])")});
  for (const auto& test_case : cases) {
    const std::string text = std::string("substr(s, ") + test_case.arguments + ")";
    auto compiled = Compile(At(text), *schema);
    ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
    auto result = Evaluate(*compiled, *batch);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    const auto& strings = static_cast<const arrow::StringArray&>(**result);
    for (int64_t row = 0; row < 4; ++row) {
      EXPECT_EQ(strings.GetString(row), test_case.expected[row]) << text << " row " << row;
    }
  }
}

TEST_F(ExpressionTest, TemporalFunctions) {
  Expect("year(ts)", kInt, "[2024, 1969, null, 2024]");
  Expect("month(ts)", kInt, "[3, 12, null, 12]");
  Expect("day(ts)", kInt, "[5, 31, null, 31]");
  Expect("hour(ts)", kInt, "[10, 23, null, 23]");
  Expect("minute(ts)", kInt, "[11, 59, null, 59]");
  Expect("second(ts)", kInt, "[12, 59, null, 59]");
  Expect("year(d) * 100 + day(d)", kInt, "[202405, 197001, null, 202431]");
  Expect("hour(d)", kInt, "[0, 0, null, 0]");
  Expect("epoch_ms(ts)", kInt, "[1709633472500, 0, null, 1735689599000]");
  Expect(
      "epoch_ms(1500)", arrow::timestamp(arrow::TimeUnit::MICRO),
      R"(["1970-01-01 00:00:01.5", "1970-01-01 00:00:01.5", "1970-01-01 00:00:01.5", "1970-01-01 00:00:01.5"])");
  Expect("date_trunc('month', ts)", arrow::date32(), "[19783, -31, null, 20058]");
  Expect("date_trunc('week', ts)", arrow::date32(), "[19786, -3, null, 20087]");
  Expect("date_trunc('YEAR', d)", arrow::date32(), "[19723, 0, null, 19723]");
  Expect("date_trunc('hours', ts)", arrow::timestamp(arrow::TimeUnit::MICRO),
         R"(["2024-03-05 10:00:00", "1969-12-31 23:00:00", null, "2024-12-31 23:00:00"])");
  Expect("date_trunc('minute', d)", arrow::timestamp(arrow::TimeUnit::MICRO),
         R"(["2024-03-05", "1970-01-01", null, "2024-12-31"])");
  EXPECT_EQ(CompileError("date_trunc('fortnight', ts)"),
            "pipeline.yaml:3:22: error: unknown date_trunc unit 'fortnight'\n  hint: units are: "
            "microsecond, "
            "millisecond, second, minute, hour, day, week, month, quarter, year, decade");
}

TEST_F(ExpressionTest, BindingErrorsAreLocated) {
  EXPECT_EQ(CompileError("pricee > 1"),
            "pipeline.yaml:3:11: error: unknown field 'pricee'\n  hint: did you mean 'price'?");
  EXPECT_EQ(CompileError("i > 1 AND Price > 1"),
            "pipeline.yaml:3:21: error: unknown field 'Price'\n  hint: did you mean 'price'?");
  EXPECT_EQ(CompileError("'a' + 1"),
            "pipeline.yaml:3:15: error: operator + cannot be applied to string and int64\n  hint: "
            "join strings with "
            "concat(a, b)");
  EXPECT_EQ(CompileError("flor(x)"),
            "pipeline.yaml:3:11: error: unknown function 'flor'\n  hint: did you mean 'floor'?");
  EXPECT_EQ(CompileError("frobnicate(x)"),
            "pipeline.yaml:3:11: error: unknown function 'frobnicate'");
  EXPECT_EQ(CompileError("round(x, 1, 2)"),
            "pipeline.yaml:3:11: error: round() takes 1 to 2 arguments but was given 3\n  hint: "
            "usage: round(x[, digits])");
  EXPECT_EQ(CompileError("s || i > 1"),
            "pipeline.yaml:3:13: error: OR needs a boolean, got string");
  EXPECT_EQ(CompileError("i = s"),
            "pipeline.yaml:3:13: error: comparison mixes incompatible types int64 and string");
  EXPECT_EQ(CompileError("s LIKE s"),
            "pipeline.yaml:3:18: error: the LIKE pattern must be a constant string");
  EXPECT_EQ(CompileError("round(x, i)"),
            "pipeline.yaml:3:20: error: this argument of round() must be a constant");
  EXPECT_EQ(CompileError("upper(i)"),
            "pipeline.yaml:3:17: error: upper() needs a string here, got int64\n  hint: convert it "
            "with CAST(x AS string)");
  EXPECT_EQ(CompileError("CASE WHEN i THEN 1 END"),
            "pipeline.yaml:3:21: error: WHEN needs a boolean, got int64");
  EXPECT_EQ(CompileError("coalesce(i, s)"),
            "pipeline.yaml:3:11: error: coalesce() mixes incompatible types int64 and string");
  EXPECT_EQ(CompileError("'é' || 1 = 1"),
            "pipeline.yaml:3:15: error: OR needs a boolean, got string");
}

TEST_F(ExpressionTest, ResultTypesAndBroadcast) {
  Expect("1 + 2", kInt, "[3, 3, 3, 3]");
  Expect("'x'", kString, R"(["x", "x", "x", "x"])");
  auto compiled = CompileText("i > 0 AND s IS NOT NULL");
  ASSERT_TRUE(compiled.ok());
  EXPECT_TRUE(compiled->type->Equals(*kBool));
  EXPECT_EQ(compiled->text, "i > 0 AND s IS NOT NULL");
  // A batch of another schema is refused, not misread.
  auto other = arrow::RecordBatch::Make(arrow::schema({arrow::field("i", arrow::utf8())}), 1,
                                        {Array(arrow::utf8(), R"(["1"])")});
  EXPECT_FALSE(Evaluate(*compiled, *other).ok());
}

TEST_F(ExpressionTest, DeeplyNestedExpressionsCompileAndEvaluate) {
  std::string text = "i";
  for (int i = 0; i < 120; ++i) text = "(" + text + " + 1)";
  Expect(text, kInt, "[121, 113, null, 130]");
  std::string chain = "x";
  for (int i = 0; i < 200; ++i) chain += " + 0.5";
  Expect(chain, kDouble, "[105.5, 92.5, null, 102]");
}

}  // namespace
}  // namespace sluice::expr
