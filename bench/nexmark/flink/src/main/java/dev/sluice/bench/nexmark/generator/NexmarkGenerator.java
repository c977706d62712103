package dev.sluice.bench.nexmark.generator;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;

/**
 * The Nexmark event generator, a port of Sluice's C++ generator
 * (src/sluice/connectors/nexmark/nexmark_generator.cc) that produces identical events; the model
 * is stated in docs/nexmark.md ("Generator") and tests/nexmark/cross_check.sh checks that the two
 * agree.
 *
 * <p>Event number n (0, 1, 2, ...) is a pure function of the config and n: call {@link #kind} and
 * then the matching {@link #person}, {@link #auction} or {@link #bid}. Immutable after
 * construction and thread-safe.
 */
public final class NexmarkGenerator implements Serializable {
  private static final long serialVersionUID = 1L;

  public static final int PERSON = 0;
  public static final int AUCTION = 1;
  public static final int BID = 2;

  public static final long FIRST_PERSON_ID = 1000L;
  public static final long FIRST_AUCTION_ID = 1000L;
  public static final long FIRST_CATEGORY_ID = 10L;

  private static final long PERSON_PROPORTION = 1;
  private static final long AUCTION_PROPORTION = 3;
  private static final long TOTAL_PROPORTION = 50;
  private static final int NUM_CATEGORIES = 5;
  private static final long PERSON_ID_LEAD = 10;
  private static final long AUCTION_ID_LEAD = 10;
  private static final long HOT_AUCTION_RATIO = 100;
  private static final long HOT_BIDDER_RATIO = 100;
  private static final long HOT_SELLER_RATIO = 100;
  private static final int HOT_CHANNELS_RATIO = 2;
  private static final int NUM_CHANNELS = 10_000;
  private static final int AVERAGE_PERSON_BYTES = 200;
  private static final int AVERAGE_AUCTION_BYTES = 500;
  private static final int AVERAGE_BID_BYTES = 100;

  private static final String[] US_STATES = {"AZ", "CA", "ID", "OR", "WA", "WY"};
  private static final String[] US_CITIES = {"Phoenix", "Los Angeles", "San Francisco", "Boise",
      "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"};
  private static final String[] FIRST_NAMES = {"Peter", "Paul", "Luke", "John", "Saul", "Vicky",
      "Kate", "Julie", "Sarah", "Deiter", "Walter"};
  private static final String[] LAST_NAMES = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
      "Walton", "Smith", "Jones", "Noris"};
  private static final String[] HOT_CHANNELS = {"Google", "Facebook", "Baidu", "Apple"};

  /** Prices: 1024 steps per decade, fixed point with 52 fraction bits (docs/nexmark.md). */
  private static final int PRICE_STEPS_PER_DECADE = 1024;
  /** round(10^(1/1024) * 2^52). */
  private static final long PRICE_STEP_FACTOR = 4513737897983614L;
  private static final long[] PRICE_DECADE_SCALE = {100L, 1000L, 10000L, 100000L, 1000000L,
      10000000L};

  private final long seed;
  private final long rate;
  private final long baseTimeMs;
  private final long outOfOrderGroup;
  private final int hotAuctionRatio;
  private final int hotBiddersRatio;
  private final int hotSellersRatio;
  private final long activePeople;
  private final long inFlightAuctions;
  /** Events from one auction to the inFlightAuctions-th next one (the auction length horizon). */
  private final long eventsForAuctions;
  private final long[] priceSteps = new long[PRICE_STEPS_PER_DECADE + 1];
  private final String[] channelNames = new String[NUM_CHANNELS];
  private final String[] channelUrls = new String[NUM_CHANNELS];
  private final String[] hotUrls = new String[HOT_CHANNELS.length];

  public NexmarkGenerator(GeneratorConfig config) {
    if (config.rate < 1 || config.outOfOrderGroup < 1 || config.hotAuctionRatio < 1
        || config.hotBiddersRatio < 1 || config.hotSellersRatio < 1 || config.activePeople < 1
        || config.inFlightAuctions < 1) {
      throw new IllegalArgumentException("invalid nexmark generator config: " + config);
    }
    seed = config.seed;
    rate = config.rate;
    baseTimeMs = config.baseTimeMs;
    outOfOrderGroup = config.outOfOrderGroup;
    hotAuctionRatio = config.hotAuctionRatio;
    hotBiddersRatio = config.hotBiddersRatio;
    hotSellersRatio = config.hotSellersRatio;
    activePeople = config.activePeople;
    inFlightAuctions = config.inFlightAuctions;
    eventsForAuctions = inFlightAuctions * TOTAL_PROPORTION / AUCTION_PROPORTION;

    priceSteps[0] = 1L << 52;
    for (int step = 1; step <= PRICE_STEPS_PER_DECADE; step++) {
      long previous = priceSteps[step - 1];
      // (previous * factor) >> 52 over the full 128-bit product; both factors are positive.
      long high = Math.multiplyHigh(previous, PRICE_STEP_FACTOR);
      long low = previous * PRICE_STEP_FACTOR;
      priceSteps[step] = (high << 12) | (low >>> 52);
    }

    // Channel k's URL comes from stream ~k, the hot channels' URLs from streams ~(10000 + i):
    // event ids are never negative, so these streams are disjoint from every event's.
    for (int channel = 0; channel < NUM_CHANNELS; channel++) {
      SplitMix rng = new SplitMix(seed, ~(long) channel);
      String url = baseUrl(rng);
      if (rng.nextInt(10) > 0) {
        url = url + "&channel_id=" + Math.abs(Integer.reverse(channel));
      }
      channelNames[channel] = "channel-" + channel;
      channelUrls[channel] = url;
    }
    for (int hot = 0; hot < HOT_CHANNELS.length; hot++) {
      hotUrls[hot] = baseUrl(new SplitMix(seed, ~(long) (NUM_CHANNELS + hot)));
    }
  }

  /** The event id of event number n: n, or n shuffled within its out-of-order group. */
  public long eventId(long n) {
    long group = outOfOrderGroup;
    if (group == 1) {
      return n;
    }
    return (n / group) * group + (n * 953) % group;
  }

  /** The event time, in epoch milliseconds, of the event with id {@code id}. */
  public long timestampMs(long id) {
    return baseTimeMs + (id * 1000) / rate;
  }

  /** The kind of event number n: {@link #PERSON}, {@link #AUCTION} or {@link #BID}. */
  public int kind(long n) {
    long offset = eventId(n) % TOTAL_PROPORTION;
    if (offset < PERSON_PROPORTION) {
      return PERSON;
    }
    if (offset < PERSON_PROPORTION + AUCTION_PROPORTION) {
      return AUCTION;
    }
    return BID;
  }

  /** Event number n, which must be a person (kind(n) == PERSON). */
  public Person person(long n) {
    long id = eventId(n);
    long timeMs = timestampMs(id);
    SplitMix rng = new SplitMix(seed, id);
    long personId = lastBase0PersonId(id) + FIRST_PERSON_ID;
    String first = FIRST_NAMES[rng.nextInt(FIRST_NAMES.length)];
    String last = LAST_NAMES[rng.nextInt(LAST_NAMES.length)];
    String name = first + " " + last;
    String user = nextString(rng, 7, ' ');
    String host = nextString(rng, 5, ' ');
    String email = user + "@" + host + ".com";
    byte[] card = new byte[19];
    for (int group = 0; group < 4; group++) {
      if (group > 0) {
        card[5 * group - 1] = ' ';
      }
      int value = rng.nextInt(10000);
      card[5 * group] = (byte) ('0' + value / 1000);
      card[5 * group + 1] = (byte) ('0' + value / 100 % 10);
      card[5 * group + 2] = (byte) ('0' + value / 10 % 10);
      card[5 * group + 3] = (byte) ('0' + value % 10);
    }
    String creditCard = new String(card, StandardCharsets.ISO_8859_1);
    String city = US_CITIES[rng.nextInt(US_CITIES.length)];
    String state = US_STATES[rng.nextInt(US_STATES.length)];
    int currentSize = 8 + name.length() + email.length() + creditCard.length() + city.length()
        + state.length();
    String extra = nextExtra(rng, currentSize, AVERAGE_PERSON_BYTES);
    return new Person(personId, name, email, creditCard, city, state, timeMs, extra);
  }

  /** Event number n, which must be an auction (kind(n) == AUCTION). */
  public Auction auction(long n) {
    long id = eventId(n);
    long timeMs = timestampMs(id);
    SplitMix rng = new SplitMix(seed, id);
    long auctionId = lastBase0AuctionId(id) + FIRST_AUCTION_ID;
    long seller;
    if (rng.nextInt(hotSellersRatio) > 0) {
      seller = (lastBase0PersonId(id) / HOT_SELLER_RATIO) * HOT_SELLER_RATIO;
    } else {
      seller = nextBase0PersonId(id, rng);
    }
    seller += FIRST_PERSON_ID;
    long category = FIRST_CATEGORY_ID + rng.nextInt(NUM_CATEGORIES);
    long initialBid = nextPrice(rng);
    // Auctions last on average until inFlightAuctions more auctions have been generated.
    long horizonMs = timestampMs(id + eventsForAuctions) - timeMs;
    long expires = timeMs + 1 + rng.nextLong(Math.max(horizonMs * 2, 1L));
    String itemName = nextString(rng, 20, ' ');
    String description = nextString(rng, 100, ' ');
    long reserve = initialBid + nextPrice(rng);
    int currentSize = 8 + itemName.length() + description.length() + 8 + 8 + 8 + 8 + 8;
    String extra = nextExtra(rng, currentSize, AVERAGE_AUCTION_BYTES);
    return new Auction(auctionId, itemName, description, initialBid, reserve, timeMs, expires,
        seller, category, extra);
  }

  /** Event number n, which must be a bid (kind(n) == BID). */
  public Bid bid(long n) {
    long id = eventId(n);
    long timeMs = timestampMs(id);
    SplitMix rng = new SplitMix(seed, id);
    long auction;
    if (rng.nextInt(hotAuctionRatio) > 0) {
      auction = (lastBase0AuctionId(id) / HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO;
    } else {
      auction = nextBase0AuctionId(id, rng);
    }
    auction += FIRST_AUCTION_ID;
    long bidder;
    if (rng.nextInt(hotBiddersRatio) > 0) {
      bidder = (lastBase0PersonId(id) / HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO + 1;
    } else {
      bidder = nextBase0PersonId(id, rng);
    }
    // The reference adds FIRST_PERSON_ID twice; kept so results match other engines'.
    bidder += 2 * FIRST_PERSON_ID;
    long price = nextPrice(rng);
    String channel;
    String url;
    if (rng.nextInt(HOT_CHANNELS_RATIO) > 0) {
      int hot = rng.nextInt(HOT_CHANNELS.length);
      channel = HOT_CHANNELS[hot];
      url = hotUrls[hot];
    } else {
      int number = rng.nextInt(NUM_CHANNELS);
      channel = channelNames[number];
      url = channelUrls[number];
    }
    String extra = nextExtra(rng, 8 + 8 + 8 + 8, AVERAGE_BID_BYTES);
    return new Bid(auction, bidder, price, channel, url, timeMs, extra);
  }

  /** The last person id (base 0) generated at or before event id {@code id}. */
  static long lastBase0PersonId(long id) {
    long epoch = id / TOTAL_PROPORTION;
    long offset = id % TOTAL_PROPORTION;
    if (offset >= PERSON_PROPORTION) {
      offset = PERSON_PROPORTION - 1;
    }
    return epoch * PERSON_PROPORTION + offset;
  }

  /** The last auction id (base 0) generated at or before event id {@code id}. */
  static long lastBase0AuctionId(long id) {
    long epoch = id / TOTAL_PROPORTION;
    long offset = id % TOTAL_PROPORTION;
    if (offset < PERSON_PROPORTION) {
      epoch--;
      offset = AUCTION_PROPORTION - 1;
    } else if (offset >= PERSON_PROPORTION + AUCTION_PROPORTION) {
      offset = AUCTION_PROPORTION - 1;
    } else {
      offset -= PERSON_PROPORTION;
    }
    return epoch * AUCTION_PROPORTION + offset;
  }

  private long nextBase0PersonId(long id, SplitMix rng) {
    long numPeople = lastBase0PersonId(id) + 1;
    long active = Math.min(numPeople, activePeople);
    return numPeople - active + rng.nextLong(active + PERSON_ID_LEAD);
  }

  private long nextBase0AuctionId(long id, SplitMix rng) {
    long maxAuction = lastBase0AuctionId(id);
    long minAuction = Math.max(maxAuction - inFlightAuctions, 0L);
    return minAuction + rng.nextLong(maxAuction - minAuction + 1 + AUCTION_ID_LEAD);
  }

  /** Log-uniform from 100 to 10^8, in integer arithmetic (docs/nexmark.md). */
  private long nextPrice(SplitMix rng) {
    long random = rng.next();
    long step = ((random >>> 32) * (6 * PRICE_STEPS_PER_DECADE)) >>> 32;
    int decade = (int) (step / PRICE_STEPS_PER_DECADE);
    int within = (int) (step % PRICE_STEPS_PER_DECADE);
    long low = priceSteps[within];
    long high = priceSteps[within + 1];
    long mantissa = low + ((((high - low) >>> 16) * (random & 0xFFFFFFFFL)) >>> 16);
    return ((mantissa >>> 20) * PRICE_DECADE_SCALE[decade] + (1L << 31)) >>> 32;
  }

  /**
   * The reference's nextString(maxLength, special): 3 .. maxLength - 1 characters, each {@code
   * special} with probability 1/13 and otherwise a random letter, then String.trim().
   */
  static String nextString(SplitMix rng, int maxLength, char special) {
    int length = 3 + rng.nextInt(maxLength - 3);
    byte[] out = new byte[length];
    for (int i = 0; i < length; i++) {
      out[i] = rng.nextInt(13) == 0 ? (byte) special : (byte) ('a' + rng.nextInt(26));
    }
    return new String(out, StandardCharsets.ISO_8859_1).trim();
  }

  /**
   * Padding toward the average event size (the reference's nextExtra): on average {@code
   * averageSize - currentSize} letters, spread by +-20%, eight letters per random draw.
   */
  static String nextExtra(SplitMix rng, int currentSize, int averageSize) {
    if (currentSize > averageSize) {
      return "";
    }
    int remaining = averageSize - currentSize;
    int delta = (2 * remaining + 5) / 10; // round(remaining * 0.2)
    int length = remaining - delta + (delta == 0 ? 0 : rng.nextInt(2 * delta));
    byte[] out = new byte[(length + 7) & ~7];
    for (int i = 0; i < length; i += 8) {
      long word = letters(rng.next());
      for (int j = 0; j < 8; j++) {
        out[i + j] = (byte) (word >>> (8 * j));
      }
    }
    return new String(out, 0, length, StandardCharsets.ISO_8859_1);
  }

  /** Eight letters: byte j of {@code random} (lowest first) becomes 'a' + (byte * 26 >>> 8). */
  static long letters(long random) {
    final long lowBytes = 0x00FF00FF00FF00FFL;
    long even = (((random & lowBytes) * 26) >>> 8) & lowBytes;
    long odd = ((((random >>> 8) & lowBytes) * 26) >>> 8) & lowBytes;
    return (even | (odd << 8)) + 0x6161616161616161L;
  }

  /** "https://www.nexmark.com/a/b/c/item.htm?query=1" with a, b, c = nextString(5, '_'). */
  private static String baseUrl(SplitMix rng) {
    String a = nextString(rng, 5, '_');
    String b = nextString(rng, 5, '_');
    String c = nextString(rng, 5, '_');
    return "https://www.nexmark.com/" + a + "/" + b + "/" + c + "/item.htm?query=1";
  }
}
