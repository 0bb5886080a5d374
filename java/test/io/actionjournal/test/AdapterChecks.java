package io.actionjournal.test;

import io.actionjournal.client.JournalClient;
import io.actionjournal.client.JournalException;
import io.actionjournal.flink.AgentAction;
import io.actionjournal.flink.AgentEvent;
import io.actionjournal.flink.JournalActionStateStore;
import io.actionjournal.flink.KeyCodec;
import io.actionjournal.v1.AppendActionRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/**
 * The adapter's promises against a real server: pruning after a checkpoint, fencing of a zombie,
 * and failures (nulls, a 10 MiB state, a dead server, a closed client) arriving as Java
 * exceptions, never as a crash of the JVM.
 *
 * <p>usage: AdapterChecks TARGET DEAD_TARGET
 */
public final class AdapterChecks {
  private static int checks = 0;

  public static void main(String[] args) throws Exception {
    String target = args[0];
    String dead = args[1];
    AgentAction act = () -> "act";
    AgentEvent event = () -> "the event".getBytes(StandardCharsets.UTF_8);
    try (JournalClient client = new JournalClient(target)) {
      JournalActionStateStore store =
          new JournalActionStateStore(client, "checks", 1, KeyCodec.TO_STRING);

      // Prune after a checkpoint: exactly the covered sequence numbers go.
      for (long seq = 1; seq <= 5; seq++) {
        store.put("k", seq, act, event, bytes("k" + seq));
        store.put("other", seq, act, event, bytes("other" + seq));
      }
      store.pruneState("k", 3);
      for (long seq = 1; seq <= 5; seq++) {
        check(seq <= 3 ? store.get("k", seq, act, event) == null
                       : Arrays.equals(store.get("k", seq, act, event), bytes("k" + seq)),
              "k/" + seq + " after pruning up to 3");
        check(Arrays.equals(store.get("other", seq, act, event), bytes("other" + seq)),
              "other/" + seq + " untouched");
      }

      // A zombie: attempt 2 took the record over; attempt 1 is refused.
      JournalActionStateStore newer =
          new JournalActionStateStore(client, "checks", 2, KeyCodec.TO_STRING);
      newer.put("z", 1, act, event, bytes("new"));
      JournalException fenced =
          expect(JournalException.class, () -> store.put("z", 1, () -> "late", event, bytes("old")));
      check(fenced.code() == 9 && fenced.getMessage().contains("fenced"), "zombie fenced: " + fenced);
      check(store.get("z", 1, () -> "late", event) == null, "zombie wrote nothing");

      // Replays hand back the first state; a durable call runs once.
      int[] runs = {0};
      byte[] first = store.durableCall("d", 1, act, event, 0, "llm.chat", bytes("q"),
                                       () -> { runs[0]++; return bytes("answer"); });
      byte[] again = store.durableCall("d", 1, act, event, 0, "llm.chat", bytes("q"),
                                       () -> { runs[0]++; return bytes("other"); });
      check(runs[0] == 1 && Arrays.equals(first, again), "durable call ran once, replayed");
      expect(IllegalStateException.class, () -> store.durableCall(
          "d", 1, act, event, 1, "tool", bytes("x"),
          () -> { throw new IllegalStateException("tool down"); }));
      JournalException failed = expect(JournalException.class, () -> store.durableCall(
          "d", 1, act, event, 1, "tool", bytes("x"), () -> bytes("late")));
      check(failed.getMessage().contains("tool down"), "a failed call replays its failure");

      // Nulls and oversize states: exceptions, and the JVM goes on.
      expect(NullPointerException.class, () -> store.put(null, 1, act, event, bytes("x")));
      expect(NullPointerException.class, () -> store.put("k", 1, act, null, bytes("x")));
      expect(NullPointerException.class, () -> store.put("k", 1, act, event, null));
      expect(NullPointerException.class, () -> store.get("k", 1, () -> null, event));
      expect(NullPointerException.class, () -> store.put("k", 1, act, () -> null, bytes("x")));
      expect(NullPointerException.class, () -> client.appendAction(null));
      expect(NullPointerException.class, () -> new JournalClient(null));
      JournalException big = expect(JournalException.class,
          () -> store.put("big", 1, act, event, new byte[10 * 1024 * 1024]));
      check(big.code() == 8, "10 MiB state: RESOURCE_EXHAUSTED, got " + big);
      JournalException invalid = expect(JournalException.class,
          () -> client.appendAction(AppendActionRequest.newBuilder().build()));
      check(invalid.code() == 3, "an empty request: INVALID_ARGUMENT, got " + invalid);
    }

    // A dead server: UNAVAILABLE (or the budget's deadline), not a hang.
    try (JournalClient gone = new JournalClient(dead, Duration.ofMillis(500), 3, Duration.ofSeconds(2))) {
      JournalActionStateStore store = new JournalActionStateStore(gone, "checks", 1, KeyCodec.TO_STRING);
      long start = System.nanoTime();
      JournalException e = expect(JournalException.class,
          () -> store.get("k", 1, () -> "act", () -> bytes("e")));
      check(e.code() == 14 || e.code() == 4, "dead server: UNAVAILABLE, got " + e);
      check(System.nanoTime() - start < 10_000_000_000L, "dead server answered within the budget");
    }
    JournalClient closed = new JournalClient(target);
    closed.close();
    JournalException e = expect(JournalException.class,
        () -> closed.lookupAction(io.actionjournal.v1.LookupActionRequest.getDefaultInstance()));
    check(e.code() == 9, "a closed client: FAILED_PRECONDITION, got " + e);
    closed.close();  // twice is fine
    System.out.println("AdapterChecks: " + checks + " checks passed");
  }

  interface Body {
    void run() throws Exception;
  }

  private static <T extends Throwable> T expect(Class<T> type, Body body) {
    try {
      body.run();
    } catch (Throwable t) {
      if (type.isInstance(t)) {
        checks++;
        return type.cast(t);
      }
      throw new AssertionError("expected " + type.getSimpleName() + ", got " + t, t);
    }
    throw new AssertionError("expected " + type.getSimpleName() + ", got no exception");
  }

  private static void check(boolean ok, String what) {
    if (!ok) throw new AssertionError("failed: " + what);
    checks++;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private AdapterChecks() {}

}
