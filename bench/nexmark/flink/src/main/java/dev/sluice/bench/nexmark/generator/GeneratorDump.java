package dev.sluice.bench.nexmark.generator;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.LocalDateTime;
import java.time.ZoneOffset;

/**
 * Prints events 0 .. events-1 to stdout, one CSV line per event prefixed with its kind
 * ("person,", "auction,", "bid,"), the rest of the line exactly as Sluice's file sink writes
 * the row in CSV (columns in schema order, ISO 8601 UTC timestamps with trailing zeros of the
 * fraction dropped, empty strings as ""), for tests/nexmark/cross_check.sh.
 *
 * <p>Usage: {@code GeneratorDump <events> <seed> [name=value ...]} where name is a field of
 * {@link GeneratorConfig} (rate, baseTimeMs, outOfOrderGroup, hotAuctionRatio, ...).
 */
public final class GeneratorDump {
  private GeneratorDump() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 2) {
      System.err.println("usage: GeneratorDump <events> <seed> [name=value ...]");
      System.exit(2);
    }
    long events = Long.parseLong(args[0]);
    GeneratorConfig config = new GeneratorConfig();
    config.seed = Long.parseLong(args[1]);
    for (int i = 2; i < args.length; i++) {
      String[] pair = args[i].split("=", 2);
      if (pair.length != 2) {
        throw new IllegalArgumentException("expected name=value, got " + args[i]);
      }
      set(config, pair[0], pair[1]);
    }
    NexmarkGenerator generator = new NexmarkGenerator(config);
    Writer out = new BufferedWriter(
        new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 20);
    StringBuilder line = new StringBuilder(1024);
    for (long n = 0; n < events; n++) {
      line.setLength(0);
      switch (generator.kind(n)) {
        case NexmarkGenerator.PERSON: {
          Person p = generator.person(n);
          line.append("person,").append(p.id).append(',');
          text(line, p.name).append(',');
          text(line, p.emailAddress).append(',');
          text(line, p.creditCard).append(',');
          text(line, p.city).append(',');
          text(line, p.state).append(',');
          time(line, p.dateTime).append(',');
          text(line, p.extra);
          break;
        }
        case NexmarkGenerator.AUCTION: {
          Auction a = generator.auction(n);
          line.append("auction,").append(a.id).append(',');
          text(line, a.itemName).append(',');
          text(line, a.description).append(',');
          line.append(a.initialBid).append(',').append(a.reserve).append(',');
          time(line, a.dateTime).append(',');
          time(line, a.expires).append(',');
          line.append(a.seller).append(',').append(a.category).append(',');
          text(line, a.extra);
          break;
        }
        default: {
          Bid b = generator.bid(n);
          line.append("bid,").append(b.auction).append(',').append(b.bidder).append(',')
              .append(b.price).append(',');
          text(line, b.channel).append(',');
          text(line, b.url).append(',');
          time(line, b.dateTime).append(',');
          text(line, b.extra);
          break;
        }
      }
      line.append('\n');
      out.append(line);
    }
    out.flush();
  }

  private static void set(GeneratorConfig config, String name, String value) {
    switch (name) {
      case "seed": config.seed = Long.parseLong(value); break;
      case "rate": config.rate = Long.parseLong(value); break;
      case "baseTimeMs": config.baseTimeMs = Long.parseLong(value); break;
      case "outOfOrderGroup": config.outOfOrderGroup = Integer.parseInt(value); break;
      case "hotAuctionRatio": config.hotAuctionRatio = Integer.parseInt(value); break;
      case "hotBiddersRatio": config.hotBiddersRatio = Integer.parseInt(value); break;
      case "hotSellersRatio": config.hotSellersRatio = Integer.parseInt(value); break;
      case "activePeople": config.activePeople = Integer.parseInt(value); break;
      case "inFlightAuctions": config.inFlightAuctions = Integer.parseInt(value); break;
      default: throw new IllegalArgumentException("unknown GeneratorConfig field " + name);
    }
  }

  /** A text cell: quoted when empty or holding a comma, a quote or a line break. */
  private static StringBuilder text(StringBuilder line, String value) {
    boolean quote = value.isEmpty() || value.indexOf(',') >= 0 || value.indexOf('"') >= 0
        || value.indexOf('\r') >= 0 || value.indexOf('\n') >= 0;
    if (!quote) {
      return line.append(value);
    }
    line.append('"');
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c == '"') {
        line.append('"');
      }
      line.append(c);
    }
    return line.append('"');
  }

  /** 2015-07-15T00:00:00.123Z, the fraction left out when zero and without trailing zeros. */
  private static StringBuilder time(StringBuilder line, long epochMs) {
    long seconds = Math.floorDiv(epochMs, 1000L);
    int millis = (int) Math.floorMod(epochMs, 1000L);
    LocalDateTime t = LocalDateTime.ofEpochSecond(seconds, 0, ZoneOffset.UTC);
    pad(line, t.getYear(), 4).append('-');
    pad(line, t.getMonthValue(), 2).append('-');
    pad(line, t.getDayOfMonth(), 2).append('T');
    pad(line, t.getHour(), 2).append(':');
    pad(line, t.getMinute(), 2).append(':');
    pad(line, t.getSecond(), 2);
    if (millis != 0) {
      int digits = 3;
      while (millis % 10 == 0) {
        millis /= 10;
        digits--;
      }
      line.append('.');
      pad(line, millis, digits);
    }
    return line.append('Z');
  }

  private static StringBuilder pad(StringBuilder line, int value, int width) {
    String digits = Integer.toString(value);
    for (int i = digits.length(); i < width; i++) {
      line.append('0');
    }
    return line.append(digits);
  }
}
