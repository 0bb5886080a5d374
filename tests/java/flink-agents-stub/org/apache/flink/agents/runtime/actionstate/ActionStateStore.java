package org.apache.flink.agents.runtime.actionstate;

import java.util.List;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.plan.actions.Action;

/** Test stand-in for Flink Agents' ActionStateStore (the same methods). */
public interface ActionStateStore extends AutoCloseable {
  void put(Object key, long seqNum, Action action, Event event, ActionState state)
      throws Exception;

  ActionState get(Object key, long seqNum, Action action, Event event) throws Exception;

  void rebuildState(List<Object> recoveryMarkers) throws Exception;

  void pruneState(Object key, long seqNum);

  default Object getRecoveryMarker() {
    return null;
  }
}
