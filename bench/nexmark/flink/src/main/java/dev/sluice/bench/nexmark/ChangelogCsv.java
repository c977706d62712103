package dev.sluice.bench.nexmark;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.types.Row;

/**
 * Materializes a changelog into the multiset of rows it ends with, each row kept as its CSV line.
 *
 * <p>INSERT and UPDATE_AFTER add one copy of a row, UPDATE_BEFORE and DELETE remove one. Rows are
 * compared by their CSV rendering, which is exact for every type a Nexmark query returns.
 *
 * <p>CSV: no header; NULL is an empty field; TIMESTAMP and TIMESTAMP_LTZ are epoch milliseconds
 * (a TIMESTAMP read as UTC); DECIMAL is {@link BigDecimal#toPlainString}; other values use their
 * Java {@code toString}; a field is quoted (RFC 4180, quotes doubled) only when it holds a comma,
 * a quote, CR or LF.
 */
final class ChangelogCsv {
  private final Map<String, long[]> counts = new HashMap<>();
  private long changes;
  private long unmatchedRetractions;

  void apply(Row row) {
    String line = line(row);
    changes++;
    switch (row.getKind()) {
      case INSERT:
      case UPDATE_AFTER:
        counts.computeIfAbsent(line, k -> new long[1])[0]++;
        break;
      case UPDATE_BEFORE:
      case DELETE:
        long[] count = counts.get(line);
        if (count == null || count[0] == 0) {
          unmatchedRetractions++;
          return;
        }
        if (--count[0] == 0) {
          counts.remove(line);
        }
        break;
      default:
        throw new IllegalStateException("unknown row kind " + row.getKind());
    }
  }

  /** How many changelog rows were applied. */
  long changes() {
    return changes;
  }

  /** Retractions of a row that was not there (0 for a consistent changelog). */
  long unmatchedRetractions() {
    return unmatchedRetractions;
  }

  /** The final rows, sorted so that equal results give equal files. */
  List<String> rows() {
    List<String> lines = new ArrayList<>();
    for (Map.Entry<String, long[]> e : counts.entrySet()) {
      for (long k = 0; k < e.getValue()[0]; k++) {
        lines.add(e.getKey());
      }
    }
    lines.sort(null);
    return lines;
  }

  /** Writes the final rows to {@code file}, one line each; returns how many. */
  long write(Path file) throws IOException {
    List<String> lines = rows();
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    try (Writer w =
        new BufferedWriter(
            new OutputStreamWriter(Files.newOutputStream(file), StandardCharsets.UTF_8),
            1 << 16)) {
      for (String line : lines) {
        w.write(line);
        w.write('\n');
      }
    }
    return lines.size();
  }

  static String line(Row row) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < row.getArity(); i++) {
      if (i > 0) {
        sb.append(',');
      }
      appendField(sb, row.getField(i));
    }
    return sb.toString();
  }

  private static void appendField(StringBuilder sb, Object value) {
    if (value == null) {
      return;
    }
    String text;
    if (value instanceof LocalDateTime) {
      text = Long.toString(((LocalDateTime) value).toInstant(ZoneOffset.UTC).toEpochMilli());
    } else if (value instanceof Instant) {
      text = Long.toString(((Instant) value).toEpochMilli());
    } else if (value instanceof BigDecimal) {
      text = ((BigDecimal) value).toPlainString();
    } else {
      text = value.toString();
    }
    if (needsQuotes(text)) {
      sb.append('"').append(text.replace("\"", "\"\"")).append('"');
    } else {
      sb.append(text);
    }
  }

  private static boolean needsQuotes(String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == ',' || c == '"' || c == '\n' || c == '\r') {
        return true;
      }
    }
    return false;
  }
}
