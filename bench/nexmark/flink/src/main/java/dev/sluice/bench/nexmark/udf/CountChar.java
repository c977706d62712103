package dev.sluice.bench.nexmark.udf;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code count_char(text, c)}: how many times the first character of {@code c} occurs in
 * {@code text} (0 for a NULL text), as q14 of the suite uses it. Works on the UTF-8 bytes of the
 * internal string, so it needs no conversion to a Java String; {@code c} is expected to be ASCII.
 */
public final class CountChar extends ScalarFunction {
  private static final long serialVersionUID = 1L;

  public long eval(@DataTypeHint("STRING") StringData text, @DataTypeHint("STRING") StringData c) {
    if (text == null || c == null) {
      return 0;
    }
    byte[] needle = c.toBytes();
    if (needle.length == 0) {
      return 0;
    }
    byte wanted = needle[0];
    long found = 0;
    for (byte b : text.toBytes()) {
      if (b == wanted) {
        found++;
      }
    }
    return found;
  }
}
