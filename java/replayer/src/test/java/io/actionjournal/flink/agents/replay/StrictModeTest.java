package io.actionjournal.flink.agents.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.actionjournal.client.GrpcJournalClient;
import io.actionjournal.client.TestServer;
import io.actionjournal.flink.agents.DivergenceException;
import io.actionjournal.flink.agents.JournalStoreOptions;
import io.actionjournal.v1.ActionEntries;
import io.actionjournal.v1.GetRecordRequest;
import io.actionjournal.v1.GetRecordResponse;
import io.actionjournal.v1.ListRecordsRequest;
import io.actionjournal.v1.RecordId;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.flink.agents.api.agents.Agent;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * actionjournal.on-divergence=fail on a restore: Flink Agents' own operator (in Flink's
 * harness) with JournalActionStateStore on a real server. Agent A fails after both of an action's
 * calls ran and were journaled (the action is in flight, as after a crash); the operator is made
 * afresh, as a restore makes it, with agent B, whose second call has another prompt. Strict: the
 * action fails with a DivergenceException naming the record, action, index and both calls; no call
 * runs and the journal keeps A's calls. Truncate (Flink Agents' behaviour, the default): the call
 * runs again and the journal holds B's. Strict mode lets a new action (C) run: it stops only a
 * journaled call that changed. (FlinkJobTest runs strict mode on a real MiniCluster restore.)
 */
final class StrictModeTest {
  @TempDir static Path dir;
  private static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start(dir.resolve("server"));
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  /** A task over the journal of {@code job}, with on-divergence as given. */
  private static JournalTask task(String job, Agent agent, String onDivergence) throws Exception {
    return new JournalTask(
        server.target,
        agent,
        Map.of("actionjournal.job-id", job, "actionjournal.on-divergence", onDivergence));
  }

  /** Agent A runs "k0:1" until both calls are journaled, then fails: the action is in flight. */
  private static void crashAfterTheCalls(String job) throws Exception {
    Review.failAtEnd = true;
    try (JournalTask a = task(job, new ReviewAgentA(), "truncate")) {
      Throwable t = assertThrows(Throwable.class, () -> a.run("k0:1"));
      assertTrue(String.valueOf(VerifyStore.rootOf(t)).contains("injected failure"), t.toString());
    }
    assertFalse(Review.failAtEnd);
  }

  private static GetRecordResponse journal(String job) {
    try (GrpcJournalClient c = new GrpcJournalClient(server.target)) {
      RecordId record =
          c.listRecords(ListRecordsRequest.newBuilder().setJobId(job).build())
              .getRecords(0)
              .getRecord();
      return c.getRecord(GetRecordRequest.newBuilder().setRecord(record).build());
    }
  }

  private static List<String> calls(GetRecordResponse r) {
    ActionEntries a = r.getActions(0);
    return a.getStepsList().stream().map(s -> s.getFunctionId()).collect(java.util.stream.Collectors.toList());
  }

  @Test
  void strictModeFailsTheActionBeforeTheChangedCallRuns() throws Exception {
    String job = "strict-fail";
    crashAfterTheCalls(job);
    List<String> journaled = calls(journal(job));
    assertEquals(2, journaled.size(), journaled.toString());
    int reply = Review.effects("reply");
    int classify = Review.effects("classify");

    try (JournalTask b = task(job, new ReviewAgentB(), "fail")) {
      Throwable t = assertThrows(Throwable.class, () -> b.run("k0:1"));
      DivergenceException d = divergenceIn(t);
      assertNotNull(d, "no DivergenceException in " + t);
      assertEquals(job, d.jobId);
      assertEquals("review/k0", d.recordKey);
      assertEquals("review", d.action);
      assertEquals(1, d.index);
      assertEquals(journaled.get(1), d.journaledFunctionId);
      assertTrue(d.functionId.startsWith("reply#") && !d.functionId.equals(d.journaledFunctionId));
      assertTrue(d.getMessage().contains("durable call 1"), d.getMessage());
    }
    assertEquals(classify, Review.effects("classify"), "nothing runs");
    assertEquals(reply, Review.effects("reply"), "nothing runs");
    GetRecordResponse after = journal(job);
    assertEquals(journaled, calls(after), "nothing journaled is dropped");
    assertFalse(after.getActions(0).hasCompletion());

    // The code that wrote the journal restores in strict mode too, replaying both calls.
    try (JournalTask a = task(job, new ReviewAgentA(), "fail")) {
      a.run("k0:1");
      assertEquals(1, a.h.getOutput().size());
    }
    assertEquals(reply, Review.effects("reply"));
    assertTrue(journal(job).getActions(0).hasCompletion());
  }

  @Test
  void strictModeLetsANewActionRun() throws Exception {
    String job = "strict-new-action";
    crashAfterTheCalls(job);
    int classify = Review.effects("classify");
    int reply = Review.effects("reply");
    int audit = Review.effects("audit");
    // C adds an action: nothing journaled diverges, so strict mode has nothing to stop.
    try (JournalTask c = task(job, new ReviewAgentC(), "fail")) {
      c.run("k0:1");
      assertEquals(1, c.h.getOutput().size());
    }
    assertEquals(classify, Review.effects("classify"), "review's calls replay");
    assertEquals(reply, Review.effects("reply"), "review's calls replay");
    assertEquals(audit + 1, Review.effects("audit"), "the new action runs");
  }

  @Test
  void truncateRunsTheChangedCallAgain() throws Exception {
    String job = "strict-truncate";
    crashAfterTheCalls(job);
    List<String> journaled = calls(journal(job));
    int reply = Review.effects("reply");
    try (JournalTask b = task(job, new ReviewAgentB(), "truncate")) {
      b.run("k0:1");
      assertEquals(1, b.h.getOutput().size());
    }
    assertEquals(reply + 1, Review.effects("reply"), "Flink Agents runs the changed call");
    List<String> now = calls(journal(job));
    assertEquals(journaled.get(0), now.get(0));
    assertFalse(journaled.get(1).equals(now.get(1)), "the journal holds B's call: " + now);
  }

  /**
   * The replayer over a journal whose call was left PENDING (the task died inside it): its
   * reconciler would run on a restore, so the replayer stops there and reports it, running
   * neither the call nor the reconciler, and checks the record's other action.
   */
  @Test
  void theReplayerStopsAtAPendingCall() throws Exception {
    String job = "pending-call";
    Review.failInCall = true;
    try (JournalTask a = task(job, new TwoStepAgent(), "truncate")) {
      Throwable t = assertThrows(Throwable.class, () -> a.run("k0:1"));
      assertTrue(String.valueOf(VerifyStore.rootOf(t)).contains("injected failure"), t.toString());
    }
    int effects = Review.effects();
    ReplayReport r;
    try (GrpcJournalClient c = new GrpcJournalClient(server.target)) {
      r = Replayer.forAgent(new TwoStepAgent()).replay(Replayer.fromJournal(c, job, ""));
    }
    assertEquals(effects, Review.effects(), "neither the call nor its reconciler ran");
    assertEquals(1, r.count(ReplayReport.Status.WOULD_RUN), r.text());
    Finding f = r.records.get(0).first();
    assertEquals(Finding.Kind.WOULD_RUN_CALL, f.kind, r.text());
    assertEquals("answer", f.action);
    assertEquals(0, f.index);
    assertTrue(f.detail.contains("reconciler"), f.toString());
  }

  @Test
  void aBadValueNamesTheKey() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                JournalStoreOptions.fromMap(
                    Map.of("actionjournal.job-id", "j", "actionjournal.on-divergence", "stop"),
                    Map.of()));
    assertEquals("actionjournal.on-divergence: one of truncate, fail, got stop", e.getMessage());
  }

  private static DivergenceException divergenceIn(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof DivergenceException) return (DivergenceException) c;
      if (c.getCause() == c) break;
    }
    return null;
  }
}
