#pragma once

#include <arrow/table.h>
#include <arrow/type.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sluice::state {

/// The state of one stateful stage at a checkpoint, as a stage hands it over and gets it back.
///
/// A snapshot is immutable once made: its tables share no mutable buffer with the stage, so the
/// checkpoint writer can write it on another thread while the stage goes on processing (the
/// stage copies what it will change, or hands over batches that it never changes again, such as
/// the input batches a join keeps). Tables are laid out by key (one row per key, or per window
/// and key, with the key columns first), so that a later version can split state by key range
/// or source partition.
struct StateSnapshot {
  /// Small scalar values (counters, the stage's watermark), as text. Stored in the manifest.
  std::map<std::string, std::string> values;
  /// Named tables, each written as one Arrow IPC file.
  std::vector<std::pair<std::string, std::shared_ptr<arrow::Table>>> tables;

  /// The table called `name`, or null.
  std::shared_ptr<arrow::Table> Table(const std::string& name) const {
    for (const auto& [table_name, table] : tables) {
      if (table_name == name) return table;
    }
    return nullptr;
  }
  /// The value called `name`, or `fallback`.
  std::string Value(const std::string& name, std::string fallback = {}) const {
    auto it = values.find(name);
    return it == values.end() ? std::move(fallback) : it->second;
  }
  /// Approximate bytes held by the tables.
  int64_t bytes() const;
};

}  // namespace sluice::state
