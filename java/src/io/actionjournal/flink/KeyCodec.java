package io.actionjournal.flink;

import java.nio.charset.StandardCharsets;

/** Turns a Flink key into the bytes of its record key; the same key must give the same bytes. */
@FunctionalInterface
public interface KeyCodec {
  byte[] encode(Object key);

  /** {@code String.valueOf(key)} in UTF-8: right for String, numeric and similar keys. */
  KeyCodec TO_STRING = key -> String.valueOf(key).getBytes(StandardCharsets.UTF_8);
}
