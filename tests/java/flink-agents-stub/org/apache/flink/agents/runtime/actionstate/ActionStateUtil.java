package org.apache.flink.agents.runtime.actionstate;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.TreeMap;
import java.util.UUID;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.plan.actions.Action;

/**
 * Test stand-in for Flink Agents' ActionStateUtil: the same key shape (key_seq_eventUuid_actionUuid,
 * the event's UUID from its attributes only, the action's from its hashCode).
 */
public class ActionStateUtil {
  public static String generateKey(Object key, long seqNum, Action action, Event event)
      throws IOException {
    if (key == null || action == null || event == null) throw new NullPointerException();
    return String.join(
        "_",
        key.toString(),
        String.valueOf(seqNum),
        String.valueOf(
            UUID.nameUUIDFromBytes(
                new TreeMap<>(event.getAttributes()).toString().getBytes(StandardCharsets.UTF_8))),
        String.valueOf(
            UUID.nameUUIDFromBytes(
                String.valueOf(action.hashCode()).getBytes(StandardCharsets.UTF_8))));
  }

  public static List<String> parseKey(String key) {
    String[] parts = key.split("_");
    if (parts.length != 4) throw new IllegalArgumentException("Invalid key format.");
    return List.of(parts);
  }
}
