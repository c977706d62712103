#include "sluice/connectors/nexmark/nexmark_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/config/location.h"
#include "sluice/connectors/nexmark/nexmark_generator.h"
#include "sluice/formats/time_text.h"

namespace sluice::connectors {
namespace {

using nexmark::EventBatches;
using nexmark::GeneratorSettings;
using nexmark::NexmarkGenerator;

/// The standard Nexmark base time, so that runs are reproducible.
constexpr std::string_view kDefaultStart = "2015-07-15T00:00:00Z";

/// Events generated per chunk at most, whatever batch_size is, so that no text column of a
/// chunk nears Arrow's 2 GiB limit for 32-bit offsets.
constexpr int64_t kMaxChunkEvents = int64_t{1} << 22;

/// The `nexmark` source. Run() is called once, on the source's own thread.
class NexmarkSource : public exec::Source {
 public:
  NexmarkSource(const GeneratorSettings& settings, int64_t events, int64_t batch_size)
      : generator_(settings),
        events_(events),
        chunk_events_(std::min(batch_size, kMaxChunkEvents)) {}

  std::shared_ptr<arrow::Schema> schema() const override { return nexmark::PersonSchema(); }

  std::vector<exec::SourceStream> streams() const override {
    return {{"person", nexmark::PersonSchema()},
            {"auction", nexmark::AuctionSchema()},
            {"bid", nexmark::BidSchema()}};
  }

  bool bounded() const override { return events_ > 0; }

  Status Run(exec::SourceOutput& out) override {
    int64_t next = 0;
    while ((events_ == 0 || next < events_) && !out.stopping()) {
      const int64_t count = events_ > 0 ? std::min(chunk_events_, events_ - next) : chunk_events_;
      SLUICE_ASSIGN_OR_RAISE(EventBatches batches, generator_.Generate(next, count));
      next += count;
      const std::shared_ptr<arrow::RecordBatch> by_stream[] = {
          std::move(batches.person), std::move(batches.auction), std::move(batches.bid)};
      for (size_t stream = 0; stream < 3; ++stream) {
        if (by_stream[stream] == nullptr) continue;
        Status status = out.PushStream(stream, by_stream[stream]);
        // A cancelled push means the run is stopping, which ends Run() quietly.
        if (status.IsCancelled()) return Status::OK();
        SLUICE_RETURN_NOT_OK(status);
      }
    }
    return Status::OK();
  }

 private:
  const NexmarkGenerator generator_;
  const int64_t events_;
  const int64_t chunk_events_;
};

config::PluginSpec NexmarkSpec() {
  using config::OptionSpec;
  using config::OptionType;
  config::PluginSpec spec;
  spec.name = "nexmark";
  spec.doc =
      "The Nexmark benchmark's events (people, auctions, bids) as three streams <source>.person, "
      "<source>.auction and <source>.bid; deterministic, identical to the Flink benchmark's "
      "generator (docs/nexmark.md).";
  spec.example =
      "sources:\n"
      "  nexmark:\n"
      "    connector: nexmark\n"
      "    events: 100000000\n"
      "    event_time: {field: dateTime, watermark_delay: 4s}\n"
      "sinks:\n"
      "  out: {connector: blackhole, input: nexmark.bid}\n";

  constexpr double kMaxInt32 = 2147483647.0;
  OptionSpec events =
      config::MakeOption("events", OptionType::kInteger,
                         "Events to generate, all kinds together; 0 runs until stopped.", "0");
  events.min = 0;
  OptionSpec seed =
      config::MakeOption("seed", OptionType::kInteger,
                         "Seeds every random draw; equal seeds give identical events.", "0");
  OptionSpec rate = config::MakeOption(
      "rate", OptionType::kInteger,
      "Events per second of event time (event n is stamped start + n / rate); not a wall-clock "
      "pace.",
      "10000000");
  rate.min = 1;
  rate.max = 1e12;
  OptionSpec start =
      config::MakeOption("start", OptionType::kString,
                         "Event time of the first event, ISO 8601 (millisecond precision).",
                         std::string(kDefaultStart));
  OptionSpec out_of_order_group = config::MakeOption(
      "out_of_order_group", OptionType::kInteger,
      "Shuffle events within consecutive groups of this many (1: event times in order).", "1");
  out_of_order_group.min = 1;
  out_of_order_group.max = 1e9;
  OptionSpec hot_auction_ratio = config::MakeOption(
      "hot_auction_ratio", OptionType::kInteger,
      "1 in this many bids goes to a random in-flight auction, the rest to a hot one.", "2");
  hot_auction_ratio.min = 1;
  hot_auction_ratio.max = kMaxInt32;
  OptionSpec hot_bidders_ratio = config::MakeOption(
      "hot_bidders_ratio", OptionType::kInteger,
      "1 in this many bids comes from a random active person, the rest from a hot bidder.", "4");
  hot_bidders_ratio.min = 1;
  hot_bidders_ratio.max = kMaxInt32;
  OptionSpec hot_sellers_ratio = config::MakeOption(
      "hot_sellers_ratio", OptionType::kInteger,
      "1 in this many auctions is sold by a random active person, the rest by a hot seller.", "4");
  hot_sellers_ratio.min = 1;
  hot_sellers_ratio.max = kMaxInt32;
  OptionSpec active_people =
      config::MakeOption("active_people", OptionType::kInteger,
                         "How many of the most recent people bid and sell.", "1000");
  active_people.min = 1;
  active_people.max = 1e9;
  OptionSpec in_flight_auctions = config::MakeOption(
      "in_flight_auctions", OptionType::kInteger,
      "How many of the most recent auctions receive bids; also sets auction lengths.", "100");
  in_flight_auctions.min = 1;
  in_flight_auctions.max = 1e9;
  spec.options = {events,
                  seed,
                  rate,
                  start,
                  out_of_order_group,
                  hot_auction_ratio,
                  hot_bidders_ratio,
                  hot_sellers_ratio,
                  active_people,
                  in_flight_auctions};
  return spec;
}

Result<std::unique_ptr<exec::Source>> MakeNexmarkSource(const exec::ConnectorContext&,
                                                        const config::Options& options) {
  GeneratorSettings settings;
  settings.seed = static_cast<uint64_t>(options.GetInteger("seed"));
  settings.rate = options.GetInteger("rate");
  const std::string start = options.GetString("start");
  const std::optional<int64_t> start_micros = formats::ParseTimestampText(start);
  if (!start_micros) {
    return config::ConfigError(options.LocationOf("start"),
                               fmt::format("'{}' is not an ISO 8601 timestamp", start),
                               fmt::format("write e.g. {}", kDefaultStart));
  }
  // Event times have millisecond precision, as the reference's TIMESTAMP(3).
  settings.base_time_ms = *start_micros / 1000 - (*start_micros % 1000 < 0 ? 1 : 0);
  settings.out_of_order_group = options.GetInteger("out_of_order_group");
  settings.hot_auction_ratio = static_cast<int32_t>(options.GetInteger("hot_auction_ratio"));
  settings.hot_bidders_ratio = static_cast<int32_t>(options.GetInteger("hot_bidders_ratio"));
  settings.hot_sellers_ratio = static_cast<int32_t>(options.GetInteger("hot_sellers_ratio"));
  settings.active_people = options.GetInteger("active_people");
  settings.in_flight_auctions = options.GetInteger("in_flight_auctions");
  return std::make_unique<NexmarkSource>(settings, options.GetInteger("events"),
                                         exec::BatchingOptions::FromOptions(options).batch_size);
}

}  // namespace

void RegisterNexmarkSource(exec::Registry* registry) {
  registry->AddSource(NexmarkSpec(), MakeNexmarkSource);
}

}  // namespace sluice::connectors
