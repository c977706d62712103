#include "sluice/processors/sql_shape.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>

namespace sluice::processors {
namespace {

/// What a subtree of the plan reads.
enum class Reads {
  kConstants,  ///< no row of `input`: constants, VALUES, table functions
  kRowWise,    ///< rows of `input`, each output row from one of them
  kWhole,      ///< rows of `input` together
};

struct Verdict {
  Reads reads = Reads::kConstants;
  bool one_row_per_row = false;
  std::string reason;
};

Verdict Whole(std::string reason) { return Verdict{Reads::kWhole, false, std::move(reason)}; }

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

/// Why an operator reading rows of `input` makes a statement depend on which rows are together.
std::string ReasonFor(const std::string& name) {
  static const std::map<std::string, std::string> kReasons = {
      {"AGGREGATE", "it aggregates"},
      {"WINDOW", "it has a window function: OVER"},
      {"ORDER_BY", "it orders rows: ORDER BY"},
      {"TOP_N", "it orders and limits rows"},
      {"LIMIT", "it limits rows: LIMIT or OFFSET"},
      {"DISTINCT", "it removes duplicates: DISTINCT"},
      {"UNION", "it has a set operation: UNION"},
      {"EXCEPT", "it has a set operation: EXCEPT"},
      {"INTERSECT", "it has a set operation: INTERSECT"},
      {"SAMPLE", "it samples rows"},
      {"RECURSIVE_CTE", "it has a recursive query"},
  };
  auto found = kReasons.find(name);
  if (found != kReasons.end()) return found->second;
  return fmt::format("its plan has {}", Lower(name));
}

bool IsJoin(const std::string& name) {
  return name == "CROSS_PRODUCT" || (name.size() > 5 && name.substr(name.size() - 5) == "_JOIN");
}

/// Walks the plan bottom-up. Owns the verdicts of the common table expressions seen so far, which
/// their scans (CTE_SCAN) take over.
class Classifier {
 public:
  Verdict Classify(const duckdb::PlanNode& node) {
    if (node.scans_registered_data) return Verdict{Reads::kRowWise, true, ""};
    if (node.name == "CTE_SCAN" || node.name == "CTE_REF") {
      auto info = node.info.find("CTE Index");
      auto found = info == node.info.end() ? ctes_.end() : ctes_.find(info->second);
      return found != ctes_.end() ? found->second : Whole("it reads a query it cannot see");
    }
    if (node.name == "CTE" && node.children.size() == 2) {
      // The first child defines the expression, the second is the query that reads it.
      auto index = node.info.find("Table Index");
      Verdict definition = Classify(node.children[0]);
      if (index != node.info.end()) ctes_[index->second] = std::move(definition);
      return Classify(node.children[1]);
    }
    std::vector<Verdict> children;
    for (const auto& child : node.children) children.push_back(Classify(child));
    bool any_input = false;
    for (const auto& child : children) {
      if (child.reads == Reads::kWhole) return child;
      any_input = any_input || child.reads == Reads::kRowWise;
    }
    // An operator over constants only (a VALUES list, an aggregate of a constant subquery) is
    // a constant too, whatever it does.
    if (!any_input) return Verdict{};
    if (node.name == "PROJECTION" && children.size() == 1) return children[0];
    if ((node.name == "FILTER" || node.name == "UNNEST") && children.size() == 1)
      return Verdict{Reads::kRowWise, false, ""};
    if (IsJoin(node.name) && children.size() == 2) return ClassifyJoin(node, children);
    return Whole(ReasonFor(node.name));
  }

 private:
  /// A join keeps each output row to one row of `input` when only one side reads it, and that
  /// side's rows are the ones it keeps or drops one by one: the left of an inner, left, semi,
  /// anti, mark or single join (the last three bind IN, EXISTS and scalar subqueries), the
  /// right of an inner or right one. An outer join on the other side adds rows that match no
  /// row of the batch; a positional join pairs rows by position in the batch.
  static Verdict ClassifyJoin(const duckdb::PlanNode& node, const std::vector<Verdict>& sides) {
    const bool left = sides[0].reads == Reads::kRowWise, right = sides[1].reads == Reads::kRowWise;
    if (left && right) return Whole("it joins input with itself");
    if (node.name == "POSITIONAL_JOIN") return Whole("it pairs rows by position: POSITIONAL JOIN");
    auto type = node.info.find("Join Type");
    const std::string join = type == node.info.end() ? "INNER" : type->second;
    static const std::vector<std::string> kKeepLeft = {"INNER", "LEFT", "SEMI",
                                                       "ANTI",  "MARK", "SINGLE"};
    static const std::vector<std::string> kKeepRight = {"INNER", "RIGHT", "RIGHT_SEMI",
                                                        "RIGHT_ANTI"};
    const auto& kept = left ? kKeepLeft : kKeepRight;
    if (std::find(kept.begin(), kept.end(), join) != kept.end())
      return Verdict{Reads::kRowWise, false, ""};
    return Whole(fmt::format("its {} join adds rows that match no row of input", Lower(join)));
  }

  std::map<std::string, Verdict> ctes_;
};

}  // namespace

StatementShape ShapeOf(const duckdb::PlanNode& plan) {
  Verdict verdict = Classifier().Classify(plan);
  StatementShape shape;
  switch (verdict.reads) {
    case Reads::kRowWise:
      shape.row_wise = true;
      shape.one_row_per_row = verdict.one_row_per_row;
      break;
    case Reads::kConstants:
      // Run per batch, it would repeat its rows once per batch.
      shape.reason = "it does not read input row by row";
      break;
    case Reads::kWhole:
      shape.reason = std::move(verdict.reason);
      break;
  }
  return shape;
}

}  // namespace sluice::processors
