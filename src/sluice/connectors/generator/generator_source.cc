#include "sluice/connectors/generator/generator_source.h"

#include <arrow/array/data.h>
#include <arrow/buffer.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "sluice/config/location.h"
#include "sluice/exec/source_positions.h"
#include "sluice/exec/until.h"
#include "sluice/formats/time_text.h"

namespace sluice::connectors {
namespace {

using Clock = std::chrono::steady_clock;

/// The first event's time when `start` is left out: a fixed instant, so that output is
/// reproducible run after run.
constexpr std::string_view kDefaultStart = "2024-01-01T00:00:00Z";

/// Names of the first symbols; further ones are called SYM010, SYM011, ...
constexpr std::array<std::string_view, 10> kTickers = {"AAPL", "MSFT", "AMZN", "GOOG", "META",
                                                       "NVDA", "TSLA", "JPM",  "V",    "XOM"};

/// Every symbol name fits in this many bytes ("SYM99999" at most), so the hot loop can copy a
/// fixed-size block per row instead of calling memcpy with a variable length.
constexpr int32_t kMaxSymbolLength = 8;
constexpr int64_t kMaxSymbols = 100000;

/// Prices move in whole cents: a price is an integer number of ticks, and dividing by 100 gives
/// the double nearest to the decimal, which prints as e.g. 187.42 rather than 187.42000000000002.
constexpr double kTicksPerUnit = 100.0;
/// The lowest mid price (1.00); the walk is reflected there so prices stay positive.
constexpr int64_t kMinMidTicks = 100;
/// About 1 % of quotes are crossed (ask < bid), so that a filter like `ask > bid` has work.
constexpr uint64_t kCrossedPer65536 = 655;
constexpr int64_t kMaxVolume = 10000;

/// The furthest ahead a paced row may be scheduled, in seconds (about 30 years).
constexpr double kLongestWaitSeconds = 1e9;
/// How long a paced source sleeps at most before it checks again whether a stop was requested.
constexpr Clock::duration kStopCheckInterval = std::chrono::milliseconds(50);

int64_t WallClockMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// SplitMix64's finaliser: a bijective mix of 64 bits. Hashing a row counter with it gives a
/// counter-based random stream, so row i's random numbers do not depend on how rows are
/// grouped into batches.
constexpr uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ULL;

/// A uniform integer in [0, bound) from 32 random bits (Lemire's multiply-shift; the bias is
/// negligible for the small bounds used here).
constexpr uint64_t Below(uint64_t random32, uint64_t bound) { return (random32 * bound) >> 32; }

/// What determines the generated rows. Batch size, linger and rate are deliberately not here:
/// they change when rows are delivered, never what they contain.
struct QuoteSettings {
  uint64_t seed = 42;
  int64_t num_symbols = 10;
  int64_t start_micros = 0;
  int64_t interval_micros = 1000;
};

std::shared_ptr<arrow::Schema> QuoteSchema() {
  static const std::shared_ptr<arrow::Schema> schema = arrow::schema({
      arrow::field("symbol", arrow::utf8(), /*nullable=*/false),
      arrow::field("bid", arrow::float64(), /*nullable=*/false),
      arrow::field("ask", arrow::float64(), /*nullable=*/false),
      arrow::field("volume", arrow::int64(), /*nullable=*/false),
      arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), /*nullable=*/false),
  });
  return schema;
}

/// Produces quote rows in order, one batch at a time.
///
/// Row i's random draws come from hashing (seed, i); the only sequential state is each symbol's
/// current mid price, which moves by a random step whenever the symbol quotes. Both depend
/// only on the row index, so any split of rows into batches yields the same data.
/// Not thread-safe: owned and used by one source.
class QuoteGenerator {
 public:
  explicit QuoteGenerator(const QuoteSettings& settings)
      : key_(Mix(settings.seed ^ 0x5EED5EED5EED5EEDULL)),
        start_micros_(settings.start_micros),
        interval_micros_(settings.interval_micros) {
    names_.resize(static_cast<size_t>(settings.num_symbols));
    mid_ticks_.resize(static_cast<size_t>(settings.num_symbols));
    for (size_t symbol = 0; symbol < names_.size(); ++symbol) {
      std::string name = symbol < kTickers.size() ? std::string(kTickers[symbol])
                                                  : fmt::format("SYM{:03}", symbol);
      names_[symbol].length = static_cast<int32_t>(name.size());
      std::memcpy(names_[symbol].bytes.data(), name.data(), name.size());
      // Opening mid prices between 10.00 and 500.00.
      mid_ticks_[symbol] = 1000 + static_cast<int64_t>(Mix(key_ ^ ((symbol + 1) * kGamma)) % 49000);
    }
  }

  /// The index of the next row to be generated, which is also how many rows came before it.
  int64_t next_row() const { return next_row_; }

  /// Moves on past the next `num_rows` rows without generating them, as if they had been: the
  /// mid prices walk through every row (the walk reflects at the lowest price, so there is no
  /// short cut), at a few nanoseconds a row.
  void Skip(int64_t num_rows) {
    const auto num_symbols = static_cast<uint64_t>(names_.size());
    const auto end = static_cast<uint64_t>(next_row_ + num_rows);
    for (auto row = static_cast<uint64_t>(next_row_); row < end; ++row) {
      const uint64_t symbol = Below(FirstDraw(row) >> 32, num_symbols);
      mid_ticks_[symbol] = Walk(mid_ticks_[symbol], SecondDraw(row));
    }
    next_row_ += num_rows;
  }

  /// Generates the next `num_rows` rows (at least one).
  Result<std::shared_ptr<arrow::RecordBatch>> Next(int64_t num_rows) {
    SLUICE_ASSIGN_OR_RAISE(
        std::shared_ptr<arrow::Buffer> offsets,
        arrow::AllocateBuffer((num_rows + 1) * static_cast<int64_t>(sizeof(int32_t))));
    SLUICE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::ResizableBuffer> characters,
                           arrow::AllocateResizableBuffer((num_rows + 1) * kMaxSymbolLength));
    SLUICE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> bids,
                           arrow::AllocateBuffer(num_rows * static_cast<int64_t>(sizeof(double))));
    SLUICE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> asks,
                           arrow::AllocateBuffer(num_rows * static_cast<int64_t>(sizeof(double))));
    SLUICE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> volumes,
                           arrow::AllocateBuffer(num_rows * static_cast<int64_t>(sizeof(int64_t))));
    SLUICE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> times,
                           arrow::AllocateBuffer(num_rows * static_cast<int64_t>(sizeof(int64_t))));

    auto* offset_out = offsets->mutable_data_as<int32_t>();
    uint8_t* character_out = characters->mutable_data();
    auto* bid_out = bids->mutable_data_as<double>();
    auto* ask_out = asks->mutable_data_as<double>();
    auto* volume_out = volumes->mutable_data_as<int64_t>();
    auto* time_out = times->mutable_data_as<int64_t>();
    const SymbolName* names = names_.data();
    int64_t* mids = mid_ticks_.data();
    const auto num_symbols = static_cast<uint64_t>(names_.size());

    int32_t end = 0;
    offset_out[0] = 0;
    for (int64_t k = 0; k < num_rows; ++k) {
      const auto row = static_cast<uint64_t>(next_row_ + k);
      const uint64_t first = FirstDraw(row);
      const uint64_t second = SecondDraw(row);

      const uint64_t symbol = Below(first >> 32, num_symbols);
      const int64_t mid = Walk(mids[symbol], second);
      mids[symbol] = mid;
      const int64_t spread = 1 + static_cast<int64_t>((((second >> 32) & 0xFFFF) * 5) >> 16);
      int64_t bid = mid - spread / 2;
      int64_t ask = bid + spread;
      if ((second >> 48) < kCrossedPer65536) std::swap(bid, ask);

      bid_out[k] = static_cast<double>(bid) / kTicksPerUnit;
      ask_out[k] = static_cast<double>(ask) / kTicksPerUnit;
      volume_out[k] = 1 + static_cast<int64_t>(Below(first & 0xFFFF'FFFF, kMaxVolume));
      // Unsigned arithmetic: an endless run with a long interval wraps instead of overflowing.
      time_out[k] = static_cast<int64_t>(static_cast<uint64_t>(start_micros_) +
                                         row * static_cast<uint64_t>(interval_micros_));
      std::memcpy(character_out + end, names[symbol].bytes.data(), kMaxSymbolLength);
      end += names[symbol].length;
      offset_out[k + 1] = end;
    }
    next_row_ += num_rows;
    SLUICE_RETURN_NOT_OK(characters->Resize(end, /*shrink_to_fit=*/false));
    // Zero the bytes past the last name that the fixed-size copies wrote into the padding, so
    // the buffer's whole allocation is deterministic as well.
    std::memset(character_out + end, 0, static_cast<size_t>(characters->capacity() - end));

    const auto& schema = QuoteSchema();
    std::vector<std::shared_ptr<arrow::ArrayData>> columns = {
        arrow::ArrayData::Make(schema->field(0)->type(), num_rows, {nullptr, offsets, characters},
                               0),
        arrow::ArrayData::Make(schema->field(1)->type(), num_rows, {nullptr, bids}, 0),
        arrow::ArrayData::Make(schema->field(2)->type(), num_rows, {nullptr, asks}, 0),
        arrow::ArrayData::Make(schema->field(3)->type(), num_rows, {nullptr, volumes}, 0),
        arrow::ArrayData::Make(schema->field(4)->type(), num_rows, {nullptr, times}, 0),
    };
    return arrow::RecordBatch::Make(schema, num_rows, std::move(columns));
  }

 private:
  // Two 64-bit draws per row, each bit used once: the first picks the symbol (high half) and
  // the volume (low half); the second the price step (low half), the spread (bits 32-47) and
  // whether the quote is crossed (bits 48-63).
  uint64_t FirstDraw(uint64_t row) const { return Mix(key_ + (2 * row + 1) * kGamma); }
  uint64_t SecondDraw(uint64_t row) const { return Mix(key_ + (2 * row + 2) * kGamma); }

  /// The mid price after a quote whose second draw is `second`: one random step of -3 to +3
  /// ticks, reflected at the lowest price so prices stay positive.
  static int64_t Walk(int64_t mid, uint64_t second) {
    mid += static_cast<int64_t>(Below(second & 0xFFFF'FFFF, 7)) - 3;
    return mid < kMinMidTicks ? 2 * kMinMidTicks - mid : mid;
  }

  struct SymbolName {
    std::array<char, kMaxSymbolLength> bytes{};
    int32_t length = 0;
  };

  const uint64_t key_;
  const int64_t start_micros_;
  const int64_t interval_micros_;
  std::vector<SymbolName> names_;
  std::vector<int64_t> mid_ticks_;
  int64_t next_row_ = 0;
};

/// The `generator` source. Run() is called once, on the source's own thread.
///
/// Its position is the number of rows generated: the rows are a function of their index, and
/// the one piece of sequential state (each symbol's mid price) is replayed on restore, so a
/// restored source goes on with exactly the rows an uninterrupted run would have generated. With
/// `start: now` the prices go on alike but the event time starts again from the wall clock
/// (row n is due at the restart), since live data is stamped with the moment it is due.
/// PositionAfter() may be called on another thread while Run() goes on.
class GeneratorSource : public exec::Source {
 public:
  /// With `start_now`, the first row's event time is the wall clock when Run() starts, the
  /// instant pacing counts from, so that each row's event time is the moment it is due.
  /// With `keep_positions`, every push's position is kept for PositionAfter().
  GeneratorSource(const QuoteSettings& settings, bool start_now, int64_t count, double rate,
                  exec::BatchingOptions batching, bool keep_positions, exec::UntilOptions until)
      : settings_(settings),
        start_now_(start_now),
        count_(count),
        rate_(rate),
        batching_(batching),
        keep_positions_(keep_positions),
        until_options_(std::move(until)) {}

  std::shared_ptr<arrow::Schema> schema() const override { return QuoteSchema(); }
  bool bounded() const override { return count_ > 0 || until_options_.any(); }

  Status Run(exec::SourceOutput& out) override {
    QuoteSettings settings = settings_;
    if (start_now_) {
      // The first row of this run is due now.
      settings.start_micros = static_cast<int64_t>(
          static_cast<uint64_t>(WallClockMicros()) -
          static_cast<uint64_t>(start_row_) * static_cast<uint64_t>(settings.interval_micros));
    }
    generator_.emplace(settings);
    generator_->Skip(start_row_);
    until_.emplace(until_options_);
    return rate_ > 0 ? RunPaced(out) : RunFlatOut(out);
  }

  bool checkpointable() const override { return true; }

  Result<std::string> PositionAfter(int64_t batches) override {
    if (!keep_positions_) {
      return Status::Invalid("the generator keeps positions only in a pipeline with checkpoint:");
    }
    for (auto& [pushed, rows] : positions_.TakeThrough(batches)) answered_ = {pushed, rows};
    if (answered_.first != batches) {
      return Status::Invalid("the generator has no position after batch ", batches,
                             " (the last one recorded is after batch ", answered_.first, ")");
    }
    return fmt::format("{{\"rows\":{}}}", answered_.second);
  }

  Status RestorePosition(const std::string& position) override {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    int64_t rows = 0;
    if (parser.parse(position).get(root) != simdjson::SUCCESS ||
        root["rows"].get_int64().get(rows) != simdjson::SUCCESS || rows < 0) {
      return Status::Invalid("the generator's position in the checkpoint is not valid: ",
                             position);
    }
    start_row_ = rows;
    answered_ = {0, rows};
    return Status::OK();
  }

 private:
  /// The exclusive end of the next batch: batch_size rows on, or fewer at the end of `count`
  /// or of `until: {count}`.
  int64_t NextBatchEnd() const {
    int64_t end = generator_->next_row() + std::min(batching_.batch_size, until_->remaining());
    return count_ > 0 ? std::min(end, count_) : end;
  }

  bool Finished() const {
    return (count_ > 0 && generator_->next_row() >= count_) || until_->Reached();
  }

  /// Pushes a batch; a cancelled push means the run is stopping, which ends Run() quietly.
  Status Deliver(exec::SourceOutput& out, std::shared_ptr<arrow::RecordBatch> batch, bool* stop) {
    // Recorded before the push: once the batch is in the pipeline's queue, a checkpoint may ask
    // for the position after it. A push that fails ends the run, so the entry is never asked for.
    if (keep_positions_) positions_.Add(pushed_ + 1, generator_->next_row());
    int64_t rows = batch->num_rows();
    Status status = out.Push(std::move(batch));
    if (status.IsCancelled()) {
      *stop = true;
      return Status::OK();
    }
    SLUICE_RETURN_NOT_OK(status);
    ++pushed_;
    until_->Took(rows);
    return Status::OK();
  }

  Status RunFlatOut(exec::SourceOutput& out) {
    bool stop = false;
    while (!stop && !Finished() && !out.stopping()) {
      SLUICE_ASSIGN_OR_RAISE(auto batch, generator_->Next(NextBatchEnd() - generator_->next_row()));
      SLUICE_RETURN_NOT_OK(Deliver(out, std::move(batch), &stop));
    }
    return Status::OK();
  }

  /// Row r is due `r / rate` seconds after the start. A batch goes out when its last row is
  /// due, or `linger` after its first row was due, whichever comes first; it then holds every
  /// row due by that moment. Rows are generated only when sent, so pacing costs no memory.
  Status RunPaced(exec::SourceOutput& out) {
    const Clock::time_point started = Clock::now();
    // Pacing counts from the first row of this run (after a restore, not row 0).
    const int64_t first_row = generator_->next_row();
    auto due_at = [&](int64_t row) {
      // Capped so that an absurdly low rate cannot overflow the clock's representation.
      const std::chrono::duration<double> offset(
          std::min(static_cast<double>(row - first_row) / rate_, kLongestWaitSeconds));
      return started + std::chrono::duration_cast<Clock::duration>(offset);
    };
    bool stop = false;
    while (!stop && !Finished() && !out.stopping()) {
      const int64_t first = generator_->next_row();
      const int64_t end = NextBatchEnd();
      const Clock::time_point send_at =
          std::min(due_at(end - 1),
                   due_at(first) + std::chrono::duration_cast<Clock::duration>(batching_.linger));
      for (Clock::time_point now = Clock::now(); now < send_at; now = Clock::now()) {
        if (out.stopping()) return Status::OK();
        if (until_->Reached()) return Status::OK();  // until: {duration}
        std::this_thread::sleep_for(std::min(send_at - now, kStopCheckInterval));
      }
      const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
      const auto due_rows = static_cast<int64_t>(std::min(
          static_cast<double>(first_row) + elapsed * rate_ + 1.0, static_cast<double>(end)));
      const int64_t num_rows = std::clamp<int64_t>(due_rows - first, 1, end - first);
      SLUICE_ASSIGN_OR_RAISE(auto batch, generator_->Next(num_rows));
      SLUICE_RETURN_NOT_OK(Deliver(out, std::move(batch), &stop));
    }
    return Status::OK();
  }

  const QuoteSettings settings_;
  const bool start_now_;
  std::optional<QuoteGenerator> generator_;
  const int64_t count_;
  const double rate_;
  const exec::BatchingOptions batching_;
  const bool keep_positions_;
  const exec::UntilOptions until_options_;
  /// until: {count, duration}, started by Run(); `idle` never runs out while rows are generated.
  std::optional<exec::UntilClock> until_;
  /// The first row to generate: 0, or where a restored position left off.
  int64_t start_row_ = 0;
  /// Batches pushed so far (source thread).
  int64_t pushed_ = 0;
  /// Rows generated after each push.
  exec::SourcePositions<int64_t> positions_;
  /// The last position PositionAfter() found, as (batches, rows) (pipeline thread).
  std::pair<int64_t, int64_t> answered_{0, 0};
};

config::PluginSpec GeneratorSpec() {
  using config::OptionSpec;
  using config::OptionType;
  config::PluginSpec spec;
  spec.name = "generator";
  spec.doc =
      "Synthetic market quotes (symbol, bid, ask, volume, ts) from a seeded random walk; the same "
      "seed "
      "always gives the same rows.";
  spec.example =
      "sources:\n"
      "  quotes:\n"
      "    connector: generator\n"
      "    count: 100000\n"
      "    rate: 5000\n"
      "    symbols: 20\n"
      "    seed: 7\n";

  OptionSpec count = config::MakeOption("count", OptionType::kInteger,
                                        "Rows to generate; 0 runs until stopped.", "0");
  count.min = 0;
  OptionSpec rate = config::MakeOption(
      "rate", OptionType::kDouble,
      "Rows per second to pace generation at; 0 runs flat out. With start: now it defaults to "
      "1 s / interval, and interval to 1 s / rate, so that event time keeps up with the wall "
      "clock.",
      "0");
  rate.min = 0;
  OptionSpec seed =
      config::MakeOption("seed", OptionType::kInteger,
                         "Seed of the random walk; equal seeds give identical rows.", "42");
  seed.min = 0;
  OptionSpec symbols = config::MakeOption(
      "symbols", OptionType::kInteger,
      "Distinct symbols quoted: AAPL, MSFT, ... for the first ten, then SYM010, SYM011, ...", "10");
  symbols.min = 1;
  symbols.max = static_cast<double>(kMaxSymbols);
  OptionSpec start = config::MakeOption(
      "start", OptionType::kString,
      "Event time (ts) of the first row: ISO 8601 or epoch (UTC "
      "unless a zone is given), or `now` for live data: the wall clock when the run starts, "
      "each row's ts then being the moment it is due.",
      std::string(kDefaultStart));
  OptionSpec interval =
      config::MakeOption("interval", OptionType::kDuration,
                         "Event time between consecutive rows (microsecond precision). A "
                         "fixed start keeps it whatever the rate, so rows stay reproducible.",
                         "1ms");
  interval.min = 0;
  spec.options = {count, rate, seed, symbols, start, interval, exec::UntilOptionSpec()};
  return spec;
}

/// The pace of a `start: now` generator, setting `*interval_micros` to match: from `rate` when
/// given (the interval is then 1 s / rate, to the microsecond), from `interval` otherwise. Both
/// given must agree, or event time would drift from the wall clock.
Result<double> LiveRate(const config::Options& options, int64_t* interval_micros) {
  constexpr double kMicrosPerSecond = 1e6;
  if (!options.Has("rate")) {
    if (*interval_micros <= 0) {
      return config::ConfigError(options.LocationOf("interval"),
                                 "a live generator (start: now) needs an interval above 0",
                                 "event time advances by the interval at each row");
    }
    return kMicrosPerSecond / static_cast<double>(*interval_micros);
  }
  const double rate = options.GetDouble("rate");
  if (rate <= 0) {
    return config::ConfigError(options.LocationOf("rate"),
                               "a live generator (start: now) cannot run flat out (rate: 0)",
                               "leave rate out to pace at one row per interval");
  }
  const double implied = kMicrosPerSecond / rate;
  if (implied < 1) {
    return config::ConfigError(
        options.LocationOf("rate"),
        fmt::format("rate {} is more than one row per microsecond, the finest event-time step",
                    rate),
        "use a fixed start to generate faster than 1,000,000 rows/s");
  }
  const auto rounded = static_cast<int64_t>(std::llround(implied));
  if (options.Has("interval") && *interval_micros != rounded) {
    return config::ConfigError(
        options.LocationOf("interval"),
        fmt::format("interval {}us and rate {}/s disagree: with start: now event time would run "
                    "at {:.3g}x the wall clock",
                    *interval_micros, rate, static_cast<double>(*interval_micros) / implied),
        "leave out interval or rate; the other follows (interval = 1s / rate)");
  }
  *interval_micros = rounded;
  return rate;
}

Result<std::unique_ptr<exec::Source>> MakeGeneratorSource(const exec::ConnectorContext& context,
                                                          const config::Options& options) {
  QuoteSettings settings;
  settings.seed = static_cast<uint64_t>(options.GetInteger("seed"));
  settings.num_symbols = options.GetInteger("symbols");
  const std::string start = options.GetString("start");
  const bool start_now = start == "now";
  if (!start_now) {
    std::optional<int64_t> start_micros = formats::ParseTimestampText(start);
    if (!start_micros) {
      return config::ConfigError(options.LocationOf("start"),
                                 fmt::format("'{}' is not an ISO 8601 timestamp", start),
                                 fmt::format("write e.g. {} or now", kDefaultStart));
    }
    settings.start_micros = *start_micros;
  }
  settings.interval_micros =
      std::chrono::duration_cast<std::chrono::microseconds>(options.GetDuration("interval"))
          .count();
  double rate = options.GetDouble("rate");
  if (start_now) {
    // Live data: event time must advance with the wall clock, so the pace and the event-time
    // step are one setting seen two ways (rate = 1 s / interval); either one implies the other.
    SLUICE_ASSIGN_OR_RAISE(rate, LiveRate(options, &settings.interval_micros));
  }
  return std::make_unique<GeneratorSource>(settings, start_now, options.GetInteger("count"), rate,
                                           exec::BatchingOptions::FromOptions(options),
                                           context.checkpoints,
                                           exec::UntilOptions::FromOptions(options));
}

}  // namespace

void RegisterGeneratorSource(exec::Registry* registry) {
  registry->AddSource(GeneratorSpec(), MakeGeneratorSource);
}

}  // namespace sluice::connectors
