package dev.sluice.bench.nexmark.source;

import java.util.Set;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.types.logical.LogicalType;

/**
 * The {@code 'connector' = 'sluice-nexmark'} table: a bounded stream of Nexmark events made by
 * Sluice's generator (package {@code generator}), one row per event. See {@link EventRows} for
 * the physical columns a table of this connector must declare.
 */
public final class NexmarkSourceFactory implements DynamicTableSourceFactory {

  public static final String IDENTIFIER = "sluice-nexmark";

  public static final ConfigOption<Long> EVENTS =
      ConfigOptions.key("events")
          .longType()
          .noDefaultValue()
          .withDescription("How many events to generate (event numbers 0 .. events-1).");

  public static final ConfigOption<Long> SEED =
      ConfigOptions.key("seed")
          .longType()
          .defaultValue(0L)
          .withDescription("Seed of the generator; equal seeds give identical events.");

  @Override
  public String factoryIdentifier() {
    return IDENTIFIER;
  }

  @Override
  public Set<ConfigOption<?>> requiredOptions() {
    return Set.of(EVENTS);
  }

  @Override
  public Set<ConfigOption<?>> optionalOptions() {
    return Set.of(SEED);
  }

  @Override
  public DynamicTableSource createDynamicTableSource(Context context) {
    FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
    helper.validate();
    ReadableConfig options = helper.getOptions();

    long events = options.get(EVENTS);
    if (events < 1) {
      throw new ValidationException("'events' must be at least 1, got " + events);
    }
    LogicalType declared = context.getPhysicalRowDataType().getLogicalType();
    if (!declared.copy(true).equals(EventRows.PHYSICAL_TYPE.copy(true))) {
      throw new ValidationException(
          "A '" + IDENTIFIER + "' table must declare the physical columns "
              + EventRows.PHYSICAL_TYPE.asSummaryString() + " but declares "
              + declared.asSummaryString());
    }
    return new NexmarkScanSource(events, options.get(SEED));
  }
}
