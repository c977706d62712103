#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sluice/config/options.h"
#include "sluice/exec/processor.h"

namespace sluice::processors {

/// One item of a select list: an expression and the name of its output column.
struct SelectItem {
  config::LocatedText expression;
  std::string name;
  /// `*`: every input field.
  bool star = false;
};

/// Splits "a, b + 1 AS c, *" into items at top-level commas (not inside parentheses or quotes).
/// An item without AS is named by its text ("b + 1"), or by the field it names.
Result<std::vector<SelectItem>> ParseSelectList(const config::LocatedText& text);

/// Builds the pipeline's final `emit` stage (select list, then `having` on the selected columns)
/// from the validated top-level `emit` section.
Result<std::unique_ptr<exec::Processor>> MakeEmit(const config::Options& options,
                                                  const std::shared_ptr<arrow::Schema>& input);

}  // namespace sluice::processors
