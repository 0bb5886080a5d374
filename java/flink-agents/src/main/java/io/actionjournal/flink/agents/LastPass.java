package io.actionjournal.flink.agents;

/**
 * The keys of the last checkpoint's pruneState calls, in the order they came, each with the bound
 * held for it, so that a steady checkpoint costs a few array reads per key instead of a hash and a
 * probe of a large table.
 *
 * <p>Flink Agents calls pruneState for every key at every checkpoint, over a HashMap it builds
 * from the keyed state; on the heap state backend that map holds the same key objects in the same
 * order each time, a key added or dropped shifting the rest by one. A call whose key is the one
 * expected next (by identity, or within {@link #WINDOW} places of it) is matched to the last pass;
 * the caller then needs no lookup when the bound it holds covers the call. Bounds only grow, so a
 * bound read from any pass is never above the one the caller holds now. When a pass matched less
 * than half its calls (the RocksDB backend gives new key objects every time), it turns itself off
 * for good and lets go of the keys. Not thread-safe.
 */
final class LastPass {
  private static final int WINDOW = 2;
  private static final int MIN_CALLS_TO_JUDGE = 1024;

  private Object[] lastKeys = new Object[0];
  private long[] lastBounds = new long[0];
  private int lastSize;
  private Object[] keys = new Object[16];
  private long[] bounds = new long[16];
  private int size;
  // Where in the last pass the next call's key is expected.
  private int expected;
  private long calls;
  private long matched;
  private boolean off;

  /** A checkpoint is being taken: what was recorded since the last one becomes the last pass. */
  void nextPass() {
    if (off) return;
    // The pass that ends is judged when it had a last pass to match.
    if (lastSize > 0 && calls >= MIN_CALLS_TO_JUDGE && matched * 2 < calls) {
      off = true;
      lastKeys = keys = null;
      lastBounds = bounds = null;
      lastSize = size = 0;
      return;
    }
    Object[] k = lastKeys;
    long[] b = lastBounds;
    lastKeys = keys;
    lastBounds = bounds;
    lastSize = size;
    // The older arrays are reused; their keys are let go as they are overwritten or cleared.
    int capacity = Math.max(16, lastSize);
    keys = k.length >= capacity ? k : new Object[capacity];
    bounds = b.length >= keys.length ? b : new long[keys.length];
    java.util.Arrays.fill(keys, null);
    size = 0;
    expected = 0;
    calls = 0;
    matched = 0;
  }

  /**
   * The bound the last pass held for {@code key} when it is the key expected next (by identity, or
   * within the window around that place), or {@code absent}.
   */
  long match(Object key, long absent) {
    if (off) return absent;
    calls++;
    if (expected < lastSize && lastKeys[expected] == key) return matchedAt(expected);
    for (int i = Math.max(0, expected - WINDOW); i < Math.min(lastSize, expected + WINDOW + 1); i++) {
      if (lastKeys[i] == key) return matchedAt(i);
    }
    // A key the last pass did not have here (a new one): the next is still expected there.
    return absent;
  }

  private long matchedAt(int i) {
    expected = i + 1;
    matched++;
    return lastBounds[i];
  }

  /** Records that {@code key} now has {@code bound}, as the next call of this pass. */
  void record(Object key, long bound) {
    if (off) return;
    if (size == keys.length) {
      keys = java.util.Arrays.copyOf(keys, Math.max(16, size * 2));
      bounds = java.util.Arrays.copyOf(bounds, keys.length);
    }
    keys[size] = key;
    bounds[size] = bound;
    size++;
  }
}
