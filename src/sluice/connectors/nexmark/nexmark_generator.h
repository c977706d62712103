#pragma once

// The Nexmark event generator: people, auctions and bids of an online auction site, as the
// Nexmark benchmark defines them. docs/nexmark.md ("Generator") states the model exactly; the
// Java port in bench/nexmark/flink/.../generator/ implements the same model, so that Sluice and
// Flink see identical events (tests/nexmark/cross_check.sh checks this).

#include <arrow/record_batch.h>
#include <arrow/type.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/common/status.h"

namespace sluice::connectors::nexmark {

/// The three kinds of event, in stream order (the `nexmark` source's streams 0, 1 and 2).
enum class EventKind : int { kPerson = 0, kAuction = 1, kBid = 2 };

/// What determines the generated events. Two generators with equal settings produce identical
/// events, here and in the Java port.
struct GeneratorSettings {
  /// Seeds every random draw; equal seeds give identical events.
  uint64_t seed = 0;
  /// Events per second of event time: event n is stamped base_time_ms + n * 1000 / rate.
  int64_t rate = 10'000'000;
  /// Event time of event 0, in epoch milliseconds (default 2015-07-15T00:00:00Z).
  int64_t base_time_ms = 1'436'918'400'000;
  /// Events are shuffled within consecutive groups of this many (1: in order).
  int64_t out_of_order_group = 1;
  /// One bid in hot_auction_ratio goes to a random in-flight auction, the others to a hot one.
  int32_t hot_auction_ratio = 2;
  /// One bid in hot_bidders_ratio comes from a random active person, the others from a hot one.
  int32_t hot_bidders_ratio = 4;
  /// One auction in hot_sellers_ratio is sold by a random active person, the others by a hot one.
  int32_t hot_sellers_ratio = 4;
  /// How many of the most recent people bid and sell.
  int64_t active_people = 1000;
  /// How many of the most recent auctions receive bids; also sets auction lengths.
  int64_t in_flight_auctions = 100;
};

/// SplitMix64, a small counter-based generator with a fixed, documented output sequence, so
/// that the Java port reproduces it bit for bit. Every event draws from a fresh instance
/// seeded with (seed, event id), which makes an event independent of the ones before it.
class SplitMix {
 public:
  static constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ULL;

  SplitMix(uint64_t seed, uint64_t stream) : state_(Mix(seed * kGamma + stream)) {}

  uint64_t Next() {
    state_ += kGamma;
    return Mix(state_);
  }

  /// Uniform in [0, bound), 0 < bound < 2^31, from the high 32 bits (multiply-shift).
  int32_t NextInt(int32_t bound) {
    return static_cast<int32_t>(((Next() >> 32) * static_cast<uint64_t>(bound)) >> 32);
  }

  /// In [0, bound), bound > 0: NextInt() when bound < 2^31, else Next() modulo bound.
  int64_t NextLong(int64_t bound) {
    if (bound < (int64_t{1} << 31)) return NextInt(static_cast<int32_t>(bound));
    return static_cast<int64_t>(Next() % static_cast<uint64_t>(bound));
  }

  static constexpr uint64_t Mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

std::shared_ptr<arrow::Schema> PersonSchema();
std::shared_ptr<arrow::Schema> AuctionSchema();
std::shared_ptr<arrow::Schema> BidSchema();

/// The events of one range, split by kind; a batch is null when the range holds no event of
/// its kind.
struct EventBatches {
  std::shared_ptr<arrow::RecordBatch> person;
  std::shared_ptr<arrow::RecordBatch> auction;
  std::shared_ptr<arrow::RecordBatch> bid;
};

/// Generates Nexmark events straight into Arrow arrays.
///
/// Event number n (0, 1, 2, ...) is a pure function of the settings and n, so any range can be
/// generated in any order. Immutable after construction (the channel and price tables are
/// built once), so Generate() may be called from several threads at once.
class NexmarkGenerator {
 public:
  explicit NexmarkGenerator(const GeneratorSettings& settings);

  const GeneratorSettings& settings() const { return settings_; }

  /// The event id of event number n: n itself, or n shuffled within its out-of-order group.
  /// The id decides the kind, the event time and the random draws.
  int64_t EventId(int64_t number) const {
    const int64_t group = settings_.out_of_order_group;
    if (group == 1) return number;
    return (number / group) * group + (number * 953) % group;
  }

  EventKind Kind(int64_t number) const;

  /// The event time, in epoch milliseconds, of the event with id `id`.
  int64_t TimestampMs(int64_t id) const {
    return settings_.base_time_ms + (id * 1000) / settings_.rate;
  }

  /// Generates events first .. first + count - 1 (count > 0).
  Result<EventBatches> Generate(int64_t first, int64_t count) const;

 private:
  friend class EventWriter;

  /// A URL or channel name within text_pool_.
  struct Text {
    int32_t offset = 0;
    int32_t length = 0;
  };

  const GeneratorSettings settings_;
  /// Events from one auction to the in_flight_auctions-th next one (the auction length horizon).
  const int64_t events_for_auctions_;
  /// 10^(j / 1024) for j = 0 .. 1024, in fixed point with 52 fraction bits.
  std::array<int64_t, 1025> price_steps_{};
  /// Names and URLs of the generated channels and the URLs of the hot channels.
  std::string text_pool_;
  std::vector<Text> channel_names_;
  std::vector<Text> channel_urls_;
  std::array<Text, 4> hot_urls_{};
};

}  // namespace sluice::connectors::nexmark
