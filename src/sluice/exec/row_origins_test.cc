#include "sluice/exec/row_origins.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <limits>

namespace sluice::exec {
namespace {

std::shared_ptr<arrow::Array> Mask(const std::vector<std::optional<bool>>& values) {
  arrow::BooleanBuilder builder;
  for (const auto& value : values) {
    EXPECT_TRUE((value ? builder.Append(*value) : builder.AppendNull()).ok());
  }
  return *builder.Finish();
}

TEST(RowOriginsTest, NamesRowsOfAFileOneBased) {
  RowOrigins origins("data/quotes.csv", 10);
  EXPECT_EQ(origins.Describe(0), "data/quotes.csv row 11");
  EXPECT_EQ(origins.Slice(5).Describe(1), "data/quotes.csv row 17");
  EXPECT_EQ(RowOrigins("", 0).Describe(2), "row 3");
  EXPECT_EQ(RowOrigins("quotes").Describe(0), "");
  EXPECT_EQ(origins.WithoutRows().Describe(0), "");
}

TEST(RowOriginsTest, FollowsFiltersAndSlicesAfterThem) {
  // Rows 0..5; a filter keeps 1, 3 (null drops 4) and 5; then a slice from the second kept row.
  RowOrigins origins("f", 100);
  RowOrigins kept = origins.Slice(0).Select(Mask({false, true, false, true, std::nullopt, true}));
  EXPECT_EQ(kept.RowOf(0), 101);
  EXPECT_EQ(kept.RowOf(1), 103);
  EXPECT_EQ(kept.RowOf(2), 105);
  EXPECT_EQ(kept.RowOf(3), std::nullopt);
  RowOrigins sliced = kept.Slice(1);
  EXPECT_EQ(sliced.RowOf(0), 103);
  // A second filter over the filtered rows.
  RowOrigins twice = kept.Select(Mask({true, false, true}));
  EXPECT_EQ(twice.RowOf(0), 101);
  EXPECT_EQ(twice.RowOf(1), 105);
  // A slice before the filter shifts the mask's rows.
  RowOrigins shifted = origins.Slice(2).Select(Mask({false, true}));
  EXPECT_EQ(shifted.RowOf(0), 103);
}

TEST(RowOriginsTest, CarriesPartitionWatermarksThroughFilters) {
  constexpr int64_t kNone = std::numeric_limits<int64_t>::min();
  std::vector<int64_t> watermarks{kNone, 50, kNone, 70};
  RowOrigins origins = RowOrigins("f", 0).WithWatermarks(watermarks);
  EXPECT_EQ(origins.RowWatermarks(4), (std::vector<int64_t>{kNone, 50, kNone, 70}));
  EXPECT_EQ(origins.Slice(2).RowWatermarks(2), (std::vector<int64_t>{kNone, 70}));
  EXPECT_EQ(origins.Select(Mask({true, false, true, true})).RowWatermarks(3),
            (std::vector<int64_t>{kNone, kNone, 70}));
  // Given after a filter: by the filtered rows.
  RowOrigins filtered = RowOrigins("f", 0).Select(Mask({false, true, true}));
  EXPECT_EQ(filtered.WithWatermarks({kNone, 90}).RowWatermarks(2),
            (std::vector<int64_t>{kNone, 90}));
  EXPECT_EQ(filtered.WithWatermarks({kNone, 90}).Slice(1).RowWatermarks(1),
            (std::vector<int64_t>{90}));
  // No row behind: nothing to carry.
  EXPECT_TRUE(origins.Select(Mask({true, false, true, false})).RowWatermarks(2).empty());
  EXPECT_TRUE(RowOrigins("f", 0).RowWatermarks(4).empty());
}

TEST(RowOriginsTest, NamesKafkaRowsByTopicPartitionAndOffset) {
  arrow::Int32Builder partitions;
  arrow::Int64Builder offsets;
  ASSERT_TRUE(partitions.AppendValues({0, 1, 0}).ok());
  ASSERT_TRUE(offsets.AppendValues({7, 3, 8}).ok());
  std::map<int32_t, std::string> names{{0, "orders/2"}, {1, "orders/5"}};
  RowOrigins origins(std::static_pointer_cast<arrow::Int32Array>(*partitions.Finish()),
                     std::static_pointer_cast<arrow::Int64Array>(*offsets.Finish()), &names);
  EXPECT_EQ(origins.Describe(0), "orders/2@7");
  EXPECT_EQ(origins.Describe(1), "orders/5@3");
  EXPECT_EQ(origins.Select(Mask({false, false, true})).Describe(0), "orders/2@8");
}

}  // namespace
}  // namespace sluice::exec
