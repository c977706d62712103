package dev.sluice.bench.nexmark;

import dev.sluice.bench.nexmark.source.EventRows;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Pattern;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.util.EnvironmentInformation;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.TableConfig;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.catalog.Column;
import org.apache.flink.table.catalog.ResolvedSchema;
import org.apache.flink.table.types.logical.LocalZonedTimestampType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.TimestampType;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;

/**
 * Runs one Nexmark query in a local Flink (one JVM, parallelism 1, streaming mode) over events
 * from Sluice's generator, and prints one JSON line with its throughput.
 *
 * <pre>
 * NexmarkFlink --query qN --events N [--seed S] --mode time|results [--output FILE] [--explain]
 * </pre>
 *
 * <p>{@code time}: the query writes into a blackhole table. The time reported is the job's run
 * from the moment its source made the first event to the moment the finished job's result
 * reached this process: it leaves out JVM start-up, SQL planning, the local cluster's start,
 * scheduling, task deployment and operator set-up (code generation), which together cost about a
 * second whatever the input size. Flink's own net runtime (from job submission, so including
 * scheduling and set-up) goes to stderr beside it. {@code results}: the query's changelog is
 * collected to this process, applied, and the final rows are written to {@code --output} as CSV
 * (see {@link ChangelogCsv}); its time includes the collection and is not a benchmark figure.
 * Flink's log goes to stderr; stdout carries only the JSON line.
 */
public final class NexmarkFlink {

  static final String SINK = "nexmark_q_sink";
  private static final Pattern QUERY_NAME = Pattern.compile("q[0-9]+");

  private NexmarkFlink() {}

  /** Settings from the command line. */
  static final class Args {
    String query;
    long events = -1;
    long seed = 0;
    String mode;
    String output;
    boolean explain;

    static Args parse(String[] argv) {
      Args a = new Args();
      for (int i = 0; i < argv.length; i++) {
        String flag = argv[i];
        switch (flag) {
          case "--query":
            a.query = value(argv, ++i, flag).toLowerCase(Locale.ROOT);
            break;
          case "--events":
            a.events = Long.parseLong(value(argv, ++i, flag));
            break;
          case "--seed":
            a.seed = Long.parseLong(value(argv, ++i, flag));
            break;
          case "--mode":
            a.mode = value(argv, ++i, flag);
            break;
          case "--output":
            a.output = value(argv, ++i, flag);
            break;
          case "--explain":
            a.explain = true;
            break;
          case "-h":
          case "--help":
            throw new UsageException(null);
          default:
            throw new UsageException("unknown argument: " + flag);
        }
      }
      if (a.query == null || !QUERY_NAME.matcher(a.query).matches()) {
        throw new UsageException("--query qN is required");
      }
      if (a.events < 1) {
        throw new UsageException("--events N (N >= 1) is required");
      }
      if (!"time".equals(a.mode) && !"results".equals(a.mode)) {
        throw new UsageException("--mode must be time or results");
      }
      if ("results".equals(a.mode) && a.output == null) {
        throw new UsageException("--mode results needs --output FILE");
      }
      return a;
    }

    private static String value(String[] argv, int i, String flag) {
      if (i >= argv.length) {
        throw new UsageException(flag + " needs a value");
      }
      return argv[i];
    }
  }

  static final class UsageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }
  }

  public static void main(String[] argv) throws Exception {
    Args args;
    try {
      args = Args.parse(argv);
    } catch (UsageException | NumberFormatException e) {
      if (e.getMessage() != null) {
        System.err.println("error: " + e.getMessage());
      }
      System.err.println(
          "usage: NexmarkFlink --query qN --events N [--seed S] --mode time|results"
              + " [--output FILE] [--explain]");
      System.exit(e.getMessage() == null ? 0 : 2);
      return;
    }
    int status = 0;
    try {
      run(args, System.out);
    } catch (UsageException e) {
      System.err.println("error: " + e.getMessage());
      status = 2;
    } catch (Throwable t) {
      System.err.println("error: " + args.query + " failed");
      t.printStackTrace(System.err);
      status = 1;
    }
    System.out.flush();
    // The local cluster leaves non-daemon threads behind; end the JVM explicitly.
    System.exit(status);
  }

  static void run(Args args, PrintStream out) throws Exception {
    String queryText = SqlScript.resource("queries/" + args.query + ".sql");
    if (queryText == null) {
      throw new UsageException(
          "no such query: " + args.query + " (the queries are src/main/resources/queries/*.sql)");
    }

    StreamTableEnvironment tEnv = createTableEnvironment();

    Map<String, String> vars = new LinkedHashMap<>();
    vars.put("EVENTS", Long.toString(args.events));
    vars.put("SEED", Long.toString(args.seed));
    String source = SqlScript.substitute(SqlScript.resource("sql/source.sql"), vars);
    for (String ddl : SqlScript.statements(source)) {
      tEnv.executeSql(ddl);
    }
    for (String view : SqlScript.statements(SqlScript.resource("sql/views.sql"))) {
      tEnv.executeSql(view);
    }

    // A query file: optional setup statements (views, functions), then the query itself.
    List<String> statements = SqlScript.statements(queryText);
    if (statements.isEmpty()) {
      throw new IllegalArgumentException("queries/" + args.query + ".sql holds no statement");
    }
    for (String setup : statements.subList(0, statements.size() - 1)) {
      tEnv.executeSql(setup);
    }
    Table query = tEnv.sqlQuery(statements.get(statements.size() - 1));

    double seconds;
    if ("time".equals(args.mode)) {
      tEnv.executeSql(sinkDdl(query.getResolvedSchema()));
      if (args.explain) {
        System.err.println(query.insertInto(SINK).explain());
      }
      long submitted = System.currentTimeMillis();
      TableResult result = query.executeInsert(SINK);
      JobClient client = result.getJobClient().orElseThrow();
      JobExecutionResult done = client.getJobExecutionResult().get();
      long finished = System.currentTimeMillis();
      seconds = (finished - firstEventMs(done, submitted)) / 1000.0;
      System.err.printf(
          Locale.ROOT,
          "%s: %.3f s from first event to job end; Flink net runtime %.3f s;"
              + " %.3f s from submission%n",
          args.query, seconds, done.getNetRuntime() / 1000.0, (finished - submitted) / 1000.0);
    } else {
      if (args.explain) {
        System.err.println(query.explain());
      }
      ChangelogCsv changelog = new ChangelogCsv();
      long submitted = System.currentTimeMillis();
      TableResult result = query.execute();
      JobClient client = result.getJobClient().orElseThrow();
      try (CloseableIterator<Row> rows = result.collect()) {
        while (rows.hasNext()) {
          changelog.apply(rows.next());
        }
      }
      long finished = System.currentTimeMillis();
      // Fails here if the job did not finish cleanly, so a partial result is never reported.
      JobExecutionResult done = client.getJobExecutionResult().get();
      seconds = (finished - firstEventMs(done, submitted)) / 1000.0;
      long written = changelog.write(Path.of(args.output));
      System.err.printf(
          Locale.ROOT, "%s: %d changelog rows, %d final rows written to %s%n",
          args.query, changelog.changes(), written, args.output);
      if (changelog.unmatchedRetractions() > 0) {
        System.err.printf(
            Locale.ROOT, "%s: warning: %d retractions matched no row%n",
            args.query, changelog.unmatchedRetractions());
      }
    }

    out.println(json(args.query, args.events, seconds, flinkVersion()));
  }

  /** When the source made its first event (falls back to {@code otherwise} if unreported). */
  private static long firstEventMs(JobExecutionResult result, long otherwise) {
    Object first = result.getAllAccumulatorResults().get(EventRows.FIRST_EVENT_MS);
    return first instanceof Long ? (Long) first : otherwise;
  }

  /**
   * The local environment and the table settings of the Nexmark suite's Flink configuration that
   * apply to a single process; see the README for the list and for what is left out.
   */
  static StreamTableEnvironment createTableEnvironment() {
    Configuration conf = new Configuration();
    conf.set(ExecutionOptions.RUNTIME_MODE, RuntimeExecutionMode.STREAMING);
    conf.set(CoreOptions.DEFAULT_PARALLELISM, 1);
    conf.set(PipelineOptions.OBJECT_REUSE, true);
    conf.set(StateBackendOptions.STATE_BACKEND, "hashmap");
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(conf);
    env.setParallelism(1);

    StreamTableEnvironment tEnv =
        StreamTableEnvironment.create(env, EnvironmentSettings.inStreamingMode());
    TableConfig table = tEnv.getConfig();
    table.set("table.exec.mini-batch.enabled", "true");
    table.set("table.exec.mini-batch.allow-latency", "2 s");
    table.set("table.exec.mini-batch.size", "50000");
    table.set("table.optimizer.distinct-agg.split.enabled", "true");
    // Only q12's processing-time windows depend on it; UTC keeps them on epoch boundaries.
    table.set("table.local-time-zone", "UTC");
    return tEnv;
  }

  /** A blackhole table with the query's columns (time attributes as plain timestamps). */
  static String sinkDdl(ResolvedSchema schema) {
    List<String> columns = new ArrayList<>();
    for (Column column : schema.getColumns()) {
      columns.add(quote(column.getName()) + " " + plainType(column.getDataType().getLogicalType()));
    }
    return "CREATE TEMPORARY TABLE " + SINK + " (\n  " + String.join(",\n  ", columns)
        + "\n) WITH ('connector' = 'blackhole')";
  }

  private static String plainType(LogicalType type) {
    if (type instanceof TimestampType) {
      TimestampType t = (TimestampType) type;
      return new TimestampType(t.isNullable(), t.getPrecision()).asSerializableString();
    }
    if (type instanceof LocalZonedTimestampType) {
      LocalZonedTimestampType t = (LocalZonedTimestampType) type;
      return new LocalZonedTimestampType(t.isNullable(), t.getPrecision()).asSerializableString();
    }
    return type.asSerializableString();
  }

  private static String quote(String identifier) {
    return "`" + identifier.replace("`", "``") + "`";
  }

  static String json(String query, long events, double seconds, String version) {
    double eps = seconds > 0 ? events / seconds : 0;
    return String.format(
        Locale.ROOT,
        "{\"query\":\"%s\",\"events\":%d,\"seconds\":%.3f,\"eps\":%.0f,\"engine\":\"flink\","
            + "\"version\":\"%s\"}",
        query, events, seconds, eps, version);
  }

  /** The Flink version the jar was built with (recorded at build time). */
  static String flinkVersion() {
    try {
      String text = SqlScript.resource("nexmark-flink-build.properties");
      if (text != null) {
        Properties p = new Properties();
        p.load(new java.io.StringReader(text));
        String v = p.getProperty("flink.version");
        if (v != null && !v.isBlank() && !v.contains("${")) {
          return v.strip();
        }
      }
    } catch (java.io.IOException e) {
      // fall through to what the runtime reports
    }
    return EnvironmentInformation.getVersion();
  }
}
