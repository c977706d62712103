#include "sluice/connectors/nexmark/nexmark_generator.h"

#include <arrow/array/data.h>
#include <arrow/buffer.h>
#include <arrow/buffer_builder.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <string_view>
#include <utility>

namespace sluice::connectors::nexmark {

static_assert(std::endian::native == std::endian::little,
              "extra padding is written a 64-bit word at a time, lowest byte first");

namespace {

// The reference model's constants (Beam / nexmark-flink generator); docs/nexmark.md.
constexpr int64_t kPersonProportion = 1;
constexpr int64_t kAuctionProportion = 3;
constexpr int64_t kTotalProportion = 50;
constexpr int64_t kFirstPersonId = 1000;
constexpr int64_t kFirstAuctionId = 1000;
constexpr int64_t kFirstCategoryId = 10;
constexpr int32_t kNumCategories = 5;
constexpr int64_t kPersonIdLead = 10;
constexpr int64_t kAuctionIdLead = 10;
constexpr int64_t kHotAuctionRatio = 100;
constexpr int64_t kHotBidderRatio = 100;
constexpr int64_t kHotSellerRatio = 100;
constexpr int32_t kHotChannelsRatio = 2;
constexpr int32_t kNumChannels = 10000;
constexpr int32_t kAveragePersonBytes = 200;
constexpr int32_t kAverageAuctionBytes = 500;
constexpr int32_t kAverageBidBytes = 100;

constexpr std::array<std::string_view, 6> kUsStates = {"AZ", "CA", "ID", "OR", "WA", "WY"};
constexpr std::array<std::string_view, 10> kUsCities = {
    "Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland",
    "Bend",    "Redmond",     "Seattle",       "Kent",  "Cheyenne"};
constexpr std::array<std::string_view, 11> kFirstNames = {
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"};
constexpr std::array<std::string_view, 9> kLastNames = {
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"};
constexpr std::array<std::string_view, 4> kHotChannels = {"Google", "Facebook", "Baidu", "Apple"};
constexpr std::string_view kUrlPrefix = "https://www.nexmark.com/";
constexpr std::string_view kUrlSuffix = "item.htm?query=1";
constexpr std::string_view kChannelIdParameter = "&channel_id=";

// Prices: log-uniform from 100 to 10^8 (the reference's round(10^(U*6) * 100)), computed in
// integer arithmetic from a table of 1024 steps per decade so that the Java port gets the same
// numbers without depending on how either language's pow() rounds.
constexpr int kPriceStepsPerDecade = 1024;
constexpr int kPriceFractionBits = 52;
/// round(10^(1/1024) * 2^52).
constexpr uint64_t kPriceStepFactor = 4513737897983614ULL;
constexpr std::array<int64_t, 6> kPriceDecadeScale = {100, 1000, 10000, 100000, 1000000, 10000000};

/// Every character a string field may write past its end: extra padding is written 8 bytes
/// at a time.
constexpr int64_t kSlackBytes = 8;

/// The last person id (base 0) generated at or before event id `id`.
int64_t LastBase0PersonId(int64_t id) {
  const int64_t epoch = id / kTotalProportion;
  int64_t offset = id % kTotalProportion;
  if (offset >= kPersonProportion) offset = kPersonProportion - 1;
  return epoch * kPersonProportion + offset;
}

/// The last auction id (base 0) generated at or before event id `id`.
int64_t LastBase0AuctionId(int64_t id) {
  int64_t epoch = id / kTotalProportion;
  int64_t offset = id % kTotalProportion;
  if (offset < kPersonProportion) {
    --epoch;
    offset = kAuctionProportion - 1;
  } else if (offset >= kPersonProportion + kAuctionProportion) {
    offset = kAuctionProportion - 1;
  } else {
    offset -= kPersonProportion;
  }
  return epoch * kAuctionProportion + offset;
}

/// Eight letters 'a'..'z' from the eight bytes of `random`: byte j (lowest first) becomes
/// 'a' + (byte * 26 >> 8), computed for all bytes at once (two 16-bit lanes per byte pair).
uint64_t Letters(uint64_t random) {
  constexpr uint64_t kLowBytes = 0x00FF00FF00FF00FFULL;
  const uint64_t even = (((random & kLowBytes) * 26) >> 8) & kLowBytes;
  const uint64_t odd = ((((random >> 8) & kLowBytes) * 26) >> 8) & kLowBytes;
  return (even | (odd << 8)) + 0x6161616161616161ULL;
}

/// Writes the reference's nextString(max_length, special) to `out`: 3 .. max_length - 1
/// characters, each `special` with probability 1/13 and otherwise a random letter, then
/// trimmed of spaces at both ends as Java's String.trim(). Returns the trimmed length.
int32_t WriteString(SplitMix& rng, int32_t max_length, char special, char* out) {
  const int32_t length = 3 + rng.NextInt(max_length - 3);
  for (int32_t i = 0; i < length; ++i) {
    out[i] = rng.NextInt(13) == 0 ? special : static_cast<char>('a' + rng.NextInt(26));
  }
  if (special != ' ') return length;
  int32_t begin = 0;
  int32_t end = length;
  while (begin < end && out[begin] == ' ') ++begin;
  while (end > begin && out[end - 1] == ' ') --end;
  if (begin > 0) std::memmove(out, out + begin, static_cast<size_t>(end - begin));
  return end - begin;
}

/// The length of the `extra` padding of an event whose other fields take `current_size`
/// bytes (the reference's nextExtra): on average `average_size - current_size`, spread by
/// ±20 %.
int32_t ExtraLength(SplitMix& rng, int32_t current_size, int32_t average_size) {
  if (current_size > average_size) return 0;
  const int32_t remaining = average_size - current_size;
  const int32_t delta = (2 * remaining + 5) / 10;  // round(remaining * 0.2)
  return remaining - delta + (delta == 0 ? 0 : rng.NextInt(2 * delta));
}

/// Writes `length` letters, eight per random draw; may write up to 7 bytes past the end.
void WriteExtra(SplitMix& rng, int32_t length, char* out) {
  for (int32_t i = 0; i < length; i += 8) {
    const uint64_t word = Letters(rng.Next());
    std::memcpy(out + i, &word, sizeof(word));
  }
}

/// A random element of `choices`.
template <size_t N>
std::string_view Pick(SplitMix& rng, const std::array<std::string_view, N>& choices) {
  return choices[static_cast<size_t>(rng.NextInt(static_cast<int32_t>(N)))];
}

void WriteFourDigits(int32_t value, char* out) {
  out[0] = static_cast<char>('0' + value / 1000);
  out[1] = static_cast<char>('0' + value / 100 % 10);
  out[2] = static_cast<char>('0' + value / 10 % 10);
  out[3] = static_cast<char>('0' + value % 10);
}

/// Java's Math.abs(Integer.reverse(k)): the bits of k reversed, as a signed 32-bit number,
/// made positive (Integer.MIN_VALUE stays negative, as in Java).
int32_t ReversedChannelId(int32_t channel) {
  uint32_t bits = static_cast<uint32_t>(channel);
  uint32_t reversed = 0;
  for (int bit = 0; bit < 32; ++bit) {
    reversed = (reversed << 1) | (bits & 1);
    bits >>= 1;
  }
  const auto value = static_cast<int32_t>(reversed);
  return value == std::numeric_limits<int32_t>::min() ? value : (value < 0 ? -value : value);
}

/// "https://www.nexmark.com/<a>/<b>/<c>/item.htm?query=1" with a, b, c = nextString(5, '_').
std::string BaseUrl(SplitMix& rng) {
  std::string url(kUrlPrefix);
  char part[8];
  for (int i = 0; i < 3; ++i) {
    const int32_t length = WriteString(rng, 5, '_', part);
    url.append(part, static_cast<size_t>(length));
    url.push_back('/');
  }
  url.append(kUrlSuffix);
  return url;
}

std::shared_ptr<arrow::DataType> TimestampType() {
  return arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
}

/// An int64 or timestamp column; rows are reserved up front.
class FixedColumn {
 public:
  Status Reserve(int64_t rows) { return values_.Reserve(rows); }
  void Append(int64_t value) { values_.UnsafeAppend(value); }

  Result<std::shared_ptr<arrow::ArrayData>> Finish(std::shared_ptr<arrow::DataType> type,
                                                   int64_t rows) {
    SLUICE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> values,
                           values_.Finish(/*shrink_to_fit=*/false));
    return arrow::ArrayData::Make(std::move(type), rows, {nullptr, std::move(values)}, 0);
  }

 private:
  arrow::TypedBufferBuilder<int64_t> values_;
};

/// A string column written in place: Room() makes space, the caller writes characters at the
/// returned address, and Commit() ends the value.
class StringColumn {
 public:
  Status Reserve(int64_t rows, int64_t bytes) {
    SLUICE_RETURN_NOT_OK(offsets_.Reserve(rows + 1));
    offsets_.UnsafeAppend(0);
    return characters_.Reserve(bytes + kSlackBytes);
  }

  /// Room for `bytes` characters (plus slack for word-sized writes) at the end of the column.
  Result<char*> Room(int64_t bytes) {
    SLUICE_RETURN_NOT_OK(characters_.Reserve(bytes + kSlackBytes));
    return reinterpret_cast<char*>(characters_.mutable_data() + characters_.length());
  }

  void Commit(int64_t length) {
    characters_.UnsafeAdvance(length);
    offsets_.UnsafeAppend(static_cast<int32_t>(characters_.length()));
  }

  Status Append(std::string_view text) {
    SLUICE_ASSIGN_OR_RAISE(char* out, Room(static_cast<int64_t>(text.size())));
    std::memcpy(out, text.data(), text.size());
    Commit(static_cast<int64_t>(text.size()));
    return Status::OK();
  }

  Result<std::shared_ptr<arrow::ArrayData>> Finish(int64_t rows) {
    if (characters_.length() > std::numeric_limits<int32_t>::max()) {
      return Status::Invalid("nexmark: over 2 GiB of text in one batch; lower batch_size");
    }
    SLUICE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> offsets,
                           offsets_.Finish(/*shrink_to_fit=*/false));
    SLUICE_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> characters,
                           characters_.Finish(/*shrink_to_fit=*/false));
    return arrow::ArrayData::Make(arrow::utf8(), rows,
                                  {nullptr, std::move(offsets), std::move(characters)}, 0);
  }

 private:
  arrow::TypedBufferBuilder<int32_t> offsets_;
  arrow::BufferBuilder characters_;
};

}  // namespace

std::shared_ptr<arrow::Schema> PersonSchema() {
  static const std::shared_ptr<arrow::Schema> schema = arrow::schema({
      arrow::field("id", arrow::int64(), false),
      arrow::field("name", arrow::utf8(), false),
      arrow::field("emailAddress", arrow::utf8(), false),
      arrow::field("creditCard", arrow::utf8(), false),
      arrow::field("city", arrow::utf8(), false),
      arrow::field("state", arrow::utf8(), false),
      arrow::field("dateTime", TimestampType(), false),
      arrow::field("extra", arrow::utf8(), false),
  });
  return schema;
}

std::shared_ptr<arrow::Schema> AuctionSchema() {
  static const std::shared_ptr<arrow::Schema> schema = arrow::schema({
      arrow::field("id", arrow::int64(), false),
      arrow::field("itemName", arrow::utf8(), false),
      arrow::field("description", arrow::utf8(), false),
      arrow::field("initialBid", arrow::int64(), false),
      arrow::field("reserve", arrow::int64(), false),
      arrow::field("dateTime", TimestampType(), false),
      arrow::field("expires", TimestampType(), false),
      arrow::field("seller", arrow::int64(), false),
      arrow::field("category", arrow::int64(), false),
      arrow::field("extra", arrow::utf8(), false),
  });
  return schema;
}

std::shared_ptr<arrow::Schema> BidSchema() {
  static const std::shared_ptr<arrow::Schema> schema = arrow::schema({
      arrow::field("auction", arrow::int64(), false),
      arrow::field("bidder", arrow::int64(), false),
      arrow::field("price", arrow::int64(), false),
      arrow::field("channel", arrow::utf8(), false),
      arrow::field("url", arrow::utf8(), false),
      arrow::field("dateTime", TimestampType(), false),
      arrow::field("extra", arrow::utf8(), false),
  });
  return schema;
}

/// Writes the events of one range into the columns of the three kinds. One per Generate().
class EventWriter {
 public:
  explicit EventWriter(const NexmarkGenerator& generator)
      : generator_(generator), settings_(generator.settings_) {}

  Status Reserve(int64_t people, int64_t auctions, int64_t bids) {
    num_people_ = people;
    num_auctions_ = auctions;
    num_bids_ = bids;
    if (people > 0) {
      SLUICE_RETURN_NOT_OK(person_.id.Reserve(people));
      SLUICE_RETURN_NOT_OK(person_.name.Reserve(people, people * 14));
      SLUICE_RETURN_NOT_OK(person_.email_address.Reserve(people, people * 16));
      SLUICE_RETURN_NOT_OK(person_.credit_card.Reserve(people, people * 19));
      SLUICE_RETURN_NOT_OK(person_.city.Reserve(people, people * 13));
      SLUICE_RETURN_NOT_OK(person_.state.Reserve(people, people * 2));
      SLUICE_RETURN_NOT_OK(person_.date_time.Reserve(people));
      SLUICE_RETURN_NOT_OK(person_.extra.Reserve(people, people * kAveragePersonBytes));
    }
    if (auctions > 0) {
      SLUICE_RETURN_NOT_OK(auction_.id.Reserve(auctions));
      SLUICE_RETURN_NOT_OK(auction_.item_name.Reserve(auctions, auctions * 12));
      SLUICE_RETURN_NOT_OK(auction_.description.Reserve(auctions, auctions * 52));
      SLUICE_RETURN_NOT_OK(auction_.initial_bid.Reserve(auctions));
      SLUICE_RETURN_NOT_OK(auction_.reserve.Reserve(auctions));
      SLUICE_RETURN_NOT_OK(auction_.date_time.Reserve(auctions));
      SLUICE_RETURN_NOT_OK(auction_.expires.Reserve(auctions));
      SLUICE_RETURN_NOT_OK(auction_.seller.Reserve(auctions));
      SLUICE_RETURN_NOT_OK(auction_.category.Reserve(auctions));
      SLUICE_RETURN_NOT_OK(auction_.extra.Reserve(auctions, auctions * kAverageAuctionBytes));
    }
    if (bids > 0) {
      SLUICE_RETURN_NOT_OK(bid_.auction.Reserve(bids));
      SLUICE_RETURN_NOT_OK(bid_.bidder.Reserve(bids));
      SLUICE_RETURN_NOT_OK(bid_.price.Reserve(bids));
      SLUICE_RETURN_NOT_OK(bid_.channel.Reserve(bids, bids * 12));
      SLUICE_RETURN_NOT_OK(bid_.url.Reserve(bids, bids * 64));
      SLUICE_RETURN_NOT_OK(bid_.date_time.Reserve(bids));
      SLUICE_RETURN_NOT_OK(bid_.extra.Reserve(bids, bids * kAverageBidBytes));
    }
    return Status::OK();
  }

  Status AppendPerson(int64_t id, int64_t time_ms) {
    SplitMix rng(settings_.seed, static_cast<uint64_t>(id));
    person_.id.Append(LastBase0PersonId(id) + kFirstPersonId);

    const std::string_view first = Pick(rng, kFirstNames);
    const std::string_view last = Pick(rng, kLastNames);
    SLUICE_ASSIGN_OR_RAISE(char* name, person_.name.Room(16));
    std::memcpy(name, first.data(), first.size());
    name[first.size()] = ' ';
    std::memcpy(name + first.size() + 1, last.data(), last.size());
    const auto name_length = static_cast<int32_t>(first.size() + 1 + last.size());
    person_.name.Commit(name_length);

    SLUICE_ASSIGN_OR_RAISE(char* email, person_.email_address.Room(16));
    int32_t email_length = WriteString(rng, 7, ' ', email);
    email[email_length++] = '@';
    email_length += WriteString(rng, 5, ' ', email + email_length);
    std::memcpy(email + email_length, ".com", 4);
    email_length += 4;
    person_.email_address.Commit(email_length);

    SLUICE_ASSIGN_OR_RAISE(char* card, person_.credit_card.Room(19));
    for (int group = 0; group < 4; ++group) {
      if (group > 0) card[5 * group - 1] = ' ';
      WriteFourDigits(rng.NextInt(10000), card + 5 * group);
    }
    person_.credit_card.Commit(19);

    const std::string_view city = Pick(rng, kUsCities);
    SLUICE_RETURN_NOT_OK(person_.city.Append(city));
    const std::string_view state = Pick(rng, kUsStates);
    SLUICE_RETURN_NOT_OK(person_.state.Append(state));
    person_.date_time.Append(time_ms * 1000);

    const int32_t current_size =
        8 + name_length + email_length + 19 + static_cast<int32_t>(city.size() + state.size());
    return AppendExtra(rng, current_size, kAveragePersonBytes, &person_.extra);
  }

  Status AppendAuction(int64_t id, int64_t time_ms) {
    SplitMix rng(settings_.seed, static_cast<uint64_t>(id));
    auction_.id.Append(LastBase0AuctionId(id) + kFirstAuctionId);

    int64_t seller;
    if (rng.NextInt(settings_.hot_sellers_ratio) > 0) {
      seller = (LastBase0PersonId(id) / kHotSellerRatio) * kHotSellerRatio;
    } else {
      seller = NextBase0PersonId(id, rng);
    }
    auction_.seller.Append(seller + kFirstPersonId);
    auction_.category.Append(kFirstCategoryId + rng.NextInt(kNumCategories));

    const int64_t initial_bid = NextPrice(rng);
    auction_.initial_bid.Append(initial_bid);

    // Auctions last on average until in_flight_auctions more auctions have been generated.
    const int64_t horizon_ms =
        generator_.TimestampMs(id + generator_.events_for_auctions_) - time_ms;
    const int64_t expires_ms = time_ms + 1 + rng.NextLong(std::max<int64_t>(horizon_ms * 2, 1));
    auction_.date_time.Append(time_ms * 1000);
    auction_.expires.Append(expires_ms * 1000);

    SLUICE_ASSIGN_OR_RAISE(char* item_name, auction_.item_name.Room(20));
    const int32_t item_name_length = WriteString(rng, 20, ' ', item_name);
    auction_.item_name.Commit(item_name_length);
    SLUICE_ASSIGN_OR_RAISE(char* description, auction_.description.Room(100));
    const int32_t description_length = WriteString(rng, 100, ' ', description);
    auction_.description.Commit(description_length);

    auction_.reserve.Append(initial_bid + NextPrice(rng));
    const int32_t current_size = 8 + item_name_length + description_length + 8 + 8 + 8 + 8 + 8;
    return AppendExtra(rng, current_size, kAverageAuctionBytes, &auction_.extra);
  }

  Status AppendBid(int64_t id, int64_t time_ms) {
    SplitMix rng(settings_.seed, static_cast<uint64_t>(id));
    int64_t auction;
    if (rng.NextInt(settings_.hot_auction_ratio) > 0) {
      auction = (LastBase0AuctionId(id) / kHotAuctionRatio) * kHotAuctionRatio;
    } else {
      auction = NextBase0AuctionId(id, rng);
    }
    bid_.auction.Append(auction + kFirstAuctionId);

    int64_t bidder;
    if (rng.NextInt(settings_.hot_bidders_ratio) > 0) {
      bidder = (LastBase0PersonId(id) / kHotBidderRatio) * kHotBidderRatio + 1;
    } else {
      bidder = NextBase0PersonId(id, rng);
    }
    // The reference adds FIRST_PERSON_ID twice; kept so results match other engines'.
    bid_.bidder.Append(bidder + 2 * kFirstPersonId);

    bid_.price.Append(NextPrice(rng));

    NexmarkGenerator::Text url;
    if (rng.NextInt(kHotChannelsRatio) > 0) {
      const auto hot = static_cast<size_t>(rng.NextInt(static_cast<int32_t>(kHotChannels.size())));
      SLUICE_RETURN_NOT_OK(bid_.channel.Append(kHotChannels[hot]));
      url = generator_.hot_urls_[hot];
    } else {
      const auto number = static_cast<size_t>(rng.NextInt(kNumChannels));
      SLUICE_RETURN_NOT_OK(bid_.channel.Append(PoolText(generator_.channel_names_[number])));
      url = generator_.channel_urls_[number];
    }
    SLUICE_RETURN_NOT_OK(bid_.url.Append(PoolText(url)));
    bid_.date_time.Append(time_ms * 1000);
    return AppendExtra(rng, 8 + 8 + 8 + 8, kAverageBidBytes, &bid_.extra);
  }

  Result<EventBatches> Finish() {
    EventBatches batches;
    if (num_people_ > 0) {
      const int64_t rows = num_people_;
      std::vector<std::shared_ptr<arrow::ArrayData>> columns(8);
      SLUICE_ASSIGN_OR_RAISE(columns[0], person_.id.Finish(arrow::int64(), rows));
      SLUICE_ASSIGN_OR_RAISE(columns[1], person_.name.Finish(rows));
      SLUICE_ASSIGN_OR_RAISE(columns[2], person_.email_address.Finish(rows));
      SLUICE_ASSIGN_OR_RAISE(columns[3], person_.credit_card.Finish(rows));
      SLUICE_ASSIGN_OR_RAISE(columns[4], person_.city.Finish(rows));
      SLUICE_ASSIGN_OR_RAISE(columns[5], person_.state.Finish(rows));
      SLUICE_ASSIGN_OR_RAISE(columns[6], person_.date_time.Finish(TimestampType(), rows));
      SLUICE_ASSIGN_OR_RAISE(columns[7], person_.extra.Finish(rows));
      batches.person = arrow::RecordBatch::Make(PersonSchema(), rows, std::move(columns));
    }
    if (num_auctions_ > 0) {
      const int64_t rows = num_auctions_;
      std::vector<std::shared_ptr<arrow::ArrayData>> columns(10);
      SLUICE_ASSIGN_OR_RAISE(columns[0], auction_.id.Finish(arrow::int64(), rows));
      SLUICE_ASSIGN_OR_RAISE(columns[1], auction_.item_name.Finish(rows));
      SLUICE_ASSIGN_OR_RAISE(columns[2], auction_.description.Finish(rows));
      SLUICE_ASSIGN_OR_RAISE(columns[3], auction_.initial_bid.Finish(arrow::int64(), rows));
      SLUICE_ASSIGN_OR_RAISE(columns[4], auction_.reserve.Finish(arrow::int64(), rows));
      SLUICE_ASSIGN_OR_RAISE(columns[5], auction_.date_time.Finish(TimestampType(), rows));
      SLUICE_ASSIGN_OR_RAISE(columns[6], auction_.expires.Finish(TimestampType(), rows));
      SLUICE_ASSIGN_OR_RAISE(columns[7], auction_.seller.Finish(arrow::int64(), rows));
      SLUICE_ASSIGN_OR_RAISE(columns[8], auction_.category.Finish(arrow::int64(), rows));
      SLUICE_ASSIGN_OR_RAISE(columns[9], auction_.extra.Finish(rows));
      batches.auction = arrow::RecordBatch::Make(AuctionSchema(), rows, std::move(columns));
    }
    if (num_bids_ > 0) {
      const int64_t rows = num_bids_;
      std::vector<std::shared_ptr<arrow::ArrayData>> columns(7);
      SLUICE_ASSIGN_OR_RAISE(columns[0], bid_.auction.Finish(arrow::int64(), rows));
      SLUICE_ASSIGN_OR_RAISE(columns[1], bid_.bidder.Finish(arrow::int64(), rows));
      SLUICE_ASSIGN_OR_RAISE(columns[2], bid_.price.Finish(arrow::int64(), rows));
      SLUICE_ASSIGN_OR_RAISE(columns[3], bid_.channel.Finish(rows));
      SLUICE_ASSIGN_OR_RAISE(columns[4], bid_.url.Finish(rows));
      SLUICE_ASSIGN_OR_RAISE(columns[5], bid_.date_time.Finish(TimestampType(), rows));
      SLUICE_ASSIGN_OR_RAISE(columns[6], bid_.extra.Finish(rows));
      batches.bid = arrow::RecordBatch::Make(BidSchema(), rows, std::move(columns));
    }
    return batches;
  }

 private:
  struct PersonColumns {
    FixedColumn id;
    StringColumn name, email_address, credit_card, city, state;
    FixedColumn date_time;
    StringColumn extra;
  };
  struct AuctionColumns {
    FixedColumn id;
    StringColumn item_name, description;
    FixedColumn initial_bid, reserve, date_time, expires, seller, category;
    StringColumn extra;
  };
  struct BidColumns {
    FixedColumn auction, bidder, price;
    StringColumn channel, url;
    FixedColumn date_time;
    StringColumn extra;
  };

  std::string_view PoolText(NexmarkGenerator::Text text) const {
    return std::string_view(generator_.text_pool_)
        .substr(static_cast<size_t>(text.offset), static_cast<size_t>(text.length));
  }

  /// A random person among the active ones, or up to kPersonIdLead beyond the last one.
  int64_t NextBase0PersonId(int64_t id, SplitMix& rng) const {
    const int64_t num_people = LastBase0PersonId(id) + 1;
    const int64_t active_people = std::min(num_people, settings_.active_people);
    return num_people - active_people + rng.NextLong(active_people + kPersonIdLead);
  }

  /// A random auction among the in-flight ones, or up to kAuctionIdLead beyond the last one.
  int64_t NextBase0AuctionId(int64_t id, SplitMix& rng) const {
    const int64_t max_auction = LastBase0AuctionId(id);
    const int64_t min_auction = std::max<int64_t>(max_auction - settings_.in_flight_auctions, 0);
    return min_auction + rng.NextLong(max_auction - min_auction + 1 + kAuctionIdLead);
  }

  int64_t NextPrice(SplitMix& rng) const {
    const uint64_t random = rng.Next();
    const uint64_t step = ((random >> 32) * (6 * kPriceStepsPerDecade)) >> 32;
    const uint64_t decade = step / kPriceStepsPerDecade;
    const uint64_t within = step % kPriceStepsPerDecade;
    const auto low = static_cast<uint64_t>(generator_.price_steps_[within]);
    const auto high = static_cast<uint64_t>(generator_.price_steps_[within + 1]);
    const uint64_t mantissa = low + ((((high - low) >> 16) * (random & 0xFFFF'FFFFULL)) >> 16);
    return static_cast<int64_t>(
        ((mantissa >> 20) * static_cast<uint64_t>(kPriceDecadeScale[decade]) + (1ULL << 31)) >> 32);
  }

  static Status AppendExtra(SplitMix& rng, int32_t current_size, int32_t average_size,
                            StringColumn* column) {
    const int32_t length = ExtraLength(rng, current_size, average_size);
    SLUICE_ASSIGN_OR_RAISE(char* out, column->Room(length));
    WriteExtra(rng, length, out);
    column->Commit(length);
    return Status::OK();
  }

  const NexmarkGenerator& generator_;
  const GeneratorSettings& settings_;
  int64_t num_people_ = 0;
  int64_t num_auctions_ = 0;
  int64_t num_bids_ = 0;
  PersonColumns person_;
  AuctionColumns auction_;
  BidColumns bid_;
};

NexmarkGenerator::NexmarkGenerator(const GeneratorSettings& settings)
    : settings_(settings),
      events_for_auctions_(settings.in_flight_auctions * kTotalProportion / kAuctionProportion) {
  price_steps_[0] = int64_t{1} << kPriceFractionBits;
  for (size_t step = 1; step < price_steps_.size(); ++step) {
    const unsigned __int128 product =
        static_cast<unsigned __int128>(price_steps_[step - 1]) * kPriceStepFactor;
    price_steps_[step] = static_cast<int64_t>(product >> kPriceFractionBits);
  }

  // Channel k's name and URL come from a generator of their own, stream ~k, and the hot
  // channels' URLs from streams ~(10000 + i): event ids are never negative, so these streams
  // are disjoint from every event's.
  auto add_text = [this](std::string_view text) {
    Text entry{static_cast<int32_t>(text_pool_.size()), static_cast<int32_t>(text.size())};
    text_pool_.append(text);
    return entry;
  };
  channel_names_.reserve(kNumChannels);
  channel_urls_.reserve(kNumChannels);
  for (int32_t channel = 0; channel < kNumChannels; ++channel) {
    SplitMix rng(settings_.seed, ~static_cast<uint64_t>(channel));
    std::string url = BaseUrl(rng);
    if (rng.NextInt(10) > 0) {
      url.append(kChannelIdParameter);
      url.append(std::to_string(ReversedChannelId(channel)));
    }
    channel_names_.push_back(add_text("channel-" + std::to_string(channel)));
    channel_urls_.push_back(add_text(url));
  }
  for (size_t hot = 0; hot < hot_urls_.size(); ++hot) {
    SplitMix rng(settings_.seed, ~static_cast<uint64_t>(kNumChannels + hot));
    hot_urls_[hot] = add_text(BaseUrl(rng));
  }
}

EventKind NexmarkGenerator::Kind(int64_t number) const {
  const int64_t offset = EventId(number) % kTotalProportion;
  if (offset < kPersonProportion) return EventKind::kPerson;
  if (offset < kPersonProportion + kAuctionProportion) return EventKind::kAuction;
  return EventKind::kBid;
}

Result<EventBatches> NexmarkGenerator::Generate(int64_t first, int64_t count) const {
  int64_t counts[3] = {0, 0, 0};
  for (int64_t number = first; number < first + count; ++number) {
    ++counts[static_cast<int>(Kind(number))];
  }
  EventWriter writer(*this);
  SLUICE_RETURN_NOT_OK(writer.Reserve(counts[0], counts[1], counts[2]));
  for (int64_t number = first; number < first + count; ++number) {
    const int64_t id = EventId(number);
    const int64_t time_ms = TimestampMs(id);
    const int64_t offset = id % kTotalProportion;
    if (offset >= kPersonProportion + kAuctionProportion) {
      SLUICE_RETURN_NOT_OK(writer.AppendBid(id, time_ms));
    } else if (offset >= kPersonProportion) {
      SLUICE_RETURN_NOT_OK(writer.AppendAuction(id, time_ms));
    } else {
      SLUICE_RETURN_NOT_OK(writer.AppendPerson(id, time_ms));
    }
  }
  return writer.Finish();
}

}  // namespace sluice::connectors::nexmark
