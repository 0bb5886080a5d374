package io.actionjournal.flink.agents.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.actionjournal.client.GrpcJournalClient;
import io.actionjournal.client.TestServer;
import io.actionjournal.flink.agents.JournalActionStateStore;
import io.actionjournal.flink.agents.JournalAgents;
import io.actionjournal.flink.agents.JournalStoreOptions;
import io.actionjournal.v1.ListRecordsRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A journal recorded by a real Flink job (Flink's MiniCluster, Flink Agents 0.3.1, agent version
 * A, on a real server), then replayed with A (all identical), B (one prompt changed: divergent at
 * the reply call) and C (one more action: would run), from an export file written by
 * actionjournal-cli and from the live journal; no replay runs a side effect or writes to the
 * journal.
 */
final class ReplayerTest {
  private static final int INPUTS = 12;
  private static final String JOB = "replay-recorded";
  @TempDir static Path dir;
  private static TestServer server;
  private static Path export;
  private static final ConcurrentLinkedQueue<String> OUTPUT = new ConcurrentLinkedQueue<>();

  @BeforeAll
  static void record() throws Exception {
    server = TestServer.start(dir.resolve("server"));
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.setParallelism(1);
    List<String> inputs = new ArrayList<>();
    for (int i = 1; i <= INPUTS; i++) inputs.add("k" + (i % 3) + ":" + i);
    JournalStoreOptions options =
        JournalStoreOptions.fromMap(
            Map.of(
                "actionjournal.target", server.target,
                "actionjournal.job-id", JOB,
                "actionjournal.prune", "none"),
            Map.of());
    JournalAgents.apply(
            env.fromData(inputs).keyBy(s -> s.substring(0, s.indexOf(':'))),
            new ReviewAgentA(),
            new JournalActionStateStore(options))
        .uid("review")
        .map(new Collect())
        .sinkTo(new DiscardingSink<>());
    env.execute("record with agent A");
    assertEquals(INPUTS, OUTPUT.size(), "outputs: " + OUTPUT);
    assertEquals(INPUTS, Review.effects("classify"));
    assertEquals(INPUTS, Review.effects("reply"));

    export = dir.resolve("export.jsonl");
    TestServer.run(
        List.of(
            "sh",
            "-c",
            TestServer.buildDir().resolve("client/actionjournal-cli") + " --target " + server.target
                + " export --job " + JOB + " --payloads > " + export));
    assertEquals(INPUTS, Files.readAllLines(export).size());
  }

  @AfterAll
  static void stop() {
    if (server != null) server.close();
  }

  /** Collects the job's output (one JVM: the MiniCluster runs in the test's). */
  static final class Collect implements MapFunction<Object, String> {
    @Override
    public String map(Object value) {
      OUTPUT.add(String.valueOf(value));
      return String.valueOf(value);
    }
  }

  /** What a replay must leave as it found: the side effects, and the journal's write count. */
  private static final class Untouched {
    final int effects = Review.effects();
    final String stats = stats();

    void check() {
      assertEquals(effects, Review.effects(), "a replay ran a side effect");
      assertEquals(stats, stats(), "a replay wrote to the journal");
    }

    static String stats() {
      try (GrpcJournalClient c = new GrpcJournalClient(server.target)) {
        return c.listRecords(ListRecordsRequest.newBuilder().setJobId(JOB).setPageSize(100).build())
            .getRecordsList()
            .toString();
      }
    }
  }

  @Test
  void theRecordedVersionReplaysIdentically() throws Exception {
    Untouched before = new Untouched();
    ReplayReport fromExport = Replayer.forAgent(new ReviewAgentA()).replay(Replayer.fromExport(export));
    ReplayReport live;
    try (GrpcJournalClient c = new GrpcJournalClient(server.target)) {
      live = Replayer.forAgent(new ReviewAgentA()).replay(Replayer.fromJournal(c, JOB, ""));
    }
    before.check();
    for (ReplayReport r : List.of(fromExport, live)) {
      assertEquals(INPUTS, r.checked(), r.text());
      assertEquals(INPUTS, r.count(ReplayReport.Status.IDENTICAL), r.text());
      assertEquals(0, r.exitCode());
    }
  }

  @Test
  void aChangedPromptIsReportedAtItsCallAndNothingRuns() throws Exception {
    Untouched before = new Untouched();
    ReplayReport r = Replayer.forAgent(new ReviewAgentB()).replay(Replayer.fromExport(export));
    before.check();
    assertEquals(INPUTS, r.count(ReplayReport.Status.DIVERGENT), r.text());
    assertEquals(1, r.exitCode());
    assertEquals(1, r.groups().size(), r.text());
    for (ReplayReport.Record rec : r.records) {
      Finding f = rec.first();
      assertEquals(Finding.Kind.CALL_DIFFERS, f.kind, r.text());
      assertEquals("review", f.action);
      assertEquals(1, f.index, "the reply is the action's second call");
      assertEquals("reply", f.function());
      assertTrue(f.journaledFunctionId.startsWith("reply#"), f.toString());
      assertNotEquals(f.journaledFunctionId, f.functionId, f.toString());
    }
    System.out.print(r.text());
  }

  @Test
  void aNewActionIsReportedAsWouldRunAndDoesNotRun() throws Exception {
    Untouched before = new Untouched();
    ReplayReport r = Replayer.forAgent(new ReviewAgentC()).replay(Replayer.fromExport(export));
    before.check();
    assertEquals(INPUTS, r.count(ReplayReport.Status.WOULD_RUN), r.text());
    assertEquals(0, r.exitCode(), "would-run alone is not a divergence");
    for (ReplayReport.Record rec : r.records) {
      Finding f = rec.first();
      assertEquals("audit", f.action, r.text());
      assertTrue(
          f.kind == Finding.Kind.WOULD_RUN_ACTION || f.kind == Finding.Kind.WOULD_RUN_CALL,
          f.toString());
    }
    assertTrue(
        r.records.stream()
            .flatMap(x -> x.findings.stream())
            .anyMatch(f -> f.kind == Finding.Kind.WOULD_RUN_CALL && f.function().equals("audit")),
        r.text());
  }

  @Test
  void aNewActionThatWouldRunDoesNotHideADivergenceBesideIt() throws Exception {
    Untouched before = new Untouched();
    ReplayReport r = Replayer.forAgent(new ReviewAgentE()).replay(Replayer.fromExport(export));
    before.check();
    assertEquals(INPUTS, r.count(ReplayReport.Status.DIVERGENT), r.text());
    assertEquals(1, r.exitCode());
    for (ReplayReport.Record rec : r.records) {
      assertEquals(Finding.Kind.CALL_DIFFERS, rec.first().kind, r.text());
      assertEquals("reply", rec.first().function());
      assertTrue(
          rec.findings.stream().anyMatch(f -> f.action.equals("audit")),
          "the new action is reported too: " + rec.findings);
    }
  }

  @Test
  void anOutputThatChangedIsReportedOnItsAction() throws Exception {
    Untouched before = new Untouched();
    ReplayReport r = Replayer.forAgent(new ReviewAgentD()).replay(Replayer.fromExport(export));
    before.check();
    assertEquals(INPUTS, r.count(ReplayReport.Status.DIVERGENT), r.text());
    Finding f = r.records.get(0).first();
    assertEquals(Finding.Kind.OUTPUT_DIFFERS, f.kind, r.text());
    assertEquals("review", f.action);
    assertTrue(f.detail.contains("k0:3=classify") && f.detail.contains("K0:3=CLASSIFY"), f.detail);
  }

  @Test
  void theCommandLineWritesTheJsonReportAndExitsOnDivergence() throws Exception {
    Path json = dir.resolve("b.json");
    int code =
        Replayer.run(
            new String[] {
              "--agent", ReviewAgentB.class.getName(), "--export", export.toString(), "--json",
              json.toString()
            });
    assertEquals(1, code);
    JsonNode report = new ObjectMapper().readTree(json.toFile());
    assertEquals(INPUTS, report.get("divergent").asInt());
    assertEquals(0, report.get("identical").asInt());
    JsonNode first = report.get("groups").get(0).get("first").get("findings").get(0);
    assertEquals("call_differs", first.get("kind").asText());
    assertEquals(1, first.get("index").asInt());

    assertEquals(
        0,
        Replayer.run(
            new String[] {
              "--agent", ReviewAgentA.class.getName(), "--target", server.target, "--job", JOB
            }));
    // Usage errors: 64, naming what is wrong.
    assertEquals(64, Replayer.run(new String[] {"--export", export.toString()}));
    assertEquals(
        64,
        Replayer.run(
            new String[] {"--agent", ReviewAgentA.class.getName(), "--target", server.target}));
    assertEquals(64, Replayer.run(new String[] {"--agent", "no.such.Agent", "--export", "x"}));
    assertEquals(
        2,
        Replayer.run(
            new String[] {
              "--agent", ReviewAgentA.class.getName(), "--export", dir.resolve("none").toString()
            }));
  }
}
