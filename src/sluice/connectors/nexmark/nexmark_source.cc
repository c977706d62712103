#include "sluice/connectors/nexmark/nexmark_source.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/config/location.h"
#include "sluice/connectors/nexmark/nexmark_generator.h"
#include "sluice/exec/source_positions.h"
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
///
/// Events are generated in chunks of batch_size, each pushed as up to three batches (person,
/// auction, bid). A position is the first event of the chunk being delivered and how many of
/// its streams are done; an event is a pure function of its number, so a restored source
/// generates that chunk again, pushes the streams not done yet and goes on with exactly the
/// events an uninterrupted run would have generated. PositionAfter() may be called on another
/// thread while Run() goes on.
class NexmarkSource : public exec::Source {
 public:
  /// With `keep_positions`, every push's position is kept for PositionAfter().
  NexmarkSource(const GeneratorSettings& settings, int64_t events, int64_t batch_size,
                bool keep_positions)
      : generator_(settings),
        events_(events),
        chunk_events_(std::min(batch_size, kMaxChunkEvents)),
        keep_positions_(keep_positions) {}

  std::shared_ptr<arrow::Schema> schema() const override { return nexmark::PersonSchema(); }

  std::vector<exec::SourceStream> streams() const override {
    return {{"person", nexmark::PersonSchema()},
            {"auction", nexmark::AuctionSchema()},
            {"bid", nexmark::BidSchema()}};
  }

  bool bounded() const override { return events_ > 0; }

  Status Run(exec::SourceOutput& out) override {
    Position at = start_;
    while ((events_ == 0 || at.event < events_) && !out.stopping()) {
      // A chunk cut by a restore keeps its length, so that its streams left are the same.
      int64_t count = at.stream > 0 ? at.chunk_events : chunk_events_;
      if (events_ > 0) count = std::min(count, events_ - at.event);
      SLUICE_ASSIGN_OR_RAISE(EventBatches batches, generator_.Generate(at.event, count));
      const std::shared_ptr<arrow::RecordBatch> by_stream[] = {
          std::move(batches.person), std::move(batches.auction), std::move(batches.bid)};
      for (int stream = at.stream; stream < kStreams; ++stream) {
        const auto& batch = by_stream[stream];
        if (batch == nullptr || batch->num_rows() == 0) continue;
        if (keep_positions_) {
          // Recorded before the push: once the batch is in the pipeline's queue, a checkpoint
          // may ask for the position after it. A push that fails ends the run, so the entry is
          // never asked for.
          bool rest_empty = true;
          for (int later = stream + 1; later < kStreams; ++later) {
            if (by_stream[later] != nullptr && by_stream[later]->num_rows() > 0) {
              rest_empty = false;
            }
          }
          positions_.Add(pushed_ + 1, rest_empty ? Position{at.event + count, 0, 0}
                                                 : Position{at.event, count, stream + 1});
        }
        Status status = out.PushStream(static_cast<size_t>(stream), batch);
        // A cancelled push means the run is stopping, which ends Run() quietly.
        if (status.IsCancelled()) return Status::OK();
        SLUICE_RETURN_NOT_OK(status);
        ++pushed_;
      }
      at = Position{at.event + count, 0, 0};
    }
    return Status::OK();
  }

  bool checkpointable() const override { return true; }

  Result<std::string> PositionAfter(int64_t batches) override {
    if (!keep_positions_) {
      return Status::Invalid("nexmark keeps positions only in a pipeline with checkpoint:");
    }
    for (auto& [pushed, position] : positions_.TakeThrough(batches)) {
      answered_batches_ = pushed;
      answered_ = position;
    }
    if (answered_batches_ != batches) {
      return Status::Invalid("nexmark has no position after batch ", batches,
                             " (the last one recorded is after batch ", answered_batches_, ")");
    }
    if (answered_.stream == 0) return fmt::format("{{\"event\":{}}}", answered_.event);
    return fmt::format("{{\"event\":{},\"chunk_events\":{},\"stream\":{}}}", answered_.event,
                       answered_.chunk_events, answered_.stream);
  }

  Status RestorePosition(const std::string& position) override {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    Position restored;
    bool valid = parser.parse(position).get(root) == simdjson::SUCCESS &&
                 root["event"].get_int64().get(restored.event) == simdjson::SUCCESS &&
                 restored.event >= 0;
    int64_t stream = 0;
    if (valid && root["stream"].get_int64().get(stream) == simdjson::SUCCESS) {
      valid = stream > 0 && stream < kStreams &&
              root["chunk_events"].get_int64().get(restored.chunk_events) == simdjson::SUCCESS &&
              restored.chunk_events > 0;
      restored.stream = static_cast<int>(stream);
    }
    if (!valid) {
      return Status::Invalid("the nexmark position in the checkpoint is not valid: ", position);
    }
    start_ = restored;
    answered_ = restored;
    answered_batches_ = 0;
    return Status::OK();
  }

 private:
  static constexpr int kStreams = 3;

  /// Where delivery stands: at chunk [event, event + chunk_events), whose streams before
  /// `stream` are pushed; `stream` 0 is the start of a chunk (chunk_events is then unused).
  struct Position {
    int64_t event = 0;
    int64_t chunk_events = 0;
    int stream = 0;
  };

  const NexmarkGenerator generator_;
  const int64_t events_;
  const int64_t chunk_events_;
  const bool keep_positions_;
  /// Where Run() starts: event 0, or a restored position.
  Position start_;
  /// Batches pushed so far (source thread).
  int64_t pushed_ = 0;
  exec::SourcePositions<Position> positions_;
  /// The last position PositionAfter() found and the batches it is after (pipeline thread).
  Position answered_;
  int64_t answered_batches_ = 0;
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

Result<std::unique_ptr<exec::Source>> MakeNexmarkSource(const exec::ConnectorContext& context,
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
                                         exec::BatchingOptions::FromOptions(options).batch_size,
                                         context.checkpoints);
}

}  // namespace

void RegisterNexmarkSource(exec::Registry* registry) {
  registry->AddSource(NexmarkSpec(), MakeNexmarkSource);
}

}  // namespace sluice::connectors
