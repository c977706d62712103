#pragma once

#include <map>
#include <string>
#include <vector>

namespace sluice::duckdb {

/// One operator of DuckDB's logical plan of a statement (Connection::LogicalPlan), as the binder
/// produced it and before the optimiser rewrote it, so that it mirrors what the statement says:
/// an `ORDER BY ... LIMIT` is ORDER_BY under LIMIT rather than a TOP_N, a `DISTINCT` is DISTINCT
/// rather than a hash aggregate, and a subquery is the join that binds it.
struct PlanNode {
  /// The operator as DuckDB names it: PROJECTION, FILTER, AGGREGATE, WINDOW, ORDER_BY, LIMIT,
  /// DISTINCT, UNION, COMPARISON_JOIN, CROSS_PRODUCT, CTE, CTE_SCAN, DUMMY_SCAN, ... or, for a
  /// table function, the function's name in capitals.
  std::string name;
  /// DuckDB's details of the operator ("Join Type": "LEFT", "CTE Index": "0", ...); a list is
  /// joined with ", ".
  std::map<std::string, std::string> info;
  /// Whether the operator scans Arrow data registered on the connection (RegisterBatches, ...).
  bool scans_registered_data = false;
  std::vector<PlanNode> children;
};

}  // namespace sluice::duckdb
