#include "sluice/connectors/kafka/offset_tracker.h"

#include <gtest/gtest.h>

namespace sluice::connectors::kafka {
namespace {

const std::pair<std::string, int32_t> kOrders0{"orders", 0};
const std::pair<std::string, int32_t> kOrders1{"orders", 1};

TEST(OffsetTrackerTest, PositionAfterMovesOnBatchByBatchAndCountsRejectionsBeforeABatch) {
  OffsetTracker tracker;
  tracker.Advance(kOrders0, 1);
  tracker.Advance(kOrders0, 2);
  EXPECT_EQ(tracker.AddBatch(), 1);
  tracker.Advance(kOrders1, 5);  // rejected before batch 2: covered by it
  tracker.Advance(kOrders0, 3);
  EXPECT_EQ(tracker.AddBatch(), 2);
  tracker.Advance(kOrders1, 6);  // in the batch being built
  EXPECT_EQ(*tracker.PositionAfter(0), (PartitionOffsets{}));
  EXPECT_EQ(*tracker.PositionAfter(1), (PartitionOffsets{{kOrders0, 2}}));
  // Asked again for the same batch: the same position.
  EXPECT_EQ(*tracker.PositionAfter(1), (PartitionOffsets{{kOrders0, 2}}));
  EXPECT_EQ(*tracker.PositionAfter(2), (PartitionOffsets{{kOrders0, 3}, {kOrders1, 5}}));
  EXPECT_FALSE(tracker.PositionAfter(1).ok()) << "earlier positions are not asked for again";
  EXPECT_FALSE(tracker.PositionAfter(3).ok()) << "batch 3 was not pushed";
}

TEST(OffsetTrackerTest, TakeReturnsEachBatchsOffsetsOnceWhateverPositionsWereAskedFor) {
  OffsetTracker tracker;
  tracker.Advance(kOrders0, 10);
  tracker.AddBatch();
  tracker.Advance(kOrders1, 20);
  tracker.AddBatch();
  tracker.Advance(kOrders1, 21);
  tracker.AddBatch();
  // A checkpoint after 3 batches, then the pipeline acknowledges them in two steps.
  EXPECT_EQ(*tracker.PositionAfter(3), (PartitionOffsets{{kOrders0, 10}, {kOrders1, 21}}));
  EXPECT_EQ(tracker.Take(1, false), (PartitionOffsets{{kOrders0, 10}}));
  EXPECT_EQ(tracker.Take(3, false), (PartitionOffsets{{kOrders1, 21}}));
  EXPECT_EQ(tracker.Take(3, false), (PartitionOffsets{}));
  // Rejected after the last batch: taken only at the end of the run, and past the position
  // after the last batch once the run ended.
  tracker.Advance(kOrders0, 11);
  EXPECT_EQ(*tracker.PositionAfter(3), (PartitionOffsets{{kOrders0, 10}, {kOrders1, 21}}));
  tracker.RunEnded();
  EXPECT_EQ(*tracker.PositionAfter(3), (PartitionOffsets{{kOrders0, 11}, {kOrders1, 21}}));
  EXPECT_EQ(tracker.Take(3, false), (PartitionOffsets{}));
  EXPECT_EQ(tracker.Take(3, true), (PartitionOffsets{{kOrders0, 11}}));
}

TEST(OffsetTrackerTest, TakeWithoutPositionsKeepsLaterPositionsRight) {
  OffsetTracker tracker;
  tracker.Advance(kOrders0, 1);
  tracker.AddBatch();
  tracker.Advance(kOrders1, 1);
  tracker.AddBatch();
  EXPECT_EQ(tracker.Take(1, false), (PartitionOffsets{{kOrders0, 1}}));
  // What Take() dropped still counts in later positions.
  EXPECT_EQ(*tracker.PositionAfter(2), (PartitionOffsets{{kOrders0, 1}, {kOrders1, 1}}));
}

TEST(OffsetTrackerTest, DroppedBatchIsNeitherCommittedNorInAPosition) {
  OffsetTracker tracker;
  tracker.Advance(kOrders0, 4);
  EXPECT_EQ(tracker.AddBatch(), 1);
  tracker.Advance(kOrders0, 9);
  EXPECT_EQ(tracker.AddBatch(), 2);
  tracker.DropLastBatch();
  EXPECT_EQ(*tracker.PositionAfter(1), (PartitionOffsets{{kOrders0, 4}}));
  EXPECT_FALSE(tracker.PositionAfter(2).ok());
  EXPECT_EQ(tracker.Take(2, true), (PartitionOffsets{{kOrders0, 4}}));
}

TEST(OffsetTrackerTest, RestoredAndKnownPartitionsStayInPositionsUntilTheyMove) {
  OffsetTracker tracker;
  tracker.Restore({{kOrders0, 100}});
  tracker.Know(kOrders0, 7);  // restored: the checkpoint wins
  tracker.Know(kOrders1, 30);
  EXPECT_EQ(tracker.restored(), (PartitionOffsets{{kOrders0, 100}}));
  EXPECT_EQ(*tracker.PositionAfter(0), (PartitionOffsets{{kOrders0, 100}, {kOrders1, 30}}));
  tracker.Advance(kOrders1, 31);
  tracker.AddBatch();
  EXPECT_EQ(*tracker.PositionAfter(1), (PartitionOffsets{{kOrders0, 100}, {kOrders1, 31}}));
  // Only what batches advanced is committed, never the restored offsets.
  EXPECT_EQ(tracker.Take(1, true), (PartitionOffsets{{kOrders1, 31}}));
}

TEST(OffsetTrackerTest, PositionJsonRoundTripsAndRejectsAnythingElse) {
  PartitionOffsets position = {{{"orders", 0}, 12}, {{"odd \"name\"", 3}, 0}};
  std::string text = PositionToJson(position);
  EXPECT_EQ(PositionToJson({}), R"({"offsets":[]})");
  auto read = PositionFromJson(text);
  ASSERT_TRUE(read.ok()) << read.status().ToString() << " " << text;
  EXPECT_EQ(*read, position);
  for (const char* bad : {"", "[]", R"({"offsets":{}})", R"({"offsets":[{"topic":"t"}]})",
                          R"({"offsets":[{"topic":"t","partition":-1,"offset":0}]})",
                          R"({"offsets":[{"topic":"t","partition":0,"offset":-2}]})"}) {
    auto parsed = PositionFromJson(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) EXPECT_TRUE(parsed.status().IsInvalid()) << bad;
  }
}

}  // namespace
}  // namespace sluice::connectors::kafka
