package dev.sluice.bench.nexmark.source;

import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.ProviderContext;
import org.apache.flink.table.connector.source.DataStreamScanProvider;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.ScanTableSource;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.runtime.typeutils.InternalTypeInfo;

/**
 * Scans event numbers 0 .. events-1 and turns each into a row with the generator.
 *
 * <p>The numbers come from {@code fromSequence} (a bounded source that, at parallelism p, splits
 * the range over p readers); the mapper that follows holds one generator per parallel task. In
 * streaming mode the end of the range ends the job after a final watermark, so every window
 * fires, as with the suite's {@code events.num}.
 */
final class NexmarkScanSource implements ScanTableSource {

  private final long events;
  private final long seed;

  NexmarkScanSource(long events, long seed) {
    this.events = events;
    this.seed = seed;
  }

  @Override
  public ChangelogMode getChangelogMode() {
    return ChangelogMode.insertOnly();
  }

  @Override
  public ScanRuntimeProvider getScanRuntimeProvider(ScanContext context) {
    return new DataStreamScanProvider() {
      @Override
      public DataStream<RowData> produceDataStream(
          ProviderContext providerContext, StreamExecutionEnvironment env) {
        return env.fromSequence(0, events - 1)
            .name("nexmark-event-numbers")
            .map(new EventRows(seed))
            .returns(InternalTypeInfo.of(EventRows.PHYSICAL_TYPE))
            .name("nexmark-generator");
      }

      @Override
      public boolean isBounded() {
        // Like the suite's generator table: the planner treats it as a stream even though the
        // number of events is fixed (so no batch-only plans are picked).
        return false;
      }
    };
  }

  @Override
  public DynamicTableSource copy() {
    return new NexmarkScanSource(events, seed);
  }

  @Override
  public String asSummaryString() {
    return "sluice-nexmark(events=" + events + ", seed=" + seed + ")";
  }
}
