package io.actionjournal.flink.agents;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.actionjournal.client.GrpcJournalClient;
import io.actionjournal.client.JniJournalClient;
import io.actionjournal.client.Journal;
import io.actionjournal.client.JournalException;
import io.actionjournal.client.RetryOptions;
import io.actionjournal.client.TestServer;
import io.actionjournal.flink.agents.JournalStoreOptions.PruneMode;
import io.actionjournal.v1.AppendActionRequest;
import io.actionjournal.v1.Completion;
import io.actionjournal.v1.RecordId;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.api.context.MemoryUpdate;
import org.apache.flink.agents.api.context.RunnerContext;
import org.apache.flink.agents.plan.JavaFunction;
import org.apache.flink.agents.plan.actions.Action;
import org.apache.flink.agents.runtime.actionstate.ActionState;
import org.apache.flink.agents.runtime.actionstate.CallResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The adapter against a real server (SQLite store), driven the way Flink Agents 0.3.1's runtime
 * drives an ActionStateStore, and each of the defects a real job would hit, one test each.
 */
final class JournalActionStateStoreTest {
  private static final AtomicInteger JOBS = new AtomicInteger();
  @TempDir static Path dir;
  private static TestServer server;
  private static Journal journal;

  private final Action act = action("summarize");
  private final Event in = new Event("InputEvent", Map.of("text", "hello"));

  @BeforeAll
  static void start() throws Exception {
    System.setProperty("actionjournal.jni", TestServer.jniLibrary().toString());
    server = TestServer.start(dir.resolve("server"));
    journal = new GrpcJournalClient(server.target);
  }

  @AfterAll
  static void stop() {
    journal.close();
    server.close();
  }

  /** An action of the real plan types, its function a no-op of this class. */
  static Action action(String name) {
    try {
      return new Action(
          name,
          new JavaFunction(
              JournalActionStateStoreTest.class, "noop", new Class<?>[] {Event.class, RunnerContext.class}),
          List.of("InputEvent"));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  public static void noop(Event event, RunnerContext ctx) {}

  private static String newJob() {
    return "fa-" + JOBS.incrementAndGet();
  }

  private static JournalActionStateStore store(String job, PruneMode prune, Journal j) {
    JournalActionStateStore s =
        new JournalActionStateStore(
            new JournalStoreOptions(
                server.target, job, JournalStoreOptions.Transport.GRPC, prune, 2, 4 << 20),
            j);
    s.bindOperator("op-1");
    return s;
  }

  /** A task's start: what the runtime does in initializeState. */
  private static JournalActionStateStore started(String job, List<Object> markers) {
    JournalActionStateStore s = store(job, PruneMode.CHECKPOINT, journal);
    s.rebuildState(markers);
    return s;
  }

  private static ActionState completed(Event in, String answer) {
    ActionState s = new ActionState(in);
    s.addEvent(new Event("OutputEvent", Map.of("answer", answer)));
    s.markCompleted();
    return s;
  }

  /** The answer a completed state's output event carries (events compare by their random id). */
  private static Object answer(ActionState s) {
    assertNotNull(s, "no state");
    assertTrue(s.isCompleted(), "not completed");
    return s.getOutputEvents().get(0).getAttr("answer");
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @ParameterizedTest
  @ValueSource(strings = {"grpc", "jni"})
  void theRuntimesSequenceJournalsCallsAndReplaysTheCompletion(String transport) throws Exception {
    String job = newJob();
    try (Journal j =
        transport.equals("grpc")
            ? new GrpcJournalClient(server.target)
            : new JniJournalClient(server.target)) {
      JournalActionStateStore store = store(job, PruneMode.CHECKPOINT, j);
      store.rebuildState(List.of());
      // DurableExecutionManager and RunnerContextImpl for one action with one durable call:
      // get, put(fresh), get, put(pending), put(succeeded), get, put(done).
      assertNull(store.get("user-1", 1, act, in), "unknown action");
      store.put("user-1", 1, act, in, new ActionState(in));
      ActionState s = store.get("user-1", 1, act, in);
      assertEquals(0, s.getCallResultCount());
      assertFalse(s.isCompleted());
      s.addCallResult(CallResult.pending("llm.chat", "d1"));
      store.put("user-1", 1, act, in, s);
      s.replaceCallResult(0, new CallResult("llm.chat", "d1", bytes("42")));
      store.put("user-1", 1, act, in, s);
      ActionState end = store.get("user-1", 1, act, in);
      assertTrue(end.getCallResult(0).isSuccess());
      assertArrayEquals(bytes("42"), end.getCallResult(0).getResultPayload());
      end.addShortTermMemoryUpdate(new MemoryUpdate("answer", "42"));
      end.addEvent(new Event("OutputEvent", Map.of("answer", "42")));
      end.markCompleted();
      store.put("user-1", 1, act, in, end);

      // A new task (a new store, nothing cached) reads the completed state back.
      JournalActionStateStore next = store(job, PruneMode.CHECKPOINT, j);
      next.rebuildState(List.of(store.getRecoveryMarker()));
      ActionState back = next.get("user-1", 1, act, in);
      assertTrue(back.isCompleted());
      assertEquals(end, back);
      // First writer wins: a different completed state is not stored.
      next.put("user-1", 1, act, in, completed(in, "43"));
      assertEquals(end, started(job, List.of()).get("user-1", 1, act, in));
      // Typed keys: the runtime calls get with key.toString() and put with the key itself.
      next.put(7L, 1, act, in, completed(in, "seven"));
      assertNotNull(started(job, List.of()).get("7", 1, act, in), "put with 7L, get with \"7\"");
      // Equal attributes are one event (Flink Agents' rule); other attributes another action.
      assertNotNull(next.get("user-1", 1, act, new Event("InputEvent", Map.of("text", "hello"))));
      assertNull(next.get("user-1", 1, act, new Event("InputEvent", Map.of("text", "bye"))));
    }
  }

  @Test
  void pruneModesDeleteWhatTheirCheckpointsCover() throws Exception {
    String job = newJob();
    JournalActionStateStore store = started(job, List.of());
    for (long seq = 1; seq <= 3; seq++) {
      store.put("p", seq, act, in, completed(in, "p" + seq));
      store.put("q", seq, act, in, completed(in, "q" + seq));
    }
    // CHECKPOINT: a completed checkpoint removes the key's records up to seqNum.
    store.pruneState("p", 2);
    assertTrue(store.flushPrunes());
    JournalActionStateStore reader = started(job, List.of());
    assertNull(reader.get("p", 1, act, in));
    assertNull(reader.get("p", 2, act, in));
    assertNotNull(reader.get("p", 3, act, in));
    assertNotNull(reader.get("q", 1, act, in));
    // NONE: pruneState deletes nothing.
    JournalActionStateStore keep = store(job, PruneMode.NONE, journal);
    keep.pruneState("q", 3);
    assertTrue(keep.flushPrunes());
    assertNotNull(started(job, List.of()).get("q", 3, act, in));
    // DELAYED (2): checkpoint c's bounds go when checkpoint c+2 completes, so a restore from any
    // of the last three completed checkpoints replays from the journal.
    JournalActionStateStore late = store(job, PruneMode.DELAYED, journal);
    late.rebuildState(List.of());
    for (long seq = 1; seq <= 4; seq++) late.put("d", seq, act, in, completed(in, "d" + seq));
    for (long c = 1; c <= 3; c++) {
      late.getRecoveryMarker(); // the runtime's snapshotState of checkpoint c
      late.pruneState("d", c); // its notifyCheckpointComplete
      assertTrue(late.flushPrunes());
      JournalActionStateStore restore = started(job, List.of());
      for (long seq = 1; seq <= 4; seq++) {
        boolean kept = restore.get("d", seq, act, in) != null;
        assertEquals(seq > c - 2, kept, "DELAYED after checkpoint " + c + ": d/" + seq);
      }
    }
  }

  @Test
  void theJournalAwayNeitherFailsNorStallsPruneState() throws Exception {
    String job = newJob();
    JournalActionStateStore writer = started(job, List.of());
    for (long seq = 1; seq <= 3; seq++) writer.put("q", seq, act, in, completed(in, "q" + seq));
    RetryOptions quick =
        new RetryOptions(
            2, Duration.ofMillis(10), Duration.ofMillis(20), Duration.ofSeconds(2), Duration.ofSeconds(1));
    try (Journal dead = new GrpcJournalClient("127.0.0.1:1", quick)) {
      CountingJournal flaky = new CountingJournal(journal, dead);
      JournalActionStateStore away = store(job, PruneMode.CHECKPOINT, flaky);
      away.rebuildState(List.of());
      flaky.down = true;
      long t0 = System.nanoTime();
      away.pruneState("q", 1);
      assertTrue(System.nanoTime() - t0 < 500_000_000L, "pruneState waited for the journal");
      assertFalse(away.flushPrunes(), "the prune failed and stays queued");
      assertNotNull(started(job, List.of()).get("q", 1, act, in));
      flaky.down = false;
      away.pruneState("q", 2);
      assertTrue(away.flushPrunes());
      JournalActionStateStore after = started(job, List.of());
      assertNull(after.get("q", 1, act, in));
      assertNull(after.get("q", 2, act, in));
      assertNotNull(after.get("q", 3, act, in));
      away.close();
    }
  }

  @Test
  void aStateOverThePayloadLimitIsRefusedWithTheLimitNamed() throws Exception {
    String job = newJob();
    JournalActionStateStore store = started(job, List.of());
    ActionState big = new ActionState(in);
    big.addShortTermMemoryUpdate(new MemoryUpdate("blob", new byte[10 << 20]));
    big.markCompleted();
    store.put("big", 1, act, in, new ActionState(in));
    JournalException e =
        assertThrows(JournalException.class, () -> store.put("big", 1, act, in, big));
    assertEquals(8, e.code());
    assertTrue(e.getMessage().contains("payload limit"), e.getMessage());
    assertNull(started(job, List.of()).get("big", 1, act, in), "nothing stored");
  }

  /** Defect 1: attempts come from the journal, so a rollback runs on and fences newer writers. */
  @Test
  void aRestoreOfAnOlderSavepointRunsOnAndFencesTheNewerRun() throws Exception {
    String job = newJob();
    JournalActionStateStore first = started(job, List.of());
    Object savepoint = first.getRecoveryMarker();
    first.put("z", 1, act, in, completed(in, "z1"));
    JournalActionStateStore second = started(job, List.of(savepoint));
    second.put("z", 1, act, in, new ActionState(in));
    JournalActionStateStore third = started(job, List.of(second.getRecoveryMarker()));
    third.put("z", 2, act, in, new ActionState(in));
    assertTrue(first.attempt() < second.attempt() && second.attempt() < third.attempt());
    // The rollback: the first savepoint again, after two restores.
    JournalActionStateStore rollback = started(job, List.of(savepoint));
    assertTrue(rollback.attempt() > third.attempt(), "attempt " + rollback.attempt());
    assertEquals("z1", answer(rollback.get("z", 1, act, in)), "the rollback reads the journal");
    rollback.put("z", 2, act, in, completed(in, "after rollback"));
    // Every writer of an earlier start is a zombie now: fenced.
    for (JournalActionStateStore zombie : List.of(first, third)) {
      JournalException fenced =
          assertThrows(
              JournalException.class, () -> zombie.put("z", 2, act, in, completed(in, "late")));
      assertEquals(9, fenced.code(), fenced.getMessage());
      assertTrue(fenced.getMessage().contains("fenced"), fenced.getMessage());
    }
    assertThrows(
        IllegalStateException.class,
        () -> rollback.rebuildState(List.of("actionjournal:another-job:op:3")));
  }

  /** Defect 2: after a miss, later sequence numbers of the key are not answered. */
  @Test
  void afterAMissLaterSequenceNumbersOfTheKeyAreNotAnswered() throws Exception {
    String job = newJob();
    Event a = new Event("InputEvent", Map.of("text", "a"));
    Event b = new Event("InputEvent", Map.of("text", "b"));
    Event c = new Event("InputEvent", Map.of("text", "c"));
    JournalActionStateStore first = started(job, List.of());
    first.put("k", 1, act, a, completed(a, "a first"));
    first.put("k", 2, act, b, completed(b, "b after a"));
    first.put("other", 1, act, a, completed(a, "other a"));
    Object marker = first.getRecoveryMarker();

    // A replay in the same order answers both.
    JournalActionStateStore same = started(job, List.of(marker));
    assertNotNull(same.get("k", 1, act, a));
    assertNotNull(same.get("k", 2, act, b));
    assertEquals(0, same.resets());

    // A replay that diverges at seq 1 (c arrived first): seq 2's b was computed after a, not c.
    JournalActionStateStore diverged = started(job, List.of(marker));
    assertNull(diverged.get("k", 1, act, c));
    diverged.put("k", 1, act, c, completed(c, "c first"));
    assertNull(diverged.get("k", 2, act, b), "seq 2 answered from another history");
    assertEquals(1, diverged.resets());
    diverged.put("k", 2, act, b, completed(b, "b after c"));
    // Only that key: another key's journal still answers.
    assertNotNull(diverged.get("other", 1, act, a));
    // What this run wrote stands for the next restore.
    JournalActionStateStore next = started(job, List.of(diverged.getRecoveryMarker()));
    assertEquals("b after c", answer(next.get("k", 2, act, b)));
  }

  /** Defect 3: two agent operators of one job keep their records and prunes apart. */
  @Test
  void twoOperatorsOfOneJobStayApart() throws Exception {
    String job = newJob();
    JournalActionStateStore one = store(job, PruneMode.CHECKPOINT, journal);
    one.bindOperator("0a1b");
    one.rebuildState(List.of());
    JournalActionStateStore two = store(job, PruneMode.CHECKPOINT, journal);
    two.bindOperator("2c3d");
    two.rebuildState(List.of());
    one.put("k", 1, act, in, completed(in, "one"));
    assertNull(two.get("k", 1, act, in), "the other operator's record");
    two.put("k", 1, act, in, new ActionState(in));
    two.pruneState("k", 1);
    assertTrue(two.flushPrunes());
    JournalActionStateStore oneAgain = store(job, PruneMode.CHECKPOINT, journal);
    oneAgain.bindOperator("0a1b");
    oneAgain.rebuildState(List.of());
    assertEquals("one", answer(oneAgain.get("k", 1, act, in)), "pruned by the other");
    // A namespace fixed by the options wins over the operator's ID.
    JournalActionStateStore fixed =
        new JournalActionStateStore(
            JournalStoreOptions.forJob(job).withNamespace("0a1b"), journal);
    fixed.bindOperator("ffff");
    fixed.rebuildState(List.of());
    assertNotNull(fixed.get("k", 1, act, in));
  }

  /** Defect 4: a completion this version cannot read stops the task with what to do. */
  @Test
  void anUnreadableCompletionFailsWithWhatToDo() throws Exception {
    String job = newJob();
    JournalActionStateStore store = started(job, List.of());
    store.put("k", 1, act, in, new ActionState(in));
    journal.appendAction(
        AppendActionRequest.newBuilder()
            .setRecord(
                RecordId.newBuilder()
                    .setJobId(job)
                    .setRecordKey(ByteString.copyFromUtf8("op-1/k"))
                    .setSeqNum(1))
            .setActionKey(JournalActionStateStore.actionKey("k", 1, act, in))
            .setCompletion(
                Completion.newBuilder().setState(ByteString.copyFromUtf8("{\"written by\": 0.2}")))
            .build());
    JournalActionStateStore replay = started(job, List.of(store.getRecoveryMarker()));
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> replay.get("k", 1, act, in));
    assertTrue(
        e.getMessage().contains("summarize") && e.getMessage().contains("cannot be read")
            && e.getMessage().contains("--whole-job"),
        e.getMessage());
  }

  /** Defect 5: at every checkpoint, only keys whose bound moved are sent. */
  @Test
  void pruneStateSendsOnlyBoundsThatMoved() throws Exception {
    String job = newJob();
    CountingJournal counting = new CountingJournal(journal, journal);
    JournalActionStateStore store = store(job, PruneMode.CHECKPOINT, counting);
    store.rebuildState(List.of());
    int keys = 20_000;
    for (int k = 0; k < keys; k++) store.pruneState("key-" + k, 5);
    assertTrue(store.flushPrunes());
    assertEquals(keys, counting.prunedKeys.get());
    // The next checkpoint: the runtime asks again for every key; 10 of them moved.
    for (int k = 0; k < keys; k++) store.pruneState("key-" + k, k < 10 ? 6 : 5);
    assertTrue(store.flushPrunes());
    assertEquals(keys + 10, counting.prunedKeys.get());
    assertEquals(keys, store.prunedKeys());
  }
  /**
   * The same key objects at every checkpoint (the heap state backend), some keys added and dropped
   * between checkpoints: what moved is sent, what did not is not, by the last pass's order.
   */
  @Test
  void pruneStateOverTheSameKeysInAShiftingOrderSendsWhatMoved() throws Exception {
    String job = newJob();
    CountingJournal counting = new CountingJournal(journal, journal);
    JournalActionStateStore store = store(job, PruneMode.CHECKPOINT, counting);
    store.rebuildState(List.of());
    List<Object> keys = new ArrayList<>();
    for (int k = 0; k < 5_000; k++) keys.add("key-" + k);
    Map<Object, Long> bounds = new HashMap<>();
    long sent = 0;
    java.util.Random random = new java.util.Random(7);
    for (int checkpoint = 0; checkpoint < 6; checkpoint++) {
      if (checkpoint > 0) {
        // A new key at a few places, a few dropped: the order shifts by one there.
        for (int n = 0; n < 5; n++) keys.add(random.nextInt(keys.size()), "new-" + checkpoint + "-" + n);
        for (int n = 0; n < 3; n++) keys.remove(random.nextInt(keys.size()));
      }
      store.getRecoveryMarker();
      for (Object key : keys) {
        long seq = bounds.getOrDefault(key, 0L) + (random.nextInt(10) == 0 || checkpoint == 0 ? 1 : 0);
        if (random.nextInt(50) == 0) seq = Math.max(0, seq - 1); // a lower bound: nothing to send
        if (seq > bounds.getOrDefault(key, -1L)) {
          bounds.put(key, seq);
          sent++;
        }
        store.pruneState(key, seq);
      }
      assertTrue(store.flushPrunes());
      assertEquals(sent, counting.prunedKeys.get(), "keys sent by checkpoint " + checkpoint);
    }
  }


  /** Defect 6: an action between its first put and its end is never lost from the cache. */
  @Test
  void anInFlightActionSurvivesEvictionAndANullResultStaysNull() throws Exception {
    String job = newJob();
    JournalActionStateStore store = started(job, List.of());
    store.put("slow", 1, act, in, new ActionState(in));
    // An async action is suspended; 2,000 other records go through the cache meanwhile.
    for (int k = 0; k < 2_000; k++) store.get("busy-" + k, 1, act, in);
    ActionState atEnd = store.get("slow", 1, act, in);
    assertNotNull(atEnd, "get at the action's end came back empty");
    atEnd.addCallResult(new CallResult("tool.lookup", "", null));
    store.put("slow", 1, act, in, atEnd);
    // A durable call that returned null reads back as null, not as 0 bytes.
    ActionState back = started(job, List.of()).get("slow", 1, act, in);
    assertTrue(back.getCallResult(0).isSuccess());
    assertNull(back.getCallResult(0).getResultPayload());
  }

  /**
   * Stores of one JVM (a TaskManager's subtasks) that open their own gRPC client share one per
   * target; it stays open while any of them does, and a later store opens a new one.
   */
  @Test
  void storesOfOneJvmShareOneClientUntilTheLastCloses() throws Exception {
    String job = newJob();
    JournalStoreOptions o =
        new JournalStoreOptions(
            server.target, job, JournalStoreOptions.Transport.GRPC, PruneMode.CHECKPOINT, 2, 4 << 20);
    int before = SharedClients.open();
    JournalActionStateStore a = new JournalActionStateStore(o);
    JournalActionStateStore b = new JournalActionStateStore(o);
    a.bindOperator("op-a");
    b.bindOperator("op-b");
    a.rebuildState(List.of());
    b.rebuildState(List.of());
    assertEquals(before + 1, SharedClients.open(), "two stores, one target: one client");
    a.put("k", 1, act, in, completed(in, "from a"));
    Object marker = a.getRecoveryMarker();
    a.close();
    // b's client is still open: b writes and reads.
    b.put("k", 1, act, in, completed(in, "from b"));
    assertEquals("from b", answer(b.get("k", 1, act, in)));
    b.close();
    assertEquals(before, SharedClients.open(), "the last store closed the client");
    JournalActionStateStore c = new JournalActionStateStore(o);
    c.bindOperator("op-a");
    c.rebuildState(List.of(marker));
    assertEquals("from a", answer(c.get("k", 1, act, in)));
    c.close();
  }

  /**
   * Strict mode where the runtime compares calls itself (Flink Agents' Python reconcile path):
   * it persists the journaled calls cut at the mismatch, then puts the new call PENDING before
   * running it. That put fails with the DivergenceException, and the journal keeps its call.
   */
  @Test
  void strictModeStopsANewCallPutInAJournaledOnesPlace() throws Exception {
    String job = newJob();
    JournalActionStateStore first = started(job, List.of());
    first.put("py", 1, act, in, new ActionState(in));
    ActionState calls = first.get("py", 1, act, in);
    calls.addCallResult(new CallResult("plan", "d1", bytes("P")));
    first.put("py", 1, act, in, calls);

    JournalActionStateStore strict =
        new JournalActionStateStore(
            new JournalStoreOptions(
                    server.target, job, JournalStoreOptions.Transport.GRPC, PruneMode.CHECKPOINT,
                    2, 4 << 20)
                .withOnDivergence(JournalStoreOptions.OnDivergence.FAIL),
            journal);
    strict.bindOperator("op-1");
    strict.rebuildState(List.of());
    ActionState replay = strict.get("py", 1, act, in);
    assertEquals(1, replay.getCallResults().size());
    replay.clearCallResultsFrom(0);
    strict.put("py", 1, act, in, replay); // the cut: nothing new yet
    replay.addCallResult(CallResult.pending("plan-v2", "d2"));
    DivergenceException e =
        assertThrows(DivergenceException.class, () -> strict.put("py", 1, act, in, replay));
    assertEquals(0, e.index);
    assertEquals("plan", e.journaledFunctionId);
    assertEquals("plan-v2", e.functionId);
    ActionState after = started(job, List.of()).get("py", 1, act, in);
    assertEquals("plan", after.getCallResults().get(0).getFunctionId(), "the journal keeps it");
  }
}
