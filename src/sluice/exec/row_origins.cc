#include "sluice/exec/row_origins.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace sluice::exec {

RowOrigins RowOrigins::Select(std::shared_ptr<arrow::Array> kept) const {
  if (!rows_known_) return *this;
  RowOrigins selected = *this;
  selected.resolved_.reset();
  selected.steps_.push_back(Step{std::move(kept), 0});
  return selected;
}

RowOrigins RowOrigins::Slice(int64_t offset) const {
  if (!rows_known_ || offset == 0) return *this;
  RowOrigins sliced = *this;
  if (steps_.empty()) {
    sliced.shift_ += offset;
    return sliced;
  }
  sliced.resolved_.reset();
  sliced.steps_.push_back(Step{nullptr, offset});
  return sliced;
}

RowOrigins RowOrigins::WithWatermarks(const std::vector<int64_t>& watermarks) const {
  RowOrigins with = *this;
  if (!rows_known_) return with;
  if (steps_.empty()) {
    with.watermarks_ = std::make_shared<std::vector<int64_t>>(watermarks);
    with.watermarks_base_ = shift_;
    return with;
  }
  // Rows were dropped since the source: store by position in the source batch.
  const std::vector<int64_t>& positions = Resolved();
  int64_t end = positions.empty() ? 0 : positions.back() + 1;
  auto by_position = std::make_shared<std::vector<int64_t>>(static_cast<size_t>(end),
                                                            std::numeric_limits<int64_t>::min());
  for (size_t i = 0; i < watermarks.size() && i < positions.size(); ++i)
    (*by_position)[positions[i]] = watermarks[i];
  with.watermarks_ = std::move(by_position);
  with.watermarks_base_ = 0;
  return with;
}

const std::vector<int64_t>& RowOrigins::Resolved() const {
  if (resolved_ != nullptr) return *resolved_;
  // Replays the steps over the positions; the first step is always a mask (Slice() folds a
  // slice before any mask into shift_), as long as the batch it filtered.
  std::vector<int64_t> rows;
  bool identity = true;  // rows[i] == shift_ + i, not materialised yet
  for (const Step& step : steps_) {
    if (step.kept == nullptr) {
      rows.erase(rows.begin(), rows.begin() + std::min<int64_t>(step.offset, rows.size()));
      continue;
    }
    const auto& mask = static_cast<const arrow::BooleanArray&>(*step.kept);
    std::vector<int64_t> next;
    next.reserve(static_cast<size_t>(mask.true_count()));
    for (int64_t i = 0; i < mask.length(); ++i) {
      if (!mask.IsValid(i) || !mask.Value(i)) continue;
      if (identity) {
        next.push_back(shift_ + i);
      } else if (i < static_cast<int64_t>(rows.size())) {
        next.push_back(rows[i]);
      }
    }
    rows = std::move(next);
    identity = false;
  }
  resolved_ = std::make_shared<std::vector<int64_t>>(std::move(rows));
  return *resolved_;
}

int64_t RowOrigins::PositionOf(int64_t index) const {
  if (!rows_known_ || index < 0) return -1;
  if (steps_.empty()) return shift_ + index;
  const std::vector<int64_t>& rows = Resolved();
  return index < static_cast<int64_t>(rows.size()) ? rows[index] : -1;
}

std::optional<int64_t> RowOrigins::RowOf(int64_t index) const {
  int64_t position = PositionOf(index);
  if (position < 0) return std::nullopt;
  return first_row_ + position;
}

std::vector<int64_t> RowOrigins::RowWatermarks(int64_t rows) const {
  if (watermarks_ == nullptr) return {};
  std::vector<int64_t> out(static_cast<size_t>(rows), std::numeric_limits<int64_t>::min());
  bool any = false;
  for (int64_t i = 0; i < rows; ++i) {
    int64_t position = PositionOf(i) - watermarks_base_;
    if (position < 0 || position >= static_cast<int64_t>(watermarks_->size())) continue;
    out[i] = (*watermarks_)[position];
    any = any || out[i] != std::numeric_limits<int64_t>::min();
  }
  if (!any) out.clear();
  return out;
}

std::string RowOrigins::Describe(int64_t index) const {
  if (offsets_ != nullptr) {
    int64_t position = PositionOf(index);
    if (position < 0 || position >= offsets_->length()) return "";
    int32_t partition = partitions_->Value(position);
    auto name = partition_names_->find(partition);
    std::string label =
        name != partition_names_->end() ? name->second : fmt::format("partition {}", partition);
    return fmt::format("{}@{}", label, offsets_->Value(position));
  }
  std::optional<int64_t> row = RowOf(index);
  if (!row) return "";
  if (name_.empty()) return fmt::format("row {}", *row + 1);
  return fmt::format("{} row {}", name_, *row + 1);
}

}  // namespace sluice::exec
