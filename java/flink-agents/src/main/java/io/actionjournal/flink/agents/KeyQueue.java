package io.actionjournal.flink.agents;

import java.util.Arrays;

/**
 * (key, bound) pairs in the order queued, keys as the runtime gave them: what the task thread
 * queues for pruning costs two array writes; the record keys are built, and a key queued twice
 * merged, by whoever sends them. Not thread-safe.
 */
final class KeyQueue {
  private Object[] keys = new Object[16];
  private long[] bounds = new long[16];
  private int size;

  void add(Object key, long bound) {
    if (size == keys.length) {
      keys = Arrays.copyOf(keys, size * 2);
      bounds = Arrays.copyOf(bounds, size * 2);
    }
    keys[size] = key;
    bounds[size] = bound;
    size++;
  }

  /** Appends every pair of {@code other}. */
  void addAll(KeyQueue other) {
    for (int i = 0; i < other.size; i++) add(other.keys[i], other.bounds[i]);
  }

  int size() {
    return size;
  }

  Object key(int i) {
    return keys[i];
  }

  long bound(int i) {
    return bounds[i];
  }
}
