package io.actionjournal.flink.agents.replay;

import io.actionjournal.v1.ActionEntries;
import io.actionjournal.v1.GetRecordResponse;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.api.InputEvent;
import org.apache.flink.agents.runtime.actionstate.ActionState;
import org.apache.flink.agents.runtime.actionstate.ActionStateSerde;

/**
 * One record as the journal holds it (GetRecord's answer, from an export or the live journal):
 * its actions by action key, and their completed states as Flink Agents wrote them.
 */
final class Recorded {
  final String recordKey;
  /** The operator's namespace: the record key up to its first '/' (JournalActionStateStore). */
  final String namespace;
  /** The Flink key as the runtime printed it ({@code String.valueOf(key)}). */
  final String key;

  final long seqNum;
  final Map<String, ActionEntries> actions = new LinkedHashMap<>();
  private final Map<String, ActionState> completions = new HashMap<>();

  Recorded(GetRecordResponse r) {
    recordKey = r.getRecord().getRecord().getRecordKey().toStringUtf8();
    int slash = recordKey.indexOf('/');
    namespace = slash < 0 ? "" : recordKey.substring(0, slash);
    key = recordKey.substring(slash + 1);
    seqNum = r.getRecord().getRecord().getSeqNum();
    for (ActionEntries a : r.getActionsList()) {
      if (a.hasCompletion() && a.getCompletion().getOmittedBytes() > 0) {
        throw new IllegalArgumentException(
            "record (key " + recordKey + ", seq " + seqNum + "): the completion of "
                + a.getActionKey() + " was left out; export with --payloads");
      }
      actions.put(a.getActionKey(), a);
    }
  }

  /**
   * The completed state of {@code actionKey}, read by the new code's classes; null when the
   * journal holds no completion for it. Throws when the new code cannot read it.
   */
  ActionState completion(String actionKey) {
    ActionEntries a = actions.get(actionKey);
    if (a == null || !a.hasCompletion()) return null;
    return completions.computeIfAbsent(
        actionKey, k -> ActionStateSerde.deserialize(a.getCompletion().getState().toByteArray()));
  }

  /**
   * The record's input (the InputEvent's payload) from a completed action it triggered; null when
   * no action triggered by the input completed. Throws when a state cannot be read.
   */
  Object input() {
    for (String actionKey : actions.keySet()) {
      ActionState s = completion(actionKey);
      if (s == null) continue;
      Event e = s.getTaskEvent();
      if (e instanceof InputEvent) return ((InputEvent) e).getInput();
    }
    return null;
  }
}
