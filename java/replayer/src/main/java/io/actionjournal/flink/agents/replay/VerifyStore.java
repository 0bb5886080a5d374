package io.actionjournal.flink.agents.replay;

import io.actionjournal.flink.agents.CheckedCallResult;
import io.actionjournal.flink.agents.JournalActionStateStore;
import io.actionjournal.flink.agents.JournalCalls;
import io.actionjournal.v1.ActionEntries;
import io.actionjournal.v1.Step;
import io.actionjournal.v1.StepStatus;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.api.context.MemoryUpdate;
import org.apache.flink.agents.plan.actions.Action;
import org.apache.flink.agents.runtime.actionstate.ActionState;
import org.apache.flink.agents.runtime.actionstate.ActionStateStore;
import org.apache.flink.agents.runtime.actionstate.CallResult;

/**
 * Flink Agents' ActionStateStore in verify mode, over one recorded record at a time: it writes
 * nothing anywhere and lets no durable call run. For each action the runtime asks about, it hands
 * back the journaled calls, checked ({@link CheckedCallResult}), and never a completed state, so
 * the new code runs and every durable call it makes is answered from the journal or stops the
 * action before it runs (a {@link Stop}); a completed state the action then puts is compared with
 * the journaled one. What it finds goes to the record's {@link Session}.
 *
 * <p>Serializable because the operator factory that carries it is; the copy the harness may make
 * finds the same session through {@link #SESSIONS}.
 */
final class VerifyStore implements ActionStateStore, Serializable {
  private static final long serialVersionUID = 1L;
  private static final AtomicLong IDS = new AtomicLong();
  private static final Map<Long, Session> SESSIONS = new ConcurrentHashMap<>();

  /**
   * Thrown into the action to stop it where a call would run or part from the journal. An {@link
   * Error}, so that an agent's {@code catch (Exception e)} around a durable call cannot swallow it.
   */
  static final class Stop extends Error {
    private static final long serialVersionUID = 1L;

    Stop(String message) {
      super("actionjournal replayer: " + message, null, false, false);
    }
  }

  /** What one record's replay found, in order, over its passes. */
  static final class Session {
    Recorded record;
    final Set<String> asked = new HashSet<>();
    final List<Finding> findings = new ArrayList<>();
    // Actions answered as completed and empty (skipped): ones a pass stopped at a call the
    // journal does not hold, so that the next pass checks the record's other actions.
    final Set<String> skipped = new HashSet<>();
    boolean stopped;
    String stoppedAction;

    void begin(Recorded r) {
      record = r;
      findings.clear();
      skipped.clear();
      nextPass();
    }

    void nextPass() {
      asked.clear();
      stopped = false;
      stoppedAction = null;
    }

    void add(Finding f) {
      findings.add(f);
    }

    boolean divergent() {
      return findings.stream().anyMatch(f -> f.kind.divergent);
    }
  }

  private final long id = IDS.incrementAndGet();

  VerifyStore() {
    SESSIONS.put(id, new Session());
  }

  Session session() {
    return SESSIONS.get(id);
  }

  @Override
  public ActionState get(Object key, long seqNum, Action action, Event event) throws Exception {
    Session s = session();
    String actionKey = JournalActionStateStore.actionKey(key, seqNum, action, event);
    s.asked.add(actionKey);
    if (s.skipped.contains(actionKey)) return new ActionState(event, null, null, null, null, true);
    String name = action.getName();
    ActionEntries journaled = s.record.actions.get(actionKey);
    List<CallResult> calls = new ArrayList<>();
    boolean completed = false;
    int pendingAt = -1;
    if (journaled == null) {
      if (s.findings.stream().noneMatch(f -> name.equals(f.action))) {
        s.add(Finding.of(Finding.Kind.WOULD_RUN_ACTION, name, "the journal holds nothing for it"));
      }
    } else {
      if (journaled.hasCompletion()) {
        try {
          s.record.completion(actionKey);
        } catch (RuntimeException e) {
          s.add(Finding.of(Finding.Kind.STATE_UNREADABLE, name, String.valueOf(rootOf(e))));
          throw stop(s, "the journaled state of " + name + " cannot be read");
        }
        completed = true;
      }
      // The calls are the action's steps (a completed state carries none: Flink Agents clears
      // them when it marks the action completed), up to a PENDING one: its reconciler would run,
      // so the journal ends there for the replay.
      for (Step step : journaled.getStepsList()) {
        if (step.getStatus() == StepStatus.STEP_STATUS_PENDING) {
          pendingAt = calls.size();
          break;
        }
        calls.add(JournalActionStateStore.toCallResult(step));
      }
    }
    boolean wasCompleted = completed;
    int pending = pendingAt;
    List<CallResult> checked = new ArrayList<>(calls.size() + 1);
    CheckedCallResult.Mismatch mismatch =
        (i, j, functionId, argsDigest) -> {
          if (j != null) {
            s.add(
                new Finding(
                    Finding.Kind.CALL_DIFFERS,
                    name,
                    i,
                    j.getFunctionId(),
                    j.getArgsDigest(),
                    functionId,
                    argsDigest,
                    null));
          } else {
            s.add(
                new Finding(
                    wasCompleted ? Finding.Kind.EXTRA_CALL : Finding.Kind.WOULD_RUN_CALL,
                    name,
                    i,
                    null,
                    null,
                    functionId,
                    argsDigest,
                    i == pending ? "journaled PENDING: its reconciler would run" : null));
          }
          s.stoppedAction = actionKey;
          throw stop(s, "call " + i + " of " + name + " (" + functionId + ") is not journaled");
        };
    for (int i = 0; i < calls.size(); i++) checked.add(CheckedCallResult.of(i, calls.get(i), mismatch));
    checked.add(CheckedCallResult.end(calls.size(), mismatch));
    return new ActionState(event, null, null, null, checked, false);
  }

  @Override
  public void put(Object key, long seqNum, Action action, Event event, ActionState state)
      throws Exception {
    Session s = session();
    String name = action.getName();
    if (!state.isCompleted()) {
      // The runtime journals a call only before or after running it, which no path here allows.
      s.add(Finding.of(Finding.Kind.ACTION_FAILED, name, "the runtime tried to journal a call"));
      throw stop(s, name + " tried to journal a call");
    }
    String actionKey = JournalActionStateStore.actionKey(key, seqNum, action, event);
    ActionState journaled;
    try {
      journaled = s.record.completion(actionKey);
    } catch (RuntimeException e) {
      return; // reported by get
    }
    if (journaled == null) return; // an action the journal did not hold completed: reported by get
    String was = effects(journaled);
    String now = effects(state);
    if (!was.equals(now)) {
      s.add(
          Finding.of(
              Finding.Kind.OUTPUT_DIFFERS, name, "journal " + clip(was) + ", code " + clip(now)));
    }
  }

  /** An action's output events and memory updates, as comparable text. */
  private static String effects(ActionState state) {
    StringBuilder b = new StringBuilder();
    for (Event e : state.getOutputEvents()) {
      b.append("event ").append(e.getType()).append(' ').append(json(e.getAttributes())).append('\n');
    }
    for (MemoryUpdate u : state.getShortTermMemoryUpdates()) {
      b.append("short-term ").append(u.getPath()).append('=').append(json(u.getValue())).append('\n');
    }
    for (MemoryUpdate u : state.getSensoryMemoryUpdates()) {
      b.append("sensory ").append(u.getPath()).append('=').append(json(u.getValue())).append('\n');
    }
    return b.toString();
  }

  private static String json(Object v) {
    try {
      return new String(JournalCalls.canonicalJson(v), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return String.valueOf(v);
    }
  }

  private static String clip(String s) {
    String t = s.replace('\n', ';');
    return t.length() > 200 ? t.substring(0, 200) + "..." : t;
  }

  private static Stop stop(Session s, String why) {
    s.stopped = true;
    return new Stop(why);
  }

  static Throwable rootOf(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) t = t.getCause();
    return t;
  }

  @Override
  public void rebuildState(List<Object> recoveryMarkers) {}

  @Override
  public void pruneState(Object key, long seqNum) {}

  @Override
  public Object getRecoveryMarker() {
    return null;
  }

  @Override
  public void close() {}

  /** Forgets the session (the store is done with). */
  void release() {
    SESSIONS.remove(id);
  }
}
