#include "sluice/connectors/kafka/offset_tracker.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>

#include "sluice/formats/value_text.h"

namespace sluice::connectors::kafka {

void OffsetTracker::Restore(PartitionOffsets position) {
  std::lock_guard<std::mutex> lock(mutex_);
  restored_ = position;
  position_ = std::move(position);
}

void OffsetTracker::Know(const std::pair<std::string, int32_t>& partition, int64_t offset) {
  std::lock_guard<std::mutex> lock(mutex_);
  position_.emplace(partition, offset);
}

void OffsetTracker::Advance(const std::pair<std::string, int32_t>& partition,
                            int64_t next_offset) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_[partition] = next_offset;
}

int64_t OffsetTracker::AddBatch() {
  std::lock_guard<std::mutex> lock(mutex_);
  batches_.emplace_back(++batches_pushed_, std::move(pending_));
  pending_.clear();
  return batches_pushed_;
}

void OffsetTracker::DropLastBatch() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (batches_.empty() || batches_.back().first != batches_pushed_) return;
  batches_.pop_back();
  --batches_pushed_;
}

void OffsetTracker::RunEnded() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [partition, offset] : pending_) trailing_[partition] = offset;
  pending_.clear();
  run_ended_ = true;
}

PartitionOffsets OffsetTracker::Take(int64_t batches, bool end_of_run) {
  std::lock_guard<std::mutex> lock(mutex_);
  PartitionOffsets commit;
  for (const auto& [number, offsets] : batches_) {
    if (number > batches) break;
    if (number <= taken_batches_) continue;
    for (const auto& [partition, offset] : offsets) commit[partition] = offset;
  }
  taken_batches_ = std::max(taken_batches_, batches);
  // What is taken is dropped: the position moves past it first.
  Fold(batches);
  if (end_of_run) {
    for (const auto& [partition, offset] : trailing_) commit[partition] = offset;
    trailing_.clear();
  }
  return commit;
}

Result<PartitionOffsets> OffsetTracker::PositionAfter(int64_t batches) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (batches < position_batches_) {
    return Status::Invalid(fmt::format(
        "kafka source: the position after {} batches was asked for after the one after {}",
        batches, position_batches_));
  }
  if (batches > batches_pushed_) {
    return Status::Invalid(fmt::format(
        "kafka source: the position after {} batches was asked for, but {} were pushed", batches,
        batches_pushed_));
  }
  Fold(batches);
  if (run_ended_ && batches == batches_pushed_) {
    // Nothing follows the rejected records: the position is past them.
    for (const auto& [partition, offset] : trailing_) position_[partition] = offset;
  }
  return position_;
}

PartitionOffsets OffsetTracker::restored() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return restored_;
}

void OffsetTracker::Fold(int64_t batches) {
  for (const auto& [number, offsets] : batches_) {
    if (number > batches) break;
    if (number <= position_batches_) continue;
    for (const auto& [partition, offset] : offsets) position_[partition] = offset;
  }
  position_batches_ = std::max(position_batches_, batches);
  while (!batches_.empty() && batches_.front().first <= taken_batches_ &&
         batches_.front().first <= position_batches_) {
    batches_.pop_front();
  }
}

std::string PositionToJson(const PartitionOffsets& position) {
  std::string text = R"({"offsets":[)";
  bool first = true;
  for (const auto& [partition, offset] : position) {
    if (!first) text += ',';
    first = false;
    text += R"({"topic":)";
    formats::AppendJsonString(partition.first, &text);
    text += fmt::format(R"(,"partition":{},"offset":{}}})", partition.second, offset);
  }
  text += "]}";
  return text;
}

Result<PartitionOffsets> PositionFromJson(const std::string& text) {
  auto bad = [&](std::string_view why) {
    return Status::Invalid(fmt::format("not a kafka source position ({}): {}", why, text));
  };
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(text).get(root) != simdjson::SUCCESS) return bad("not JSON");
  simdjson::dom::array offsets;
  if (root["offsets"].get_array().get(offsets) != simdjson::SUCCESS) return bad("no offsets");
  PartitionOffsets position;
  for (simdjson::dom::element entry : offsets) {
    std::string_view topic;
    int64_t partition = 0;
    int64_t offset = 0;
    if (entry["topic"].get_string().get(topic) != simdjson::SUCCESS ||
        entry["partition"].get_int64().get(partition) != simdjson::SUCCESS ||
        entry["offset"].get_int64().get(offset) != simdjson::SUCCESS || partition < 0 ||
        partition > INT32_MAX || offset < 0) {
      return bad("an entry needs a topic, a partition and an offset");
    }
    position[{std::string(topic), static_cast<int32_t>(partition)}] = offset;
  }
  return position;
}

}  // namespace sluice::connectors::kafka
