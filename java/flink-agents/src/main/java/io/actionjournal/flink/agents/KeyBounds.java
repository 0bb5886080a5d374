package io.actionjournal.flink.agents;

import java.util.Arrays;

/**
 * A map from a key's 64-bit hash to a long, with open addressing over two primitive arrays: the
 * highest prune bound already queued per key, so that the runtime's pruneState for every key ever
 * seen, at every checkpoint, costs one hash and one probe per key and allocates nothing for a key
 * whose bound did not move. 16 bytes per key at load 1/2 (10^6 keys: 32 MiB). Not thread-safe.
 */
final class KeyBounds {
  private long[] keys = new long[1 << 10];
  private long[] values = new long[1 << 10];
  // Hash 0 stands for an empty slot; a key hashing to 0 is stored here.
  private boolean hasZero;
  private long zeroValue;
  private int size;

  /** The bound stored for {@code hash}, or {@code absent}. */
  long get(long hash, long absent) {
    if (hash == 0) return hasZero ? zeroValue : absent;
    int mask = keys.length - 1;
    for (int i = mix(hash) & mask; ; i = (i + 1) & mask) {
      if (keys[i] == hash) return values[i];
      if (keys[i] == 0) return absent;
    }
  }

  void put(long hash, long value) {
    if (hash == 0) {
      if (!hasZero) size++;
      hasZero = true;
      zeroValue = value;
      return;
    }
    int mask = keys.length - 1;
    int i = mix(hash) & mask;
    while (keys[i] != 0 && keys[i] != hash) i = (i + 1) & mask;
    if (keys[i] == 0) {
      keys[i] = hash;
      if (++size * 2 > keys.length) {
        values[i] = value;
        grow();
        return;
      }
    }
    values[i] = value;
  }

  int size() {
    return size;
  }

  void clear() {
    Arrays.fill(keys, 0);
    hasZero = false;
    size = 0;
  }

  private void grow() {
    long[] oldKeys = keys;
    long[] oldValues = values;
    keys = new long[oldKeys.length * 2];
    values = new long[oldKeys.length * 2];
    int mask = keys.length - 1;
    for (int j = 0; j < oldKeys.length; j++) {
      if (oldKeys[j] == 0) continue;
      int i = mix(oldKeys[j]) & mask;
      while (keys[i] != 0) i = (i + 1) & mask;
      keys[i] = oldKeys[j];
      values[i] = oldValues[j];
    }
  }

  private static int mix(long h) {
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    return (int) h;
  }

  /** 64-bit FNV-1a over the string's UTF-16 units: the same in every JVM. */
  static long hash(String s) {
    long h = 0xcbf29ce484222325L;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      h = (h ^ (c & 0xff)) * 0x100000001b3L;
      h = (h ^ (c >>> 8)) * 0x100000001b3L;
    }
    return h;
  }
}
