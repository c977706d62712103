#include "sluice/exec/until.h"

#include <gtest/gtest.h>

#include <limits>
#include <thread>

namespace sluice::exec {
namespace {

using std::chrono::milliseconds;

TEST(UntilClockTest, CountEndsAfterThatManyMessages) {
  UntilOptions options;
  options.count = 10;
  UntilClock clock(options);
  EXPECT_EQ(clock.remaining(), 10);
  clock.Took(7);
  EXPECT_FALSE(clock.Reached());
  EXPECT_EQ(clock.remaining(), 3);
  clock.Took(3);
  EXPECT_TRUE(clock.Reached());
  EXPECT_EQ(clock.remaining(), 0);
  EXPECT_EQ(clock.reason(), "after 10 messages (until count)");
}

TEST(UntilClockTest, IdleRestartsWithEveryMessage) {
  UntilOptions options;
  options.idle = milliseconds(60);
  UntilClock clock(options);
  EXPECT_LE(clock.Wait(milliseconds(1000)), milliseconds(60));
  std::this_thread::sleep_for(milliseconds(40));
  clock.Took(1);
  std::this_thread::sleep_for(milliseconds(40));
  EXPECT_FALSE(clock.Reached());  // 40 ms since the last message
  std::this_thread::sleep_for(clock.Wait(milliseconds(1000)));
  EXPECT_TRUE(clock.Reached());
  EXPECT_EQ(clock.reason(), "idle for 60ms (until idle)");
}

TEST(UntilClockTest, IdleDoesNotCountWhileUnreachable) {
  UntilOptions options;
  options.idle = milliseconds(30);
  UntilClock clock(options);
  clock.Unreachable();
  EXPECT_EQ(clock.Wait(milliseconds(100)), milliseconds(100));
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(clock.Reached());  // the server was down, not idle
  clock.Reachable();
  EXPECT_FALSE(clock.Reached());  // idle starts again from the reconnect
  EXPECT_LE(clock.Wait(milliseconds(100)), milliseconds(30));
  std::this_thread::sleep_for(clock.Wait(milliseconds(1000)));
  EXPECT_TRUE(clock.Reached());
}

TEST(UntilClockTest, DurationEndsWhateverComes) {
  UntilOptions options;
  options.duration = milliseconds(50);
  UntilClock clock(options);
  EXPECT_EQ(clock.remaining(), std::numeric_limits<int64_t>::max());
  while (!clock.Reached()) {
    clock.Took(1);
    std::this_thread::sleep_for(clock.Wait(milliseconds(5)));
  }
  EXPECT_EQ(clock.reason(), "after 50ms (until duration)");
  EXPECT_EQ(clock.Wait(milliseconds(100)), milliseconds(0));
}

TEST(UntilClockTest, WithoutOptionsNeverEnds) {
  UntilClock clock(UntilOptions{});
  clock.Took(1'000'000);
  EXPECT_FALSE(clock.Reached());
  EXPECT_EQ(clock.Wait(milliseconds(100)), milliseconds(100));
}

}  // namespace
}  // namespace sluice::exec
