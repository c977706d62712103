#pragma once

#include "sluice/common/status.h"
#include "sluice/config/location.h"
#include "sluice/expr/ast.h"

namespace sluice::expr {

/// Parses `source.text` into a syntax tree without looking at any schema. Errors are
/// configuration errors located at the offending token. Never throws, and refuses input that
/// nests deeper than kMaxDepth instead of recursing further.
Result<NodePointer> Parse(const config::LocatedText& source);

}  // namespace sluice::expr
