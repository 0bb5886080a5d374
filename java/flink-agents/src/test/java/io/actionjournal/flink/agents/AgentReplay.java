package io.actionjournal.test;

import io.actionjournal.flink.agents.JournalActionStateStore;
import io.actionjournal.flink.agents.JournalStoreOptions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.api.context.MemoryUpdate;
import org.apache.flink.agents.plan.actions.Action;
import org.apache.flink.agents.runtime.actionstate.ActionState;
import org.apache.flink.agents.runtime.actionstate.ActionStateSerde;
import org.apache.flink.agents.runtime.actionstate.CallResult;

/**
 * An agent driven through JournalActionStateStore the way Flink Agents' runtime drives a store
 * (DurableExecutionManager and RunnerContextImpl's durable execute): per record, action "plan"
 * makes two durable calls, then action "respond" runs. Every real side effect appends a line to
 * WORK/effects.txt, outside the JVM; every completed state (run or replayed) goes to
 * WORK/outputs-N.txt. The store is configured from the environment, as in a TaskManager.
 *
 * <p>At start it restores from WORK/marker.txt when present (rebuildState), then writes its own
 * marker there (the checkpoint). With KILL = "R:I" it SIGKILLs itself once call I of record R is
 * journaled PENDING, before the call runs.
 *
 * <p>usage: AgentReplay WORK RECORDS RUN KILL|none
 */
public final class AgentReplay {
  private static final Action PLAN = new Action("plan", List.of("InputEvent"));
  private static final Action RESPOND = new Action("respond", List.of("PlanEvent"));
  private static final String[] CALLS = {"llm.plan", "tool.search"};

  public static void main(String[] args) throws Exception {
    Path work = Path.of(args[0]);
    int records = Integer.parseInt(args[1]);
    String run = args[2];
    String kill = args[3];
    Path marker = work.resolve("marker.txt");
    try (JournalActionStateStore store = JournalActionStateStore.fromEnvironment()) {
      if (Files.exists(marker)) {
        store.rebuildState(List.of(Files.readString(marker).trim()));
      }
      Files.writeString(marker, String.valueOf(store.getRecoveryMarker()));
      System.out.println("run " + run + ": attempt " + store.attempt());
      Path outputs = work.resolve("outputs-" + run + ".txt");
      for (int r = 0; r < records; r++) {
        String key = "user-" + r;
        Event input = new Event("InputEvent", Map.of("n", r));
        ActionState planned = action(store, key, PLAN, input, r, kill, work, outputs);
        Event plan = planned.getOutputEvents().get(0);
        action(store, key, RESPOND, plan, r, kill, work, outputs);
      }
    }
  }

  private static ActionState action(
      JournalActionStateStore store, String key, Action action, Event event, int r, String kill,
      Path work, Path outputs) throws Exception {
    long seq = 1;
    // get with key.toString(), as maybeGetActionState does.
    ActionState state = store.get(key.toString(), seq, action, event);
    if (state != null && state.isCompleted()) {
      line(outputs, r + " " + action.getName() + " " + hex(state));
      return state;
    }
    if (state == null) {
      store.put(key, seq, action, event, new ActionState(event));
      state = store.get(key, seq, action, event);
    }
    int calls = action == PLAN ? CALLS.length : 0;
    StringBuilder results = new StringBuilder();
    for (int i = 0; i < calls; i++) {
      String fn = CALLS[i];
      String digest = "args-" + r + "-" + i;
      CallResult cr = state.getCallResult(i);
      if (cr == null || !cr.matches(fn, digest) || !cr.isSuccess()) {
        // No finished call journaled here: intent first, then the call, then its result.
        if (cr == null) {
          state.addCallResult(CallResult.pending(fn, digest));
        } else {
          state.clearCallResultsFrom(i);
          state.addCallResult(CallResult.pending(fn, digest));
        }
        store.put(key, seq, action, event, state);
        if (kill.equals(r + ":" + i)) {
          new ProcessBuilder("kill", "-9", String.valueOf(ProcessHandle.current().pid()))
              .start()
              .waitFor();
          Thread.sleep(10_000); // SIGKILL is asynchronous; never carry on past it
          throw new IllegalStateException("not killed");
        }
        line(work.resolve("effects.txt"), "call " + fn + " " + r);
        state.replaceCallResult(i, new CallResult(fn, digest, (fn + " for " + r).getBytes(StandardCharsets.UTF_8)));
        store.put(key, seq, action, event, state);
        cr = state.getCallResult(i);
      }
      results.append(new String(cr.getResultPayload(), StandardCharsets.UTF_8)).append(';');
    }
    line(work.resolve("effects.txt"), "action " + action.getName() + " " + r);
    // What maybePersistTaskResult does: get, fold in memory updates and outputs, complete, put.
    ActionState end = store.get(key, seq, action, event);
    end.addShortTermMemoryUpdate(new MemoryUpdate(action.getName(), results.toString()));
    end.addEvent(new Event(action == PLAN ? "PlanEvent" : "OutputEvent", Map.of("r", r, "calls", results.toString())));
    end.markCompleted();
    store.put(key, seq, action, event, end);
    ActionState stored = store.get(key, seq, action, event);
    line(outputs, r + " " + action.getName() + " " + hex(stored));
    return stored;
  }

  private static String hex(ActionState s) {
    return HexFormat.of().formatHex(ActionStateSerde.serialize(s));
  }

  private static void line(Path file, String text) throws IOException {
    Files.writeString(file, text + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }
}
