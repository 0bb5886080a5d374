package io.actionjournal.flink.agents;

import java.util.Arrays;

/**
 * A map from a key's 64-bit hash to a long, with open addressing over two primitive arrays: the
 * highest prune bound already queued per key, so that the runtime's pruneState for every key ever
 * seen, at every checkpoint, costs one hash and one probe per key and allocates nothing for a key
 * whose bound did not move. 16 bytes per key, at most half the slots used (10^6 keys: 16-32 MiB). Not thread-safe.
 */
final class KeyBounds {
  // Slot i: its key hash at [2i], its value at [2i + 1], side by side so that a probe touches one
  // cache line.
  private long[] slots = new long[2 << 10];
  // Hash 0 stands for an empty slot; a key hashing to 0 is stored here.
  private boolean hasZero;
  private long zeroValue;
  private int size;

  /** The bound stored for {@code hash}, or {@code absent}. */
  long get(long hash, long absent) {
    if (hash == 0) return hasZero ? zeroValue : absent;
    int mask = (slots.length >> 1) - 1;
    for (int i = mix(hash) & mask; ; i = (i + 1) & mask) {
      long k = slots[2 * i];
      if (k == hash) return slots[2 * i + 1];
      if (k == 0) return absent;
    }
  }

  void put(long hash, long value) {
    if (hash == 0) {
      if (!hasZero) size++;
      hasZero = true;
      zeroValue = value;
      return;
    }
    int mask = (slots.length >> 1) - 1;
    int i = mix(hash) & mask;
    while (slots[2 * i] != 0 && slots[2 * i] != hash) i = (i + 1) & mask;
    slots[2 * i + 1] = value;
    if (slots[2 * i] == 0) {
      slots[2 * i] = hash;
      if (++size * 2 > (slots.length >> 1)) grow();
    }
  }

  int size() {
    return size;
  }

  void clear() {
    Arrays.fill(slots, 0);
    hasZero = false;
    size = 0;
  }

  private void grow() {
    long[] old = slots;
    slots = new long[old.length * 2];
    int mask = (slots.length >> 1) - 1;
    for (int j = 0; j < old.length; j += 2) {
      if (old[j] == 0) continue;
      int i = mix(old[j]) & mask;
      while (slots[2 * i] != 0) i = (i + 1) & mask;
      slots[2 * i] = old[j];
      slots[2 * i + 1] = old[j + 1];
    }
  }

  private static int mix(long h) {
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    return (int) h;
  }

  static final long SEED = 0xcbf29ce484222325L;

  /** 64-bit FNV-1a over the string's UTF-16 units: the same in every JVM. */
  static long hash(String s) {
    return hash(SEED, s);
  }

  /** FNV-1a continued from {@code h}: hash(a + b) == hash(hash(a), b), with no string built. */
  static long hash(long h, String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      h = (h ^ (c & 0xff)) * 0x100000001b3L;
      h = (h ^ (c >>> 8)) * 0x100000001b3L;
    }
    return h;
  }
}
