package org.apache.flink.agents.api.context;

import java.io.Serializable;
import java.util.Objects;

/** Test stand-in for Flink Agents' MemoryUpdate. */
public class MemoryUpdate implements Serializable {
  private final String path;
  private final Object value;

  public MemoryUpdate(String path, Object value) {
    this.path = path;
    this.value = value;
  }

  public String getPath() {
    return path;
  }

  public Object getValue() {
    return value;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof MemoryUpdate
        && Objects.equals(path, ((MemoryUpdate) o).path)
        && Objects.equals(value, ((MemoryUpdate) o).value);
  }

  @Override
  public int hashCode() {
    return Objects.hash(path, value);
  }
}
