package io.actionjournal.test;

import io.actionjournal.client.GrpcJournalClient;
import io.actionjournal.client.Journal;
import io.actionjournal.client.JournalClient;
import io.actionjournal.client.JournalException;
import io.actionjournal.client.RetryOptions;
import io.actionjournal.flink.agents.JournalActionStateStore;
import io.actionjournal.flink.agents.JournalStoreOptions;
import io.actionjournal.flink.agents.JournalStoreOptions.PruneMode;
import io.actionjournal.v1.AppendActionRequest;
import io.actionjournal.v1.AppendActionResponse;
import io.actionjournal.v1.BeginRecordRequest;
import io.actionjournal.v1.BeginRecordResponse;
import io.actionjournal.v1.CompleteRecordRequest;
import io.actionjournal.v1.CompleteRecordResponse;
import io.actionjournal.v1.LookupActionRequest;
import io.actionjournal.v1.LookupActionResponse;
import io.actionjournal.v1.PruneRequest;
import io.actionjournal.v1.PruneResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.api.context.MemoryUpdate;
import org.apache.flink.agents.plan.actions.Action;
import org.apache.flink.agents.runtime.actionstate.ActionState;
import org.apache.flink.agents.runtime.actionstate.CallResult;

/**
 * The Flink Agents adapter against a real server, driven the way Flink Agents' runtime drives an
 * ActionStateStore: typed keys, events with equal attributes, both prune modes, a journal away
 * during pruneState, a 10 MiB state, a restore that fences the old attempt.
 *
 * <p>usage: FlinkAgentsChecks grpc|jni TARGET DEAD_TARGET
 */
public final class FlinkAgentsChecks {
  private static int checks;

  public static void main(String[] args) throws Exception {
    String transport = args[0];
    String target = args[1];
    String dead = args[2];
    String job = "fa-" + transport;
    try (Journal journal = open(transport, target, RetryOptions.defaults())) {
      JournalActionStateStore store = store(job, 1, PruneMode.CHECKPOINT, journal);
      Action act = new Action("summarize", List.of("InputEvent"));
      Event in = new Event("InputEvent", Map.of("text", "hello"));

      // The runtime's sequence for one action with one durable call (DurableExecutionManager,
      // RunnerContextImpl): get, put(fresh), get, put(pending), put(succeeded), get, put(done).
      check(store.get("user-1", 1, act, in) == null, "unknown action: get is null");
      store.put("user-1", 1, act, in, new ActionState(in));
      ActionState s = store.get("user-1", 1, act, in);
      check(s != null && s.getCallResultCount() == 0 && !s.isCompleted(), "fresh state back");
      s.addCallResult(CallResult.pending("llm.chat", "d1"));
      store.put("user-1", 1, act, in, s);
      s.replaceCallResult(0, new CallResult("llm.chat", "d1", bytes("42")));
      store.put("user-1", 1, act, in, s);
      ActionState end = store.get("user-1", 1, act, in);
      check(end.getCallResult(0).isSuccess()
              && Arrays.equals(end.getCallResult(0).getResultPayload(), bytes("42")),
          "the call result is journaled");
      end.addShortTermMemoryUpdate(new MemoryUpdate("answer", "42"));
      end.addEvent(new Event("OutputEvent", Map.of("answer", "42")));
      end.markCompleted();
      store.put("user-1", 1, act, in, end);
      // A new JVM (a new store, nothing cached) reads the completed state back.
      JournalActionStateStore fresh = store(job, 1, PruneMode.CHECKPOINT, journal);
      ActionState back = fresh.get("user-1", 1, act, in);
      check(back != null && back.isCompleted() && back.equals(end), "completed state replays");
      // First writer wins: a different completed state is not stored.
      ActionState other = new ActionState(in);
      other.addEvent(new Event("OutputEvent", Map.of("answer", "43")));
      other.markCompleted();
      fresh.put("user-1", 1, act, in, other);
      check(store(job, 1, PruneMode.CHECKPOINT, journal).get("user-1", 1, act, in).equals(end),
          "the first completed state stands");

      // Typed keys: the runtime calls get with key.toString() and put with the key itself.
      store.put(7L, 1, act, in, completed(in, "seven"));
      check(store(job, 1, PruneMode.CHECKPOINT, journal).get("7", 1, act, in) != null,
          "put with 7L, get with \"7\": one record");

      // Two events with equal attributes are one event (Flink Agents' own key rule, from the
      // attributes); different attributes are different actions.
      Event twin = new Event("InputEvent", Map.of("text", "hello"));
      check(store.get("user-1", 1, act, twin) != null, "equal attributes: the same action");
      Event otherEvent = new Event("InputEvent", Map.of("text", "bye"));
      check(store.get("user-1", 1, act, otherEvent) == null, "other attributes: another action");

      // Prune mode CHECKPOINT: a completed checkpoint removes the key's records up to seqNum.
      for (long seq = 1; seq <= 3; seq++) {
        store.put("p", seq, act, in, completed(in, "p" + seq));
        store.put("q", seq, act, in, completed(in, "q" + seq));
      }
      store.pruneState("p", 2);
      check(store.flushPrunes(), "prunes sent");
      JournalActionStateStore reader = store(job, 1, PruneMode.CHECKPOINT, journal);
      check(reader.get("p", 1, act, in) == null && reader.get("p", 2, act, in) == null,
          "p up to 2 pruned");
      check(reader.get("p", 3, act, in) != null && reader.get("q", 1, act, in) != null,
          "p/3 and q kept");
      // Prune mode NONE: pruneState deletes nothing.
      JournalActionStateStore keep = store(job, 1, PruneMode.NONE, journal);
      keep.pruneState("q", 3);
      check(keep.flushPrunes(), "nothing queued");
      check(store(job, 1, PruneMode.NONE, journal).get("q", 3, act, in) != null, "NONE keeps");

      // Prune mode DELAYED (2): checkpoint c's bounds are deleted when checkpoint c+2 completes,
      // so a restore from any of the last three completed checkpoints replays from the journal.
      JournalActionStateStore late = store(job, 1, PruneMode.DELAYED, journal);
      for (long seq = 1; seq <= 4; seq++) late.put("d", seq, act, in, completed(in, "d" + seq));
      for (long c = 1; c <= 3; c++) {
        late.getRecoveryMarker(); // the runtime's snapshotState of checkpoint c
        late.pruneState("d", c); // its notifyCheckpointComplete
        check(late.flushPrunes(), "delayed prunes sent");
        JournalActionStateStore restore = store(job, 1, PruneMode.DELAYED, journal);
        // After checkpoint c completes, only checkpoint c-2's bound (seq c-2) may be gone.
        for (long seq = 1; seq <= 4; seq++) {
          boolean kept = restore.get("d", seq, act, in) != null;
          check(kept == (seq > c - 2), "DELAYED after checkpoint " + c + ": d/" + seq
              + (kept ? " kept" : " pruned"));
        }
      }

      // The journal away during pruneState: no exception, no stall; pruned once it is back.
      SwitchableJournal flaky =
          new SwitchableJournal(
              open(transport, dead, new RetryOptions(2, Duration.ofMillis(10),
                  Duration.ofMillis(20), Duration.ofSeconds(2), Duration.ofSeconds(1))),
              journal);
      JournalActionStateStore away = store(job, 1, PruneMode.CHECKPOINT, flaky);
      flaky.down = true;
      long t0 = System.nanoTime();
      away.pruneState("q", 1);
      check(System.nanoTime() - t0 < 500_000_000L, "pruneState does not wait for the journal");
      check(!away.flushPrunes(), "prune fails while the journal is away, and stays queued");
      check(reader.get("q", 1, act, in) != null, "q/1 not pruned yet");
      flaky.down = false;
      away.pruneState("q", 2);
      check(away.flushPrunes(), "queued prunes sent once the journal is back");
      JournalActionStateStore after = store(job, 1, PruneMode.CHECKPOINT, journal);
      check(after.get("q", 1, act, in) == null && after.get("q", 2, act, in) == null
              && after.get("q", 3, act, in) != null, "q up to 2 pruned later");
      away.close();
      flaky.dead.close();

      // A 10 MiB state: a clear error naming the limit, nothing stored.
      ActionState big = new ActionState(in);
      big.addShortTermMemoryUpdate(new MemoryUpdate("blob", new byte[10 << 20]));
      big.markCompleted();
      store.put("big", 1, act, in, new ActionState(in));
      JournalException tooBig =
          expect(JournalException.class, () -> { store.put("big", 1, act, in, big); return null; });
      check(tooBig.code() == 8 && tooBig.getMessage().contains("payload limit"),
          "10 MiB state: " + tooBig.getMessage());
      // (A fresh state is not journaled: after a crash get is null and the runtime puts it again.)
      check(store(job, 1, PruneMode.CHECKPOINT, journal).get("big", 1, act, in) == null,
          "the big state was not stored");

      // Restore: the marker of attempt 1 raises the new store to attempt 2, which takes records
      // over; the old attempt (a zombie) is fenced.
      Object marker = store.getRecoveryMarker();
      JournalActionStateStore restored = store(job, 1, PruneMode.CHECKPOINT, journal);
      restored.rebuildState(List.of(marker));
      check(restored.attempt() == 2, "restore raises the attempt: " + restored.attempt());
      restored.put("z", 1, act, in, new ActionState(in));
      JournalActionStateStore zombie = store(job, 1, PruneMode.CHECKPOINT, journal);
      JournalException fenced =
          expect(JournalException.class,
              () -> { zombie.put("z", 1, act, in, completed(in, "late")); return null; });
      check(fenced.code() == 9 && fenced.getMessage().contains("fenced"), "zombie: " + fenced);
      expect(IllegalStateException.class,
          () -> { restored.rebuildState(List.of("actionjournal:another-job:3")); return null; });
      checks++;
      store.close();
    }
    System.out.println("FlinkAgentsChecks " + transport + ": " + checks + " checks passed");
  }

  static Journal open(String transport, String target, RetryOptions retry) {
    if (transport.equals("jni")) {
      return new JournalClient(target, retry.attemptDeadline, retry.maxAttempts, retry.budget);
    }
    return new GrpcJournalClient(target, retry);
  }

  private static JournalActionStateStore store(
      String job, long attempt, PruneMode prune, Journal journal) {
    return new JournalActionStateStore(
        new JournalStoreOptions("unused", job, JournalStoreOptions.Transport.GRPC, attempt, prune,
            2, 4 << 20),
        journal);
  }

  private static ActionState completed(Event in, String answer) {
    ActionState s = new ActionState(in);
    s.addEvent(new Event("OutputEvent", Map.of("answer", answer)));
    s.markCompleted();
    return s;
  }

  /** Calls go to {@code dead} (a port nothing listens on) while down, else to {@code live}. */
  static final class SwitchableJournal implements Journal {
    final Journal dead;
    final Journal live;
    volatile boolean down;

    SwitchableJournal(Journal dead, Journal live) {
      this.dead = dead;
      this.live = live;
    }

    private Journal now() {
      return down ? dead : live;
    }

    @Override
    public BeginRecordResponse beginRecord(BeginRecordRequest r) {
      return now().beginRecord(r);
    }

    @Override
    public AppendActionResponse appendAction(AppendActionRequest r) {
      return now().appendAction(r);
    }

    @Override
    public LookupActionResponse lookupAction(LookupActionRequest r) {
      return now().lookupAction(r);
    }

    @Override
    public CompleteRecordResponse completeRecord(CompleteRecordRequest r) {
      return now().completeRecord(r);
    }

    @Override
    public PruneResponse prune(PruneRequest r) {
      return now().prune(r);
    }

    @Override
    public void close() {}
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static void check(boolean ok, String what) {
    if (!ok) {
      System.out.println("FAILED: " + what);
      System.exit(1);
    }
    checks++;
  }

  static <T extends Throwable> T expect(Class<T> type, Callable<?> body) {
    try {
      body.call();
    } catch (Throwable t) {
      if (type.isInstance(t)) {
        checks++;
        return type.cast(t);
      }
      System.out.println("FAILED: expected " + type.getSimpleName() + ", got " + t);
      t.printStackTrace(System.out);
      System.exit(1);
    }
    System.out.println("FAILED: expected " + type.getSimpleName() + ", nothing thrown");
    System.exit(1);
    return null;
  }
}
