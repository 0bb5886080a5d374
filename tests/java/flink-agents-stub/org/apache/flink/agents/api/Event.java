package org.apache.flink.agents.api;

import java.io.Serializable;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

/** Test stand-in for Flink Agents' Event: a random id, a type and attributes. */
public class Event implements Serializable {
  private final UUID id;
  private final String type;
  private final Map<String, Object> attributes;

  public Event(String type, Map<String, Object> attributes) {
    this(UUID.randomUUID(), type, attributes);
  }

  public Event(UUID id, String type, Map<String, Object> attributes) {
    this.id = id;
    this.type = type;
    this.attributes = attributes == null ? new HashMap<>() : new HashMap<>(attributes);
  }

  public UUID getId() {
    return id;
  }

  public String getType() {
    return type;
  }

  public Map<String, Object> getAttributes() {
    return attributes;
  }

  public Object getAttr(String name) {
    return attributes.get(name);
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Event)) return false;
    Event e = (Event) o;
    return id.equals(e.id) && Objects.equals(type, e.type) && attributes.equals(e.attributes);
  }

  @Override
  public int hashCode() {
    return Objects.hash(id, type, attributes);
  }
}
