package dev.sluice.bench.nexmark.generator;

import java.io.Serializable;

/**
 * What determines the generated events; the same settings as the options of Sluice's `nexmark`
 * source, with the same defaults. Equal configs give identical events in both engines.
 */
public final class GeneratorConfig implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Seeds every random draw (Sluice option `seed`). */
  public long seed = 0;
  /** Events per second of event time: event n is stamped baseTimeMs + n * 1000 / rate. */
  public long rate = 10_000_000L;
  /** Event time of event 0, epoch milliseconds (Sluice option `start`): 2015-07-15T00:00:00Z. */
  public long baseTimeMs = 1_436_918_400_000L;
  /** Events are shuffled within consecutive groups of this many (1: in order). */
  public int outOfOrderGroup = 1;
  /** One bid in hotAuctionRatio goes to a random in-flight auction, the others to a hot one. */
  public int hotAuctionRatio = 2;
  /** One bid in hotBiddersRatio comes from a random active person, the others from a hot one. */
  public int hotBiddersRatio = 4;
  /** One auction in hotSellersRatio is sold by a random active person, the others by a hot one. */
  public int hotSellersRatio = 4;
  /** How many of the most recent people bid and sell. */
  public int activePeople = 1000;
  /** How many of the most recent auctions receive bids; also sets auction lengths. */
  public int inFlightAuctions = 100;

  public GeneratorConfig() {}

  public GeneratorConfig copy() {
    GeneratorConfig copy = new GeneratorConfig();
    copy.seed = seed;
    copy.rate = rate;
    copy.baseTimeMs = baseTimeMs;
    copy.outOfOrderGroup = outOfOrderGroup;
    copy.hotAuctionRatio = hotAuctionRatio;
    copy.hotBiddersRatio = hotBiddersRatio;
    copy.hotSellersRatio = hotSellersRatio;
    copy.activePeople = activePeople;
    copy.inFlightAuctions = inFlightAuctions;
    return copy;
  }

  @Override
  public String toString() {
    return "GeneratorConfig{seed=" + seed + ", rate=" + rate + ", baseTimeMs=" + baseTimeMs
        + ", outOfOrderGroup=" + outOfOrderGroup + ", hotAuctionRatio=" + hotAuctionRatio
        + ", hotBiddersRatio=" + hotBiddersRatio + ", hotSellersRatio=" + hotSellersRatio
        + ", activePeople=" + activePeople + ", inFlightAuctions=" + inFlightAuctions + "}";
  }
}
