// Differential test: filter, derive and select in Sluice against the same SQL in DuckDB, on
// random data with nulls. DuckDB is the oracle for SQL semantics (three-valued logic, NULL
// propagation, division, CASE, IN, BETWEEN, LIKE, CAST).
#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "sluice/duckdb/connection.h"
#include "sluice/duckdb/database.h"
#include "sluice/expr/expression.h"

namespace sluice {
namespace {

constexpr int64_t kRows = 3000;

/// Columns: id (never null), a and b (int64, small so products cannot overflow), x and y
/// (double), s (short strings), flag (bool); about 15% of each nullable column is NULL.
std::shared_ptr<arrow::RecordBatch> RandomBatch(uint32_t seed) {
  std::mt19937 random(seed);
  auto null_now = [&] { return std::uniform_int_distribution<int>(0, 99)(random) < 15; };
  arrow::Int64Builder id, a, b;
  arrow::DoubleBuilder x, y;
  arrow::StringBuilder s;
  arrow::BooleanBuilder flag;
  const std::vector<std::string> words = {"apple", "banana", "cherry", "",
                                          "Apple", "grape",  "a_b",    "100%"};
  for (int64_t row = 0; row < kRows; ++row) {
    EXPECT_TRUE(id.Append(row).ok());
    auto small = [&] { return std::uniform_int_distribution<int64_t>(-50, 50)(random); };
    auto real = [&] {
      return std::round(std::uniform_real_distribution<double>(-100, 100)(random) * 8) / 8;
    };
    EXPECT_TRUE((null_now() ? a.AppendNull() : a.Append(small())).ok());
    EXPECT_TRUE((null_now() ? b.AppendNull() : b.Append(small())).ok());
    EXPECT_TRUE((null_now() ? x.AppendNull() : x.Append(real())).ok());
    EXPECT_TRUE((null_now() ? y.AppendNull() : y.Append(real())).ok());
    EXPECT_TRUE((null_now() ? s.AppendNull() : s.Append(words[random() % words.size()])).ok());
    EXPECT_TRUE((null_now() ? flag.AppendNull() : flag.Append(random() % 2 == 0)).ok());
  }
  auto schema =
      arrow::schema({arrow::field("id", arrow::int64()), arrow::field("a", arrow::int64()),
                     arrow::field("b", arrow::int64()), arrow::field("x", arrow::float64()),
                     arrow::field("y", arrow::float64()), arrow::field("s", arrow::utf8()),
                     arrow::field("flag", arrow::boolean())});
  std::vector<std::shared_ptr<arrow::Array>> columns(7);
  EXPECT_TRUE(id.Finish(&columns[0]).ok());
  EXPECT_TRUE(a.Finish(&columns[1]).ok());
  EXPECT_TRUE(b.Finish(&columns[2]).ok());
  EXPECT_TRUE(x.Finish(&columns[3]).ok());
  EXPECT_TRUE(y.Finish(&columns[4]).ok());
  EXPECT_TRUE(s.Finish(&columns[5]).ok());
  EXPECT_TRUE(flag.Finish(&columns[6]).ok());
  return arrow::RecordBatch::Make(schema, kRows, columns);
}

/// One array holding every chunk (an empty array when there are none).
std::shared_ptr<arrow::Array> Flatten(const std::shared_ptr<arrow::ChunkedArray>& column) {
  if (column->num_chunks() == 0) return *arrow::MakeEmptyArray(column->type());
  return *arrow::Concatenate(column->chunks());
}

/// Builds random expressions in the syntax both engines share.
class ExpressionGenerator {
 public:
  /// With `guarded`, each CASE has a branch that would fail on most rows (a CAST of a word to
  /// a number) behind a WHEN no row meets, so evaluating it takes the lazy path.
  explicit ExpressionGenerator(uint32_t seed, bool guarded = false)
      : random_(seed), guarded_(guarded) {}

  std::string Numeric(int depth) {
    int choice = Pick(depth <= 0 ? 3 : 11);
    if (guarded_ && depth > 0 && Pick(3) == 0) choice = 8;
    switch (choice) {
      case 0:
        return Pick(2) ? "a" : "b";
      case 1:
        return Pick(2) ? "x" : "y";
      case 2:
        return std::to_string(static_cast<int>(Pick(21)) - 10);
      case 3:
        return fmt::format("({} {} {})", Numeric(depth - 1), "+-*"[Pick(3)], Numeric(depth - 1));
      case 4:
        return fmt::format("({} / {})", Numeric(depth - 1), Numeric(depth - 1));
      case 5:
        return fmt::format("({} % {})", Pick(2) ? "a" : "b",
                           Pick(2) ? "b" : std::to_string(Pick(7) + 1));
      case 6:
        return fmt::format("abs({})", Numeric(depth - 1));
      case 7:
        return fmt::format("coalesce({}, {})", Numeric(depth - 1), Numeric(depth - 1));
      case 8:
        if (guarded_) {
          return fmt::format(
              "CASE WHEN {} THEN {} WHEN s = 'none' THEN CAST(s AS DOUBLE) ELSE {} END",
              Condition(depth - 1), Numeric(depth - 1), Numeric(depth - 1));
        }
        return fmt::format("CASE WHEN {} THEN {} ELSE {} END", Condition(depth - 1),
                           Numeric(depth - 1), Numeric(depth - 1));
      case 9:
        return fmt::format("(- {})", Numeric(depth - 1));
      default:
        return fmt::format("CAST({} AS DOUBLE)", Pick(2) ? "a" : "b");
    }
  }

  std::string Condition(int depth) {
    static const char* kComparisons[] = {"=", "<>", "<", "<=", ">", ">="};
    int choice = Pick(depth <= 0 ? 6 : 10);
    switch (choice) {
      case 0:
      case 1:
        return fmt::format("{} {} {}", Numeric(depth - 1), kComparisons[Pick(6)],
                           Numeric(depth - 1));
      case 2:
        return fmt::format("{} IS {}NULL", Numeric(depth - 1), Pick(2) ? "NOT " : "");
      case 3:
        return fmt::format("{} {}BETWEEN {} AND {}", Numeric(depth - 1), Pick(2) ? "NOT " : "",
                           static_cast<int>(Pick(21)) - 10, Pick(20));
      case 4:
        return fmt::format("a {}IN (1, 2, 3, -5, {})", Pick(2) ? "NOT " : "", Pick(10));
      case 5:
        return fmt::format("s {}LIKE '{}'", Pick(2) ? "NOT " : "",
                           std::vector<std::string>{"a%", "%an%", "_pple", "", "%"}[Pick(5)]);
      case 6:
        return fmt::format("({} AND {})", Condition(depth - 1), Condition(depth - 1));
      case 7:
        return fmt::format("({} OR {})", Condition(depth - 1), Condition(depth - 1));
      case 8:
        return fmt::format("NOT ({})", Condition(depth - 1));
      default:
        return Pick(2) ? "flag" : "s IN ('apple', 'cherry')";
    }
  }

 private:
  uint32_t Pick(uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(random_); }
  std::mt19937 random_;
  bool guarded_;
};

class DifferentialTest : public ::testing::Test {
 protected:
  virtual std::shared_ptr<arrow::RecordBatch> MakeBatch() { return RandomBatch(20240101); }

  void SetUp() override {
    batch_ = MakeBatch();
    auto database = duckdb::Database::Open();
    ASSERT_TRUE(database.ok()) << database.status().message();
    auto connection = duckdb::Connection::Open(*database);
    ASSERT_TRUE(connection.ok()) << connection.status().message();
    connection_ = std::move(*connection);
    ASSERT_TRUE(connection_->RegisterBatch("input", batch_).ok());
  }

  Result<std::shared_ptr<arrow::Array>> Sluice(const std::string& text) {
    SLUICE_ASSIGN_OR_RAISE(
        auto compiled, expr::Compile(config::LocatedText{text, {"test", 1, 1}}, *batch_->schema()));
    return expr::Evaluate(compiled, *batch_);
  }

  /// The DuckDB result of `SELECT expression FROM input ORDER BY id`, as one array.
  Result<std::shared_ptr<arrow::Array>> Oracle(const std::string& text) {
    SLUICE_ASSIGN_OR_RAISE(
        auto table, connection_->Query(fmt::format("SELECT {} AS v FROM input ORDER BY id", text)));
    return Flatten(table->column(0));
  }

  /// Compares as doubles (the engines may pick different integer widths) or exactly.
  void ExpectSame(const std::string& text) {
    auto ours = Sluice(text);
    auto theirs = Oracle(text);
    ASSERT_TRUE(theirs.ok()) << text << ": DuckDB failed: " << theirs.status().message();
    ASSERT_TRUE(ours.ok()) << text << ": Sluice failed: " << ours.status().message();
    std::shared_ptr<arrow::Array> left = *ours, right = *theirs;
    if (arrow::is_integer(left->type_id()) && arrow::is_integer(right->type_id())) {
      left = *arrow::compute::Cast(*left, arrow::int64());
      right = *arrow::compute::Cast(*right, arrow::int64());
    } else if (arrow::is_numeric(left->type_id()) && arrow::is_numeric(right->type_id())) {
      left = *arrow::compute::Cast(*left, arrow::float64());
      right = *arrow::compute::Cast(*right, arrow::float64());
    }
    ASSERT_EQ(left->length(), right->length()) << text;
    auto options = arrow::EqualOptions::Defaults().nans_equal(true).atol(1e-9);
    if (!left->ApproxEquals(*right, options)) {
      for (int64_t i = 0; i < left->length(); ++i) {
        auto l = *left->GetScalar(i);
        auto r = *right->GetScalar(i);
        if (!l->ApproxEquals(*r, options)) {
          FAIL() << text << "\n  row " << i << " (" << RowText(i) << "): Sluice " << l->ToString()
                 << ", DuckDB " << r->ToString();
        }
      }
    }
    ++compared_;
  }

  std::string RowText(int64_t row) {
    std::string text;
    for (int c = 1; c < batch_->num_columns(); ++c) {
      text += fmt::format("{}{}={}", c > 1 ? ", " : "", batch_->schema()->field(c)->name(),
                          (*batch_->column(c)->GetScalar(row))->ToString());
    }
    return text;
  }

  std::shared_ptr<arrow::RecordBatch> batch_;
  std::unique_ptr<duckdb::Connection> connection_;
  int compared_ = 0;
};

TEST_F(DifferentialTest, HandPickedExpressionsAgree) {
  for (const char* text : {"a + b",
                           "a - b * 2",
                           "a * b",
                           "x / y",
                           "a / b",
                           "a / 0",
                           "a % b",
                           "-a % 3",
                           "x + a",
                           "a = b",
                           "a <> b",
                           "x < y",
                           "a >= 0 AND x < 0",
                           "a > 0 OR x > 0",
                           "NOT (a > 0)",
                           "flag AND a > 0",
                           "flag OR a IS NULL",
                           "a IS NULL",
                           "s IS NOT NULL",
                           "a IN (1, 2, 3)",
                           "a NOT IN (1, 2, 3)",
                           "a BETWEEN -5 AND 5",
                           "x NOT BETWEEN -1 AND 1",
                           "s LIKE 'a%'",
                           "s LIKE '%an%'",
                           "s NOT LIKE '_pple'",
                           "s ILIKE 'APPLE'",
                           "CASE WHEN a > 0 THEN 'pos' WHEN a < 0 THEN 'neg' ELSE 'zero' END",
                           "CASE a WHEN 1 THEN x WHEN 2 THEN y END",
                           "coalesce(a, b, 0)",
                           "abs(a)",
                           "round(x)",
                           "round(x, 1)",
                           "floor(x)",
                           "ceil(x)",
                           "upper(s)",
                           "lower(s)",
                           "length(s)",
                           "concat(s, '-', s)",
                           "substr(s, 2, 3)",
                           "trim(s)",
                           "CAST(a AS DOUBLE)",
                           "CAST(x AS BIGINT)",
                           "CAST(a AS VARCHAR)",
                           "greatest(a, b)",
                           "least(x, y)",
                           "nullif(a, 0)",
                           "sqrt(abs(x))",
                           "a IS NOT NULL AND (b IS NULL OR b > a)"}) {
    SCOPED_TRACE(text);
    ExpectSame(text);
  }
}

TEST_F(DifferentialTest, RandomExpressionsAgree) {
  ExpressionGenerator generator(7);
  for (int i = 0; i < 300; ++i) {
    std::string numeric = generator.Numeric(3);
    ExpectSame(numeric);
    std::string condition = generator.Condition(3);
    ExpectSame(condition);
    if (HasFatalFailure()) return;
  }
  EXPECT_EQ(compared_, 600);
}

/// The same, with a failing branch behind a guard in every CASE: the lazy evaluation (each
/// branch on the rows that select it, scattered back) gives DuckDB's results too.
TEST_F(DifferentialTest, RandomGuardedExpressionsAgree) {
  ExpressionGenerator generator(23, /*guarded=*/true);
  int guarded = 0;
  for (int i = 0; i < 100; ++i) {
    std::string numeric = generator.Numeric(3);
    ExpectSame(numeric);
    std::string condition = generator.Condition(3);
    ExpectSame(condition);
    if (HasFatalFailure()) return;
    guarded += (numeric.find("'none'") != std::string::npos) +
               (condition.find("'none'") != std::string::npos);
  }
  EXPECT_EQ(compared_, 200);
  EXPECT_GT(guarded, 90);
}

/// round(x, digits) must give DuckDB's double bit for bit, not merely within a tolerance: on
/// prices with two decimals, the midpoint (241.47 + 241.49) / 2 is 241.48000000000002 and
/// round(..., 4) must print 241.48.
TEST(DifferentialRoundTest, RoundIsExactlyDuckDbs) {
  std::mt19937 random(99);
  arrow::Int64Builder id;
  arrow::DoubleBuilder p, q;
  for (int row = 0; row <= 5000; ++row) ASSERT_TRUE(id.Append(row).ok());
  for (int row = 0; row < 5000; ++row) {
    // Values as a CSV file would give them: decimal text read as a double.
    auto price = [&] {
      return std::stod(fmt::format("{}.{:02}", random() % 2000, random() % 100));
    };
    ASSERT_TRUE(p.Append(row % 11 == 0 ? -price() : price()).ok());
    ASSERT_TRUE((row % 17 == 0 ? q.AppendNull() : q.Append(price())).ok());
  }
  ASSERT_TRUE(p.Append(241.47).ok());
  ASSERT_TRUE(q.Append(241.49).ok());
  std::shared_ptr<arrow::Array> ids, p_values, q_values;
  ASSERT_TRUE(id.Finish(&ids).ok());
  ASSERT_TRUE(p.Finish(&p_values).ok());
  ASSERT_TRUE(q.Finish(&q_values).ok());
  auto batch = arrow::RecordBatch::Make(
      arrow::schema({arrow::field("id", arrow::int64()), arrow::field("p", arrow::float64()),
                     arrow::field("q", arrow::float64())}),
      p_values->length(), {ids, p_values, q_values});
  auto database = duckdb::Database::Open();
  ASSERT_TRUE(database.ok()) << database.status().message();
  auto connection = duckdb::Connection::Open(*database);
  ASSERT_TRUE(connection.ok()) << connection.status().message();
  ASSERT_TRUE((*connection)->RegisterBatch("input", batch).ok());

  int compared = 0;
  for (const char* value : {"(p + q) / 2", "p * q / 7", "p / 3", "p", "q * 1.1", "p * 1e300"}) {
    for (int digits : {-3, -1, 1, 2, 3, 4, 6, 10}) {
      std::string text = fmt::format("round({}, {})", value, digits);
      SCOPED_TRACE(text);
      auto compiled = expr::Compile(config::LocatedText{text, {"test", 1, 1}}, *batch->schema());
      ASSERT_TRUE(compiled.ok()) << compiled.status().message();
      auto ours = expr::Evaluate(*compiled, *batch);
      ASSERT_TRUE(ours.ok()) << ours.status().message();
      auto table = (*connection)->Query(fmt::format("SELECT {} AS v FROM input ORDER BY id", text));
      ASSERT_TRUE(table.ok()) << table.status().message();
      auto theirs = Flatten((*table)->column(0));
      ASSERT_EQ((*ours)->length(), theirs->length());
      const auto& left = static_cast<const arrow::DoubleArray&>(**ours);
      const auto& right = static_cast<const arrow::DoubleArray&>(*theirs);
      for (int64_t row = 0; row < left.length(); ++row) {
        ASSERT_EQ(left.IsNull(row), right.IsNull(row)) << "row " << row;
        if (left.IsNull(row)) continue;
        ASSERT_TRUE(left.Value(row) == right.Value(row) ||
                    (std::isnan(left.Value(row)) && std::isnan(right.Value(row))))
            << fmt::format("row {} (p={}): Sluice {}, DuckDB {}", row,
                           (*p_values->GetScalar(row))->ToString(), left.Value(row),
                           right.Value(row));
      }
      ++compared;
    }
  }
  EXPECT_EQ(compared, 48);

  auto midpoint = expr::Compile(
      config::LocatedText{"round((241.47 + 241.49) / 2, 4)", {"test", 1, 1}}, *batch->schema());
  ASSERT_TRUE(midpoint.ok()) << midpoint.status().message();
  auto one = expr::Evaluate(*midpoint, *batch->Slice(0, 1));
  ASSERT_TRUE(one.ok()) << one.status().message();
  auto scalar = (*one)->GetScalar(0);
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(static_cast<const arrow::DoubleScalar&>(**scalar).value, 241.48);
}

/// Columns: id, code (numbers as text, with 'N/A', blanks and NULLs), big (small numbers and
/// numbers near the int64 limits, where * 1000 or + 1 overflows).
std::shared_ptr<arrow::RecordBatch> GuardBatch() {
  std::mt19937 random(5);
  arrow::Int64Builder id, big;
  arrow::StringBuilder code;
  for (int64_t row = 0; row < kRows; ++row) {
    EXPECT_TRUE(id.Append(row).ok());
    const int kind = static_cast<int>(random() % 10);
    if (kind == 0) {
      EXPECT_TRUE(code.Append("N/A").ok());
    } else if (kind == 1) {
      EXPECT_TRUE(code.AppendNull().ok());
    } else if (kind == 2) {
      EXPECT_TRUE(code.Append(fmt::format(" {} ", random() % 100)).ok());
    } else {
      EXPECT_TRUE(code.Append(std::to_string(static_cast<int64_t>(random() % 200) - 100)).ok());
    }
    const int64_t limit = std::numeric_limits<int64_t>::max();
    const int size = static_cast<int>(random() % 8);
    EXPECT_TRUE((size == 0   ? big.AppendNull()
                 : size == 1 ? big.Append(limit - static_cast<int64_t>(random() % 3))
                 : size == 2 ? big.Append(-limit + static_cast<int64_t>(random() % 3))
                             : big.Append(static_cast<int64_t>(random() % 2001) - 1000))
                    .ok());
  }
  std::vector<std::shared_ptr<arrow::Array>> columns(3);
  EXPECT_TRUE(id.Finish(&columns[0]).ok());
  EXPECT_TRUE(code.Finish(&columns[1]).ok());
  EXPECT_TRUE(big.Finish(&columns[2]).ok());
  return arrow::RecordBatch::Make(
      arrow::schema({arrow::field("id", arrow::int64()), arrow::field("code", arrow::utf8()),
                     arrow::field("big", arrow::int64())}),
      kRows, columns);
}

/// A conditional evaluates a branch only on the rows that select it, so a guard guards: the
/// results equal DuckDB's, and an unguarded failing row still fails in both engines.
class GuardedBranchesTest : public DifferentialTest {
 protected:
  std::shared_ptr<arrow::RecordBatch> MakeBatch() override { return GuardBatch(); }

  /// The rows both engines keep with `condition` as a filter (DuckDB: in WHERE, where AND and
  /// OR evaluate their right side only on the rows the left does not decide).
  void ExpectSameRows(const std::string& condition) {
    auto mask = Sluice(condition);
    ASSERT_TRUE(mask.ok()) << condition << ": Sluice failed: " << mask.status().message();
    auto kept = arrow::compute::Filter(batch_, *mask);
    ASSERT_TRUE(kept.ok());
    auto table =
        connection_->Query(fmt::format("SELECT id FROM input WHERE {} ORDER BY id", condition));
    ASSERT_TRUE(table.ok()) << condition << ": DuckDB failed: " << table.status().message();
    auto ids = Flatten((*table)->column(0));
    EXPECT_GT(ids->length(), 0) << condition;
    EXPECT_TRUE(ids->Equals(*kept->record_batch()->column(0))) << condition;
  }

  void ExpectBothFail(const std::string& text) {
    auto ours = Sluice(text);
    auto theirs = Oracle(text);
    EXPECT_FALSE(theirs.ok()) << text << ": DuckDB did not fail";
    EXPECT_FALSE(ours.ok()) << text << ": Sluice did not fail";
  }
};

TEST_F(GuardedBranchesTest, UntakenBranchesDoNotFail) {
  for (const char* text : {
           "CASE WHEN code = 'N/A' THEN NULL ELSE CAST(code AS BIGINT) END",
           "CASE code WHEN 'N/A' THEN -1 ELSE CAST(code AS BIGINT) END",
           "CASE WHEN code IS NULL OR code = 'N/A' THEN -1 WHEN CAST(code AS BIGINT) > 50 THEN 1 "
           "ELSE 0 END",
           "CASE WHEN code = 'N/A' THEN 0 ELSE CASE WHEN CAST(code AS BIGINT) > 10 THEN "
           "CAST(code AS BIGINT) * 2 ELSE 1 END END",
           "CASE WHEN big BETWEEN -1000 AND 1000 THEN big * 1000 ELSE big END",
           "CASE WHEN big > 1000 THEN 0 WHEN big < -1000 THEN 1 ELSE big + 1 END",
           "CASE WHEN big BETWEEN -1000 AND 1000 THEN big * 1000 END + 1",
           "coalesce(CASE WHEN code = 'N/A' THEN 0 END, CAST(code AS BIGINT))",
           "coalesce(CASE WHEN abs(big) > 1000 THEN 0 END, big * 1000, 7)",
           "nullif(CASE WHEN code = 'N/A' THEN 0 ELSE CAST(code AS BIGINT) END, 3)",
           "CASE WHEN code <> 'N/A' THEN concat(code, '!') ELSE 'none' END",
           "CASE WHEN code = 'N/A' THEN 0.5 ELSE CAST(code AS DOUBLE) END",
       }) {
    SCOPED_TRACE(text);
    ExpectSame(text);
  }
  EXPECT_EQ(compared_, 12);
}

TEST_F(GuardedBranchesTest, AndOrEvaluateTheirRightSideOnlyWhereTheLeftDoesNotDecide) {
  for (const char* condition : {
           "code <> 'N/A' AND CAST(code AS BIGINT) > 10",
           "code = 'N/A' OR CAST(code AS BIGINT) > 10",
           "code IS NULL OR code = 'N/A' OR CAST(code AS BIGINT) < 0",
           "abs(big) < 1000 AND big * 1000 > 5000",
           "(abs(big) < 1000 AND big * 1000 > 5000) OR code = 'N/A'",
       }) {
    SCOPED_TRACE(condition);
    ExpectSameRows(condition);
  }
}

TEST_F(GuardedBranchesTest, UnguardedFailuresStillFail) {
  for (const char* text : {
           "CAST(code AS BIGINT)",
           "CASE WHEN code = 'x' THEN 0 ELSE CAST(code AS BIGINT) END",
           "CASE WHEN CAST(code AS BIGINT) > 0 THEN 1 ELSE 0 END",
           "CASE WHEN big > 0 THEN big * 1000 ELSE 0 END",
           "coalesce(CAST(code AS BIGINT), 0)",
       }) {
    SCOPED_TRACE(text);
    ExpectBothFail(text);
  }
}

/// filter + derive + select as a pipeline would run them, against one SQL query.
TEST_F(DifferentialTest, FilterDeriveSelectMatchesAQuery) {
  ExpressionGenerator generator(11);
  for (int i = 0; i < 50; ++i) {
    std::string condition = generator.Condition(2);
    std::string derived = generator.Numeric(2);
    SCOPED_TRACE(condition + " / " + derived);
    auto mask = Sluice(condition);
    ASSERT_TRUE(mask.ok()) << mask.status().message();
    auto kept = arrow::compute::Filter(batch_, *mask);
    ASSERT_TRUE(kept.ok());
    auto kept_batch = kept->record_batch();
    auto compiled = expr::Compile(config::LocatedText{derived, {"test", 1, 1}}, *batch_->schema());
    ASSERT_TRUE(compiled.ok());
    auto ours = expr::Evaluate(*compiled, *kept_batch);
    ASSERT_TRUE(ours.ok());
    auto table = connection_->Query(
        fmt::format("SELECT id, {} AS v FROM input WHERE {} ORDER BY id", derived, condition));
    ASSERT_TRUE(table.ok()) << table.status().message();
    ASSERT_EQ((*table)->num_rows(), kept_batch->num_rows());
    auto ids = Flatten((*table)->column(0));
    ASSERT_TRUE(ids->Equals(*kept_batch->column(0)));
    auto left = *arrow::compute::Cast(**ours, arrow::float64());
    auto right = *arrow::compute::Cast(*Flatten((*table)->column(1)), arrow::float64());
    EXPECT_TRUE(
        left->ApproxEquals(*right, arrow::EqualOptions::Defaults().nans_equal(true).atol(1e-9)));
  }
}

}  // namespace
}  // namespace sluice
