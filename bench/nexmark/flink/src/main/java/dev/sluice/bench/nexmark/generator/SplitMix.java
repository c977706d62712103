package dev.sluice.bench.nexmark.generator;

/**
 * SplitMix64 with the exact output sequence of Sluice's C++ generator (sluice::connectors::nexmark
 * ::SplitMix): pure 64-bit wrapping arithmetic, so both produce the same bits. Every event draws
 * from a fresh instance seeded with (seed, event id). Not thread-safe; cheap to create.
 */
public final class SplitMix {
  public static final long GAMMA = 0x9E3779B97F4A7C15L;

  private long state;

  public SplitMix(long seed, long stream) {
    state = mix(seed * GAMMA + stream);
  }

  /** SplitMix64's finaliser, a bijective mix of 64 bits. */
  public static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  public long next() {
    state += GAMMA;
    return mix(state);
  }

  /** Uniform in [0, bound), 0 < bound < 2^31, from the high 32 bits (multiply-shift). */
  public int nextInt(int bound) {
    return (int) (((next() >>> 32) * bound) >>> 32);
  }

  /** In [0, bound), bound > 0: nextInt() when bound < 2^31, else next() modulo bound (unsigned). */
  public long nextLong(long bound) {
    if (bound < (1L << 31)) {
      return nextInt((int) bound);
    }
    return Long.remainderUnsigned(next(), bound);
  }
}
