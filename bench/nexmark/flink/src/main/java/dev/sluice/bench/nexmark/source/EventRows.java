package dev.sluice.bench.nexmark.source;

import dev.sluice.bench.nexmark.generator.Auction;
import dev.sluice.bench.nexmark.generator.Bid;
import dev.sluice.bench.nexmark.generator.GeneratorConfig;
import dev.sluice.bench.nexmark.generator.NexmarkGenerator;
import dev.sluice.bench.nexmark.generator.Person;
import org.apache.flink.api.common.accumulators.LongMinimum;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.logical.RowType;

/**
 * Turns an event number into the row of the {@code datagen} table: {@code event_type} (0 person,
 * 1 auction, 2 bid) and the three nested rows, of which only the one named by {@code event_type}
 * is set (the others are NULL). The table's {@code dateTime} is a computed column over these.
 *
 * <p>Rows are built in Flink's internal format directly, as the suite's own generator source does.
 * Event times are epoch milliseconds; {@link TimestampData#fromEpochMillis} reads them as UTC, so
 * a TIMESTAMP(3) here shows the UTC wall-clock time and windows align with the epoch.
 *
 * <p>The wall-clock time (epoch ms) at which the first event is made is reported in the
 * accumulator {@link #FIRST_EVENT_MS}, the start of the job's measured run.
 */
public final class EventRows extends RichMapFunction<Long, RowData> {
  private static final long serialVersionUID = 1L;

  /** The physical columns of a {@code sluice-nexmark} table, in order. */
  public static final RowType PHYSICAL_TYPE =
      (RowType)
          DataTypes.ROW(
                  DataTypes.FIELD("event_type", DataTypes.INT()),
                  DataTypes.FIELD(
                      "person",
                      DataTypes.ROW(
                          DataTypes.FIELD("id", DataTypes.BIGINT()),
                          DataTypes.FIELD("name", DataTypes.STRING()),
                          DataTypes.FIELD("emailAddress", DataTypes.STRING()),
                          DataTypes.FIELD("creditCard", DataTypes.STRING()),
                          DataTypes.FIELD("city", DataTypes.STRING()),
                          DataTypes.FIELD("state", DataTypes.STRING()),
                          DataTypes.FIELD("dateTime", DataTypes.TIMESTAMP(3)),
                          DataTypes.FIELD("extra", DataTypes.STRING()))),
                  DataTypes.FIELD(
                      "auction",
                      DataTypes.ROW(
                          DataTypes.FIELD("id", DataTypes.BIGINT()),
                          DataTypes.FIELD("itemName", DataTypes.STRING()),
                          DataTypes.FIELD("description", DataTypes.STRING()),
                          DataTypes.FIELD("initialBid", DataTypes.BIGINT()),
                          DataTypes.FIELD("reserve", DataTypes.BIGINT()),
                          DataTypes.FIELD("dateTime", DataTypes.TIMESTAMP(3)),
                          DataTypes.FIELD("expires", DataTypes.TIMESTAMP(3)),
                          DataTypes.FIELD("seller", DataTypes.BIGINT()),
                          DataTypes.FIELD("category", DataTypes.BIGINT()),
                          DataTypes.FIELD("extra", DataTypes.STRING()))),
                  DataTypes.FIELD(
                      "bid",
                      DataTypes.ROW(
                          DataTypes.FIELD("auction", DataTypes.BIGINT()),
                          DataTypes.FIELD("bidder", DataTypes.BIGINT()),
                          DataTypes.FIELD("price", DataTypes.BIGINT()),
                          DataTypes.FIELD("channel", DataTypes.STRING()),
                          DataTypes.FIELD("url", DataTypes.STRING()),
                          DataTypes.FIELD("dateTime", DataTypes.TIMESTAMP(3)),
                          DataTypes.FIELD("extra", DataTypes.STRING()))))
              .getLogicalType();

  /** Accumulator: the earliest wall-clock time (epoch ms) at which a task made its first event. */
  public static final String FIRST_EVENT_MS = "nexmark-first-event-ms";

  private final long seed;
  private transient NexmarkGenerator generator;
  private transient LongMinimum firstEventMs;
  private transient boolean started;

  public EventRows(long seed) {
    this.seed = seed;
  }

  @Override
  public void open(OpenContext openContext) {
    GeneratorConfig config = new GeneratorConfig();
    config.seed = seed;
    generator = new NexmarkGenerator(config);
    firstEventMs = new LongMinimum();
    getRuntimeContext().addAccumulator(FIRST_EVENT_MS, firstEventMs);
    started = false;
  }

  @Override
  public RowData map(Long number) {
    if (!started) {
      firstEventMs.add(System.currentTimeMillis());
      started = true;
    }
    long n = number;
    int kind = generator.kind(n);
    GenericRowData row = new GenericRowData(4);
    row.setField(0, kind);
    switch (kind) {
      case NexmarkGenerator.PERSON:
        row.setField(1, personRow(generator.person(n)));
        break;
      case NexmarkGenerator.AUCTION:
        row.setField(2, auctionRow(generator.auction(n)));
        break;
      default:
        row.setField(3, bidRow(generator.bid(n)));
        break;
    }
    return row;
  }

  private static RowData personRow(Person p) {
    return GenericRowData.of(
        p.id,
        str(p.name),
        str(p.emailAddress),
        str(p.creditCard),
        str(p.city),
        str(p.state),
        TimestampData.fromEpochMillis(p.dateTime),
        str(p.extra));
  }

  private static RowData auctionRow(Auction a) {
    return GenericRowData.of(
        a.id,
        str(a.itemName),
        str(a.description),
        a.initialBid,
        a.reserve,
        TimestampData.fromEpochMillis(a.dateTime),
        TimestampData.fromEpochMillis(a.expires),
        a.seller,
        a.category,
        str(a.extra));
  }

  private static RowData bidRow(Bid b) {
    return GenericRowData.of(
        b.auction,
        b.bidder,
        b.price,
        str(b.channel),
        str(b.url),
        TimestampData.fromEpochMillis(b.dateTime),
        str(b.extra));
  }

  private static StringData str(String s) {
    return s == null ? null : StringData.fromString(s);
  }
}
