#include "sluice/processors/aggregates/hyper_log_log.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace sluice::processors::aggregates {
namespace {

TEST(WindowHyperLogLogTest, EstimatesWithinItsDocumentedError) {
  // 1.6% standard error: 5% is over three standard deviations.
  for (int64_t distinct : {10, 1000, 100000, 1000000}) {
    HyperLogLog sketch;
    for (int64_t i = 0; i < distinct; ++i) sketch.AddHash(HashInteger(static_cast<uint64_t>(i)));
    EXPECT_NEAR(static_cast<double>(sketch.Estimate()), static_cast<double>(distinct),
                0.05 * distinct + 1)
        << distinct;
  }
}

TEST(WindowHyperLogLogTest, MergingEqualsCountingTheUnion) {
  HyperLogLog left, right, both;
  for (int i = 0; i < 50000; ++i) {
    uint64_t hash = HashBytes("key-" + std::to_string(i));
    (i % 2 == 0 ? left : right).AddHash(hash);
    both.AddHash(hash);
  }
  left.Merge(right);
  EXPECT_EQ(left.Estimate(), both.Estimate());
}

}  // namespace
}  // namespace sluice::processors::aggregates
