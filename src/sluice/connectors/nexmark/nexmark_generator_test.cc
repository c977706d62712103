#include "sluice/connectors/nexmark/nexmark_generator.h"

#include <arrow/api.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sluice/config/options.h"
#include "sluice/connectors/nexmark/nexmark_source.h"
#include "sluice/formats/time_text.h"
#include "sluice/testing/collecting_output.h"

namespace sluice::connectors::nexmark {
namespace {

using testing::CollectingOutput;

constexpr int64_t kBaseMicros = 1'436'918'400'000'000;  // 2015-07-15T00:00:00Z

Result<std::unique_ptr<exec::Source>> MakeSource(const std::string& yaml) {
  exec::Registry registry;
  RegisterNexmarkSource(&registry);
  const config::PluginSpec* spec = registry.FindSpec(config::PluginKind::kSource, "nexmark");
  if (spec == nullptr) return Status::Invalid("nexmark not registered");
  SLUICE_ASSIGN_OR_RAISE(
      config::Options options,
      config::ValidateOptions(*spec, YAML::Load(yaml), "test.yaml", {"connector"}));
  return (*registry.FindSource("nexmark"))(exec::ConnectorContext{"test", "nexmark"}, options);
}

/// The three streams of a bounded run, each as one table.
struct Streams {
  std::shared_ptr<arrow::Table> person, auction, bid;
  const std::shared_ptr<arrow::Table>& operator[](int stream) const {
    return stream == 0 ? person : (stream == 1 ? auction : bid);
  }
};

Streams Generate(const std::string& yaml) {
  auto source = MakeSource(yaml);
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  if (!source.ok()) return {};
  CollectingOutput out;
  Status status = (*source)->Run(out);
  EXPECT_TRUE(status.ok()) << status.ToString();
  const std::vector<exec::SourceStream> streams = (*source)->streams();
  auto table = [&](size_t stream) {
    auto result =
        arrow::Table::FromRecordBatches(streams[stream].schema, out.StreamBatches(stream));
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? (*result)->CombineChunks().ValueOrDie() : nullptr;
  };
  return {table(0), table(1), table(2)};
}

std::vector<int64_t> Int64Column(const arrow::Table& table, const std::string& name) {
  std::vector<int64_t> values;
  for (const auto& chunk : table.GetColumnByName(name)->chunks()) {
    // Timestamps are read as their int64 microseconds.
    const std::shared_ptr<arrow::Array> view = chunk->View(arrow::int64()).ValueOrDie();
    const auto& array = static_cast<const arrow::Int64Array&>(*view);
    for (int64_t i = 0; i < array.length(); ++i) values.push_back(array.Value(i));
  }
  return values;
}

std::vector<std::string> StringColumn(const arrow::Table& table, const std::string& name) {
  std::vector<std::string> values;
  for (const auto& chunk : table.GetColumnByName(name)->chunks()) {
    const auto& array = static_cast<const arrow::StringArray&>(*chunk);
    for (int64_t i = 0; i < array.length(); ++i) values.push_back(array.GetString(i));
  }
  return values;
}

/// A row as "field|field|...", timestamps as the CSV sink writes them and the last column
/// (`extra`) as "<length>:<first 16 characters>".
std::string Render(const arrow::Table& table, int64_t row) {
  std::string out;
  for (int column = 0; column < table.num_columns(); ++column) {
    if (column > 0) out += '|';
    auto scalar = table.column(column)->GetScalar(row).ValueOrDie();
    if (scalar->type->id() == arrow::Type::TIMESTAMP) {
      formats::AppendTimestampText(static_cast<const arrow::TimestampScalar&>(*scalar).value,
                                   arrow::TimeUnit::MICRO, true, &out);
    } else if (column + 1 == table.num_columns()) {
      const std::string extra = scalar->ToString();
      out += std::to_string(extra.size()) + ":" + extra.substr(0, 16);
    } else {
      out += scalar->ToString();
    }
  }
  return out;
}

/// Row `number`'s position within its stream: the count of earlier events of its kind.
std::pair<int, int64_t> StreamRow(const NexmarkGenerator& generator, int64_t number) {
  const EventKind kind = generator.Kind(number);
  int64_t row = 0;
  for (int64_t earlier = 0; earlier < number; ++earlier) row += generator.Kind(earlier) == kind;
  return {static_cast<int>(kind), row};
}

TEST(NexmarkGenerator, SplitMixIsTheReferenceSequence) {
  // SplitMix64 seeded with 0 (state 0) yields the published sequence of the reference
  // implementation (Steele, Lea, Flood; Vigna's splitmix64.c).
  SplitMix rng(0, 0);
  // Mix(0) is 0, so the state starts at 0 as in splitmix64.c seeded with 0.
  EXPECT_EQ(rng.Next(), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(rng.Next(), 0x6E789E6AA1B965F4ULL);
  EXPECT_EQ(rng.Next(), 0x06C45D188009454FULL);
}

TEST(NexmarkSource, HasThreeStreamsWithTheReferenceSchemas) {
  auto source = MakeSource("{events: 100}");
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  const auto streams = (*source)->streams();
  ASSERT_EQ(streams.size(), 3u);
  EXPECT_EQ(streams[0].name, "person");
  EXPECT_EQ(streams[1].name, "auction");
  EXPECT_EQ(streams[2].name, "bid");
  EXPECT_TRUE((*source)->schema()->Equals(*streams[0].schema));
  const auto timestamp = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  EXPECT_TRUE(streams[2].schema->Equals(*arrow::schema({
      arrow::field("auction", arrow::int64(), false),
      arrow::field("bidder", arrow::int64(), false),
      arrow::field("price", arrow::int64(), false),
      arrow::field("channel", arrow::utf8(), false),
      arrow::field("url", arrow::utf8(), false),
      arrow::field("dateTime", timestamp, false),
      arrow::field("extra", arrow::utf8(), false),
  })));
  EXPECT_EQ(streams[0].schema->ToString(),
            "id: int64 not null\nname: string not null\nemailAddress: string not null\n"
            "creditCard: string not null\ncity: string not null\nstate: string not null\n"
            "dateTime: timestamp[us, tz=UTC] not null\nextra: string not null");
  EXPECT_EQ(streams[1].schema->ToString(),
            "id: int64 not null\nitemName: string not null\ndescription: string not null\n"
            "initialBid: int64 not null\nreserve: int64 not null\n"
            "dateTime: timestamp[us, tz=UTC] not null\nexpires: timestamp[us, tz=UTC] not null\n"
            "seller: int64 not null\ncategory: int64 not null\nextra: string not null");
  EXPECT_TRUE((*source)->bounded());

  CollectingOutput out;
  ASSERT_TRUE((*source)->Run(out).ok());
  for (size_t stream = 0; stream < 3; ++stream) {
    for (const auto& batch : out.StreamBatches(stream)) {
      EXPECT_TRUE(batch->schema()->Equals(*streams[stream].schema));
      EXPECT_TRUE(batch->ValidateFull().ok()) << batch->ValidateFull().ToString();
    }
  }
}

TEST(NexmarkSource, MatchesTheJavaPort) {
  // Rows printed by the Java port (GeneratorDump) for the same settings; the full comparison is
  // tests/nexmark/cross_check.sh.
  const Streams plain = Generate("{events: 2000, batch_size: 300}");
  NexmarkGenerator plain_generator(GeneratorSettings{});
  const std::map<int64_t, std::string> expected_plain = {
      {0,
       "1000|Deiter White|ceg@tont.com|2046 8441 8554 6602|Cheyenne|CA|2015-07-15T00:00:00Z|"
       "159:mihwynjoafdotesk"},
      {1,
       "1000|linxec|mjr uspiklweqdrcddtxxmzknvgsuhrezwivekksoeuoldzhglq|42633|1528862|"
       "2015-07-15T00:00:00Z|2015-07-15T00:00:00.001Z|1000|11|403:lgcowilezsagzcda"},
      {4,
       "1010|2002|326|channel-2283|"
       "https://www.nexmark.com/ifx/raw/cga/item.htm?query=1&channel_id=686817280|"
       "2015-07-15T00:00:00Z|71:vzbgeflrcpgrwupd"},
      {1999,
       "1100|2001|28722|channel-4685|"
       "https://www.nexmark.com/ict/caif/dtc_/item.htm?query=1&channel_id=1303904256|"
       "2015-07-15T00:00:00Z|64:zhxupacpdqmigrbx"},
  };
  for (const auto& [number, expected] : expected_plain) {
    const auto [stream, row] = StreamRow(plain_generator, number);
    EXPECT_EQ(Render(*plain[stream], row), expected) << "event " << number;
  }

  const Streams shuffled =
      Generate("{events: 2000, seed: 42, rate: 1000, out_of_order_group: 10, batch_size: 999}");
  GeneratorSettings settings;
  settings.seed = 42;
  settings.rate = 1000;
  settings.out_of_order_group = 10;
  NexmarkGenerator shuffled_generator(settings);
  const std::map<int64_t, std::string> expected_shuffled = {
      {0,
       "1000|Kate White|oyro@tj.com|2497 7307 3214 2138|Redmond|CA|2015-07-15T00:00:00Z|"
       "116:nwqcgafihyoscqoa"},
      {3,
       "1000|2001|147|channel-3363|"
       "https://www.nexmark.com/ga_/bytg/rug/item.htm?query=1&channel_id=995098624|"
       "2015-07-15T00:00:00.009Z|72:ulaqipgrfibmykef"},
      {57,
       "1003|yczattdgzreofiit|nl wlxvsonssqgx ywosr uq fcc vot wsmbh  jqkrshbnnvyjsfgitbrdzum|"
       "4559|4681|2015-07-15T00:00:00.051Z|2015-07-15T00:00:01.834Z|1000|13|331:polwobbaeomsdodx"},
      {1001,
       "1062|uez oufyhvwujzip|k glb c kchyzmuizcjaouarueyitwhdjcrzpvugparcamb  iirdemmvjo n|"
       "2265|1012494|2015-07-15T00:00:01.003Z|2015-07-15T00:00:03.854Z|1000|10|"
       "361:lygighfmcbutgpiu"},
      {1999,
       "1100|2001|13439|Google|https://www.nexmark.com/uczi/qesl/u__o/item.htm?query=1|"
       "2015-07-15T00:00:01.997Z|81:wtauqydhgnoflcoz"},
  };
  for (const auto& [number, expected] : expected_shuffled) {
    const auto [stream, row] = StreamRow(shuffled_generator, number);
    EXPECT_EQ(Render(*shuffled[stream], row), expected) << "event " << number;
  }
}

TEST(NexmarkSource, SameSeedSameEventsWhateverTheBatching) {
  const Streams a = Generate("{events: 20000, seed: 7}");
  const Streams b = Generate("{events: 20000, seed: 7, batch_size: 333}");
  const Streams c = Generate("{events: 20000, seed: 8}");
  for (int stream = 0; stream < 3; ++stream) {
    EXPECT_TRUE(a[stream]->Equals(*b[stream])) << "stream " << stream;
    EXPECT_FALSE(a[stream]->Equals(*c[stream])) << "stream " << stream;
  }
  // The same events from the generator asked directly, in pieces, out of order.
  GeneratorSettings settings;
  settings.seed = 7;
  NexmarkGenerator generator(settings);
  auto late = generator.Generate(10000, 10000).ValueOrDie();
  auto early = generator.Generate(0, 10000).ValueOrDie();
  auto bids = arrow::Table::FromRecordBatches({early.bid, late.bid}).ValueOrDie();
  EXPECT_TRUE(bids->CombineChunks().ValueOrDie()->Equals(*a.bid));
}

TEST(NexmarkSource, OnePersonThreeAuctionsAndFortySixBidsInEveryFifty) {
  const Streams streams = Generate("{events: 50000, batch_size: 777}");
  EXPECT_EQ(streams.person->num_rows(), 1000);
  EXPECT_EQ(streams.auction->num_rows(), 3000);
  EXPECT_EQ(streams.bid->num_rows(), 46000);
  NexmarkGenerator generator(GeneratorSettings{});
  for (int64_t number = 0; number < 500; ++number) {
    const int64_t offset = number % 50;
    const EventKind expected =
        offset < 1 ? EventKind::kPerson : (offset < 4 ? EventKind::kAuction : EventKind::kBid);
    EXPECT_EQ(generator.Kind(number), expected) << number;
  }
}

TEST(NexmarkSource, IdsAndReferencesStayInRange) {
  const Streams streams = Generate("{events: 100000}");
  // People and auctions are numbered from 1000 in the order they appear.
  const auto person_ids = Int64Column(*streams.person, "id");
  for (size_t i = 0; i < person_ids.size(); ++i) ASSERT_EQ(person_ids[i], 1000 + int64_t(i));
  const auto auction_ids = Int64Column(*streams.auction, "id");
  for (size_t i = 0; i < auction_ids.size(); ++i) ASSERT_EQ(auction_ids[i], 1000 + int64_t(i));
  const int64_t last_person = 1000 + static_cast<int64_t>(person_ids.size()) - 1;
  const int64_t last_auction = 1000 + static_cast<int64_t>(auction_ids.size()) - 1;

  for (int64_t seller : Int64Column(*streams.auction, "seller")) {
    EXPECT_GE(seller, 1000);
    EXPECT_LE(seller, last_person + 10);  // the reference's PERSON_ID_LEAD
  }
  for (int64_t category : Int64Column(*streams.auction, "category")) {
    EXPECT_GE(category, 10);
    EXPECT_LE(category, 14);
  }
  for (int64_t auction : Int64Column(*streams.bid, "auction")) {
    EXPECT_GE(auction, 1000);
    EXPECT_LE(auction, last_auction + 10);  // AUCTION_ID_LEAD
  }
  // The reference adds FIRST_PERSON_ID to a bidder twice.
  for (int64_t bidder : Int64Column(*streams.bid, "bidder")) {
    EXPECT_GE(bidder, 2000);
    EXPECT_LE(bidder, last_person + 1000 + 10);
  }
}

TEST(NexmarkSource, PricesAreLogUniformFromOneDollarToAMillion) {
  const Streams streams = Generate("{events: 200000, seed: 3}");
  const auto prices = Int64Column(*streams.bid, "price");
  std::vector<int64_t> per_decade(6, 0);
  for (int64_t price : prices) {
    ASSERT_GE(price, 100);
    ASSERT_LE(price, 100'000'000);
    int decade = 0;
    for (int64_t bound = 1000; decade < 5 && price >= bound; bound *= 10) ++decade;
    ++per_decade[static_cast<size_t>(decade)];
  }
  for (int64_t count : per_decade) {
    EXPECT_NEAR(static_cast<double>(count) / static_cast<double>(prices.size()), 1.0 / 6, 0.01);
  }
  const auto initial = Int64Column(*streams.auction, "initialBid");
  const auto reserve = Int64Column(*streams.auction, "reserve");
  for (size_t i = 0; i < initial.size(); ++i) EXPECT_GT(reserve[i], initial[i]);
}

TEST(NexmarkSource, HotAuctionsBiddersAndSellersAreSkewed) {
  const Streams streams = Generate("{events: 200000, seed: 5}");
  auto share = [](const std::vector<int64_t>& values, int64_t remainder) {
    int64_t hits = 0;
    for (int64_t value : values) hits += value % 100 == remainder;
    return static_cast<double>(hits) / static_cast<double>(values.size());
  };
  // A hot auction is the first of its hundred (id % 100 == 0): half the bids, plus the random
  // ones that hit such an id.
  EXPECT_NEAR(share(Int64Column(*streams.bid, "auction"), 0), 0.5 + 0.5 * 0.01, 0.02);
  // A hot bidder is the second person of a hundred: 3/4 of the bids (2 * 1000 added).
  EXPECT_NEAR(share(Int64Column(*streams.bid, "bidder"), 1), 0.75 + 0.25 * 0.01, 0.02);
  // A hot seller is the first person of a hundred: 3/4 of the auctions.
  EXPECT_NEAR(share(Int64Column(*streams.auction, "seller"), 0), 0.75 + 0.25 * 0.01, 0.02);
  // Half the bids come from the four hot channels.
  int64_t hot = 0;
  int64_t with_channel_id = 0;
  const auto channels = StringColumn(*streams.bid, "channel");
  const auto urls = StringColumn(*streams.bid, "url");
  std::set<std::string> hot_names = {"Google", "Facebook", "Baidu", "Apple"};
  std::map<std::string, std::set<std::string>> urls_of_channel;
  for (size_t i = 0; i < channels.size(); ++i) {
    if (hot_names.count(channels[i])) {
      ++hot;
    } else {
      EXPECT_EQ(channels[i].rfind("channel-", 0), 0u) << channels[i];
      with_channel_id += urls[i].find("&channel_id=") != std::string::npos;
    }
    EXPECT_EQ(urls[i].rfind("https://www.nexmark.com/", 0), 0u) << urls[i];
    urls_of_channel[channels[i]].insert(urls[i]);
  }
  EXPECT_NEAR(static_cast<double>(hot) / static_cast<double>(channels.size()), 0.5, 0.01);
  const auto generated = static_cast<double>(channels.size()) - static_cast<double>(hot);
  EXPECT_NEAR(static_cast<double>(with_channel_id) / generated, 0.9, 0.01);
  // Each channel always has the same URL.
  for (const auto& [channel, channel_urls] : urls_of_channel) {
    EXPECT_EQ(channel_urls.size(), 1u) << channel;
  }
}

TEST(NexmarkSource, SizesAverageToTheReferenceTargets) {
  const Streams streams = Generate("{events: 100000, seed: 11}");
  auto average = [](const std::vector<std::string>& values) {
    double total = 0;
    for (const auto& value : values) total += static_cast<double>(value.size());
    return total / static_cast<double>(values.size());
  };
  auto total_lengths = [](const arrow::Table& table, std::vector<std::string> names) {
    std::vector<double> totals;
    for (const auto& name : names) {
      auto values = StringColumn(table, name);
      if (totals.empty()) totals.resize(values.size(), 0.0);
      for (size_t i = 0; i < values.size(); ++i) totals[i] += static_cast<double>(values[i].size());
    }
    double sum = 0;
    for (double total : totals) sum += total;
    return sum / static_cast<double>(totals.size());
  };
  // Sizes as the reference counts them: 8 bytes per number, plus the characters of the text.
  EXPECT_NEAR(32 + average(StringColumn(*streams.bid, "extra")), 100, 3);
  EXPECT_NEAR(8 + 5 * 8 + total_lengths(*streams.auction, {"itemName", "description", "extra"}),
              500, 10);
  EXPECT_NEAR(8 + total_lengths(*streams.person,
                                {"name", "emailAddress", "creditCard", "city", "state", "extra"}),
              200, 5);
  for (const auto& email : StringColumn(*streams.person, "emailAddress")) {
    ASSERT_NE(email.find('@'), std::string::npos);
    ASSERT_EQ(email.substr(email.size() - 4), ".com");
  }
  for (const auto& card : StringColumn(*streams.person, "creditCard")) {
    ASSERT_EQ(card.size(), 19u);
    ASSERT_EQ(card[4], ' ');
  }
  for (const auto& extra : StringColumn(*streams.auction, "extra")) {
    ASSERT_TRUE(
        std::all_of(extra.begin(), extra.end(), [](char c) { return c >= 'a' && c <= 'z'; }));
  }
}

/// Every event time of a run, in event order, by merging the streams back with the generator.
std::vector<int64_t> EventTimes(const Streams& streams, const GeneratorSettings& settings,
                                int64_t events) {
  NexmarkGenerator generator(settings);
  std::vector<std::vector<int64_t>> times;
  for (int stream = 0; stream < 3; ++stream) {
    times.push_back(Int64Column(*streams[stream], "dateTime"));
  }
  std::vector<size_t> next(3, 0);
  std::vector<int64_t> merged;
  for (int64_t number = 0; number < events; ++number) {
    const auto stream = static_cast<size_t>(generator.Kind(number));
    merged.push_back(times[stream][next[stream]++]);
  }
  return merged;
}

TEST(NexmarkSource, EventTimesFollowTheRate) {
  const Streams streams = Generate("{events: 5000, rate: 1000, start: '2020-01-01T00:00:00Z'}");
  GeneratorSettings settings;
  settings.rate = 1000;
  const std::vector<int64_t> times = EventTimes(streams, settings, 5000);
  const int64_t start = *formats::ParseTimestampText("2020-01-01T00:00:00Z");
  for (size_t n = 0; n < times.size(); ++n) ASSERT_EQ(times[n], start + int64_t(n) * 1000) << n;

  // At the standard rate (10 M/s), 10,000 events share each millisecond; times never decrease.
  const Streams standard = Generate("{events: 60000}");
  const std::vector<int64_t> standard_times = EventTimes(standard, GeneratorSettings{}, 60000);
  EXPECT_TRUE(std::is_sorted(standard_times.begin(), standard_times.end()));
  EXPECT_EQ(standard_times.front(), kBaseMicros);
  EXPECT_EQ(standard_times.back(), kBaseMicros + 5000);
  // Auctions expire after they start.
  const auto starts = Int64Column(*standard.auction, "dateTime");
  const auto expires = Int64Column(*standard.auction, "expires");
  for (size_t i = 0; i < starts.size(); ++i) EXPECT_GT(expires[i], starts[i]);
}

TEST(NexmarkSource, OutOfOrderGroupsShuffleTimesWithinEachGroup) {
  const Streams streams = Generate("{events: 1000, rate: 1000, out_of_order_group: 10}");
  GeneratorSettings settings;
  settings.rate = 1000;
  settings.out_of_order_group = 10;
  const std::vector<int64_t> times = EventTimes(streams, settings, 1000);
  EXPECT_FALSE(std::is_sorted(times.begin(), times.end()));
  for (size_t group = 0; group < times.size(); group += 10) {
    std::vector<int64_t> within(times.begin() + static_cast<std::ptrdiff_t>(group),
                                times.begin() + static_cast<std::ptrdiff_t>(group + 10));
    std::sort(within.begin(), within.end());
    for (size_t i = 0; i < 10; ++i) {
      ASSERT_EQ(within[i], kBaseMicros + static_cast<int64_t>(group + i) * 1000) << group;
    }
  }
}

TEST(NexmarkSource, EndlessRunStopsWhenAsked) {
  auto source = MakeSource("{batch_size: 1000}");
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_FALSE((*source)->bounded());
  CollectingOutput out(/*stop_after=*/7);
  ASSERT_TRUE((*source)->Run(out).ok());
  EXPECT_GE(out.batches().size(), 7u);
  EXPECT_LE(out.batches().size(), 9u);
}

TEST(NexmarkSource, RejectsABadStart) {
  auto source = MakeSource("{start: yesterday}");
  ASSERT_FALSE(source.ok());
  EXPECT_NE(source.status().message().find("not an ISO 8601 timestamp"), std::string::npos)
      << source.status().ToString();
}

}  // namespace
}  // namespace sluice::connectors::nexmark
