package io.actionjournal.flink.agents;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.actionjournal.client.TestServer;
import io.actionjournal.v1.ActionJournalGrpc;
import io.actionjournal.v1.GetStatsRequest;
import io.actionjournal.v1.GetStatsResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A real Flink job (Flink 2.3 MiniCluster in a JVM of its own, checkpoints on) running a real
 * Flink Agents 0.3.1 agent ({@link TwoCallAgent}, two durable calls per action) on actionjournal
 * over a real server, failing for real: the side effects are counted in a file the JVM's death
 * cannot roll back, and the job's output must hold, for every input, the one answer whose effects
 * the world saw.
 */
final class FlinkJobTest {
  private static final int INPUTS = 12;
  @TempDir static Path dir;
  private static TestServer server;
  private static int runs;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start(dir.resolve("server"));
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  /** One scenario's files and settings. */
  private static final class Run {
    final Path work;
    final Path effects;
    final Path started;
    final Path output;
    final Path checkpoints;
    final String job;
    final Map<String, String> props = new HashMap<>();

    Run(String transport) throws IOException {
      this(transport, null);
    }

    /** A run of its own, or (with {@code over}) a second job over that run's journal and world. */
    Run(String transport, Run over) throws IOException {
      work = dir.resolve("run-" + ++runs);
      Files.createDirectories(work);
      effects = over == null ? work.resolve("effects") : over.effects;
      started = work.resolve("effects.started");
      output = work.resolve("output");
      checkpoints = work.resolve("checkpoints");
      job = over == null ? "flink-job-" + runs : over.job;
      props.put("aj.target", server.target);
      props.put("aj.job", job);
      props.put("aj.transport", transport);
      props.put("aj.effects", effects.toString());
      props.put("aj.output", output.toString());
      props.put("aj.checkpoints", checkpoints.toString());
      props.put("aj.inputs", String.valueOf(INPUTS));
    }

    Process start(Map<String, String> extra) throws IOException {
      List<String> cmd = new ArrayList<>();
      cmd.add(System.getProperty("java.home") + "/bin/java");
      // Flink 1.20's Kryo reflects into these on Java 17 (as Flink's own launcher opens them).
      cmd.add("--add-opens=java.base/java.util=ALL-UNNAMED");
      cmd.add("--add-opens=java.base/java.nio=ALL-UNNAMED");
      cmd.add("--add-opens=java.base/java.lang=ALL-UNNAMED");
      cmd.add("-Dactionjournal.jni=" + TestServer.jniLibrary());
      Map<String, String> all = new HashMap<>(props);
      all.putAll(extra);
      all.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
      cmd.add("-cp");
      cmd.add(System.getProperty("java.class.path"));
      cmd.add(AgentJob.class.getName());
      return new ProcessBuilder(cmd)
          .redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(work.resolve("job.log").toFile()))
          .start();
    }

    /** Runs the job to its end; fails with its log when it fails or takes over two minutes. */
    void runToEnd(Map<String, String> extra) throws Exception {
      Process p = start(extra);
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the job did not end: " + log());
      assertEquals(0, p.exitValue(), "the job failed: " + log());
    }

    String log() throws IOException {
      String l = Files.readString(work.resolve("job.log"));
      return l.length() > 6000 ? l.substring(l.length() - 6000) : l;
    }

    List<String> lines(Path p) throws IOException {
      return Files.exists(p) ? Files.readAllLines(p, StandardCharsets.UTF_8) : List.of();
    }

    /**
     * Whether every input whose action started since the started file held {@code started}
     * lines is in the output written since it held {@code output} lines: read in that order,
     * an action that starts after the first read is not yet past its first sleep.
     */
    boolean quiet(int started, int output) throws IOException {
      List<String> begun = lines(this.started);
      List<String> answered = lines(this.output);
      java.util.Set<String> done = new java.util.HashSet<>();
      for (String line : answered.subList(Math.min(output, answered.size()), answered.size())) {
        String[] f = line.split(" ", 2);
        if (f.length == 2) done.add(f[1].split("=", 2)[0]);
      }
      return done.containsAll(begun.subList(Math.min(started, begun.size()), begun.size()));
    }

    /** How many times each (call, input) ran: "act k1:4" -> 1. */
    Map<String, Integer> effectCounts() throws IOException {
      Map<String, Integer> n = new TreeMap<>();
      for (String line : lines(effects)) {
        String[] f = line.split(" ");
        n.merge(f[0] + " " + f[1], 1, Integer::sum);
      }
      return n;
    }

    /** The nonce of each (call, input)'s effect. */
    Map<String, String> nonces() throws IOException {
      Map<String, String> n = new HashMap<>();
      for (String line : lines(effects)) {
        String[] f = line.split(" ");
        if (!f[0].equals("reconcile")) n.put(f[0] + " " + f[1], f[2]);
      }
      return n;
    }

    /**
     * Every input has exactly one distinct answer per operator (replays after a restore may
     * repeat it, never change it), and that answer is the one whose effects ran.
     */
    void assertOutputsAreWhatTheWorldSaw(List<String> operators) throws IOException {
      Map<String, String> answers = new TreeMap<>();
      for (String line : lines(output)) {
        String[] f = line.split(" ", 2);
        String[] io = f[1].split("=", 2);
        String key = f[0] + " " + io[0];
        String before = answers.putIfAbsent(key, io[1]);
        assertTrue(before == null || before.equals(io[1]), key + " answered twice: " + before
            + " and " + io[1]);
      }
      assertEquals(INPUTS * operators.size(), answers.size(), "answers: " + answers);
      if (operators.size() == 1) {
        Map<String, String> nonces = nonces();
        answers.forEach(
            (key, answer) -> {
              String input = key.split(" ")[1];
              assertEquals(
                  "plan:" + nonces.get("plan " + input) + ",act:" + nonces.get("act " + input),
                  answer,
                  key);
            });
      }
    }

    /** The newest complete checkpoint; Flink deletes subsumed ones while this looks. */
    Optional<Path> latestCheckpoint() throws IOException {
      List<Path> all = completeCheckpoints();
      return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
    }

    /** The complete checkpoints, oldest first. */
    List<Path> completeCheckpoints() throws IOException {
      for (int tries = 0; ; tries++) {
        if (!Files.exists(checkpoints)) return List.of();
        try (Stream<Path> s = Files.walk(checkpoints, 2)) {
          return s.filter(p -> p.getFileName().toString().startsWith("chk-"))
              .filter(p -> Files.exists(p.resolve("_metadata")))
              .sorted(Comparator.comparingInt(FlinkJobTest::number))
              .collect(java.util.stream.Collectors.toList());
        } catch (UncheckedIOException | NoSuchFileException e) {
          if (tries == 10) throw e;
        }
      }
    }

    /**
     * Starts the job and SIGKILLs it at a quiet moment (every action it started has answered, so
     * no call is between its effect and its journal entry) once {@code ready} holds.
     */
    void killWhenQuiet(Map<String, String> extra, java.util.function.BooleanSupplier ready)
        throws Exception {
      int startedBefore = lines(started).size();
      int outputBefore = lines(output).size();
      Map<String, String> all = new HashMap<>(extra);
      // A paced source and time before each call, so that a kill right after a quiet moment
      // lands before the next action's first effect.
      all.putIfAbsent("aj.source-ms", "500");
      all.put("aj.action-ms", "200");
      Process p = start(all);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      while (p.isAlive() && System.nanoTime() < deadline) {
        if (ready.getAsBoolean() && quiet(startedBefore, outputBefore)) break;
        Thread.sleep(10);
      }
      p.destroyForcibly(); // SIGKILL (a run that ended meanwhile has nothing to kill)
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static int number(Path checkpoint) {
    return Integer.parseInt(checkpoint.getFileName().toString().substring(4));
  }

  private static String input(int i) {
    return "k" + (i % 3) + ":" + i;
  }

  /** Each input's plan and act ran once; the listed inputs' act also went through reconcile. */
  private static void assertEachEffectOnce(Run run, List<String> reconciled) throws IOException {
    Map<String, Integer> counts = run.effectCounts();
    for (int i = 1; i <= INPUTS; i++) {
      assertEquals(1, counts.getOrDefault("plan " + input(i), 0), "plan " + input(i) + ": " + counts);
      assertEquals(1, counts.getOrDefault("act " + input(i), 0), "act " + input(i) + ": " + counts);
      assertEquals(
          reconciled.contains(input(i)) ? 1 : 0,
          counts.getOrDefault("reconcile " + input(i), 0),
          "reconcile " + input(i) + ": " + counts);
    }
  }

  @Test
  void aRunWithoutFailuresRunsEachCallOnce() throws Exception {
    Run run = new Run("grpc");
    run.runToEnd(Map.of());
    assertEachEffectOnce(run, List.of());
    run.assertOutputsAreWhatTheWorldSaw(List.of("agent-a"));
  }

  /** Scenario a: an Error inside the job while act is PENDING; Flink restarts from a checkpoint. */
  @ParameterizedTest
  @ValueSource(strings = {"grpc", "jni"})
  void aFailureInsideTheJobReplaysFinishedCallsAndReconcilesThePendingOne(String transport)
      throws Exception {
    Run run = new Run(transport);
    run.runToEnd(Map.of("aj.fault", "error:" + input(7)));
    assertTrue(Files.exists(Path.of(run.effects + ".faulted")), "the fault never fired");
    assertEachEffectOnce(run, List.of(input(7)));
    run.assertOutputsAreWhatTheWorldSaw(List.of("agent-a"));
  }

  /**
   * Runs the job until input {@code i}'s act has had its effect and hangs (PENDING in the
   * journal), SIGKILLs it there, and returns the newest checkpoint completed before.
   */
  private static Path killedInsideAct(Run run, int i) throws Exception {
    Process first = run.start(Map.of("aj.fault", "hang:" + input(i), "aj.source-ms", "250"));
    Path hung = Path.of(run.effects + ".hung");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (!Files.exists(hung) && System.nanoTime() < deadline && first.isAlive()) Thread.sleep(50);
    assertTrue(Files.exists(hung), "the job never reached input " + i + ": " + run.log());
    Optional<Path> checkpoint = run.latestCheckpoint();
    assertTrue(checkpoint.isPresent(), "no completed checkpoint before the kill: " + run.log());
    TestServer.run(List.of("kill", "-9", String.valueOf(first.pid())));
    first.waitFor(10, TimeUnit.SECONDS);
    return checkpoint.get();
  }

  /** Scenario b: SIGKILL mid-action; a new JVM restores from the retained checkpoint. */
  @ParameterizedTest
  @ValueSource(strings = {"grpc", "jni"})
  void processDeathMidActionRestoresWithoutRunningFinishedCallsAgain(String transport)
      throws Exception {
    Run run = new Run(transport);
    Path checkpoint = killedInsideAct(run, 9);
    run.runToEnd(Map.of("aj.restore", checkpoint.toString()));
    assertEachEffectOnce(run, List.of(input(9)));
    run.assertOutputsAreWhatTheWorldSaw(List.of("agent-a"));
  }

  /**
   * Strict mode on a real restore: the job is SIGKILLed while act is PENDING for input 9, and a
   * new JVM restores its checkpoint with another version of the agent, whose second call has
   * another id. With on-divergence=fail the job fails with the DivergenceException and nothing
   * runs for input 9 (neither the new call nor the reconciler); with truncate, Flink Agents'
   * way, the journaled PENDING call is dropped and the new one runs.
   */
  @ParameterizedTest
  @ValueSource(strings = {"fail", "truncate"})
  void aRestoreWhoseInFlightCallChangedFailsOnlyInStrictMode(String onDivergence)
      throws Exception {
    Run run = new Run("grpc");
    Path checkpoint = killedInsideAct(run, 9);
    Map<String, String> restore =
        Map.of(
            "aj.restore", checkpoint.toString(),
            "aj.act-id", "act-v2",
            "aj.on-divergence", onDivergence);
    String nine = input(9);
    if (onDivergence.equals("fail")) {
      Process p = run.start(restore);
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the job did not end: " + run.log());
      String log = Files.readString(run.work.resolve("job.log"));
      assertTrue(p.exitValue() != 0, "the job should have failed: " + run.log());
      assertTrue(
          log.contains("DivergenceException")
              && log.contains("diverged from its journal at durable call 1")
              && log.contains("the journal holds act (args digest \"\"), the code now calls"
                  + " act-v2"),
          run.log());
      Map<String, Integer> counts = run.effectCounts();
      assertEquals(1, counts.getOrDefault("act " + nine, 0), counts.toString());
      assertEquals(0, counts.getOrDefault("act-v2 " + nine, 0), "the changed call ran: " + counts);
      assertEquals(0, counts.getOrDefault("reconcile " + nine, 0), counts.toString());
    } else {
      run.runToEnd(restore);
      Map<String, Integer> counts = run.effectCounts();
      assertEquals(1, counts.getOrDefault("act " + nine, 0), counts.toString());
      assertEquals(1, counts.getOrDefault("act-v2 " + nine, 0), "truncate runs it: " + counts);
      assertEquals(0, counts.getOrDefault("reconcile " + nine, 0), counts.toString());
    }
  }

  /**
   * Scenario c: a rollback. Three runs, each SIGKILLed after a checkpoint of its own and each
   * restored from the last one's newest checkpoint; then the first run's checkpoint again. The job runs to its end (no attempt
   * below what records hold), and nothing that finished runs again.
   */
  @Test
  void aRollbackToAnOlderCheckpointAfterTwoRestoresRunsOn() throws Exception {
    Run run = new Run("grpc");
    List<Path> taken = new ArrayList<>();
    String restore = "";
    int newest = 0;
    for (int restart = 0; restart < 3; restart++) {
      // Prune mode none, as for any job that may roll back: with "checkpoint", the records
      // the later runs' checkpoints pruned run again on the rollback (documented; seen here).
      Map<String, String> extra = new HashMap<>(Map.of("aj.prune", "none"));
      if (!restore.isEmpty()) extra.put("aj.restore", restore);
      // Killed once this run completed a checkpoint of its own and ran a call more.
      final int before = newest;
      final int[] calls = {-1};
      run.killWhenQuiet(
          extra,
          () -> {
            try {
              int n = run.latestCheckpoint().map(FlinkJobTest::number).orElse(0);
              if (n > before && calls[0] < 0) calls[0] = run.lines(run.effects).size();
              return calls[0] >= 0 && run.lines(run.effects).size() > calls[0];
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          });
      Path cp = run.latestCheckpoint().orElseThrow(() -> new AssertionError("no checkpoint"));
      newest = number(cp);
      taken.add(cp);
      restore = cp.toString();
    }
    run.runToEnd(Map.of("aj.restore", taken.get(0).toString(), "aj.prune", "none"));
    Map<String, Integer> counts = run.effectCounts();
    for (int i = 1; i <= INPUTS; i++) {
      assertEquals(1, counts.getOrDefault("plan " + input(i), 0), "plan " + input(i) + ": " + counts);
      assertEquals(1, counts.getOrDefault("act " + input(i), 0), "act " + input(i) + ": " + counts);
    }
    run.assertOutputsAreWhatTheWorldSaw(List.of("agent-a"));
  }

  /**
   * Scenario d: a key's records arrive in another order than the journal holds them (a second
   * run of the job over the same journal, with k0's inputs 3 and 6 swapped). Its first record
   * misses, so none of its later ones is answered from a completion of the other history: every
   * k0 input runs again, input 9 too although it comes at the same sequence number with the same
   * event; the other keys replay from the journal and run nothing.
   */
  @Test
  void aKeyReplayedInAnotherOrderIsNotAnsweredFromTheOtherHistory() throws Exception {
    Run first = new Run("grpc");
    first.runToEnd(Map.of("aj.prune", "none"));
    Run second = new Run("grpc", first);
    second.runToEnd(Map.of("aj.prune", "none", "aj.swap", "3,6"));
    Map<String, Integer> counts = first.effectCounts(); // both runs' effects, one world
    for (int i = 1; i <= INPUTS; i++) {
      int times = i % 3 == 0 ? 2 : 1;
      assertEquals(times, counts.getOrDefault("plan " + input(i), 0), "plan " + input(i) + ": " + counts);
      assertEquals(times, counts.getOrDefault("act " + input(i), 0), "act " + input(i) + ": " + counts);
    }
    // The second run's answers: k0's from its own calls, the others' the first run's.
    second.assertOutputsAreWhatTheWorldSaw(List.of("agent-a"));
  }

  /**
   * Scenario f, a restore: in prune mode delayed (10 checkpoints) a restore from an older
   * checkpoint than the newest replays from the journal what ran after it: nothing runs twice.
   * (In prune mode checkpoint the records pruned since then would run again.)
   */
  @Test
  void aRestoreFromAnOlderCheckpointInDelayedModeReplaysFromTheJournal() throws Exception {
    Run run = new Run("grpc");
    Map<String, String> delayed = Map.of("aj.prune", "delayed", "aj.prune-delay", "10");
    // Killed once 6 inputs have answered, past enough checkpoints to pick an older one.
    run.killWhenQuiet(
        delayed,
        () -> {
          try {
            return run.lines(run.output).size() >= 6 && run.completeCheckpoints().size() >= 8;
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
    List<Path> taken = run.completeCheckpoints();
    assertTrue(taken.size() >= 8, "checkpoints: " + taken);
    // The 8th newest: about 1.5 s of records ran after it, their bounds still held.
    Path older = taken.get(taken.size() - 8);
    Map<String, String> restore = new HashMap<>(delayed);
    restore.put("aj.restore", older.toString());
    run.runToEnd(restore);
    assertEachEffectOnce(run, List.of());
    run.assertOutputsAreWhatTheWorldSaw(List.of("agent-a"));
    // Some answered input came again after the restore: it was replayed, not skipped.
    Map<String, Integer> answers = new HashMap<>();
    for (String line : run.lines(run.output)) answers.merge(line.split("=", 2)[0], 1, Integer::sum);
    assertTrue(answers.containsValue(2), "no input answered before the kill was replayed: " + answers);
  }

  /** Scenario e: two agent operators with the same store settings in one job stay apart. */
  @Test
  void twoAgentOperatorsWithOneStoreConfigurationStayApart() throws Exception {
    Run run = new Run("grpc");
    run.runToEnd(Map.of("aj.operators", "2"));
    Map<String, Integer> counts = run.effectCounts();
    for (int i = 1; i <= INPUTS; i++) {
      // Each operator ran its own calls: with one namespace the second would replay the first's.
      assertEquals(2, counts.getOrDefault("plan " + input(i), 0), "plan " + input(i) + ": " + counts);
      assertEquals(2, counts.getOrDefault("act " + input(i), 0), "act " + input(i) + ": " + counts);
    }
    run.assertOutputsAreWhatTheWorldSaw(List.of("agent-a", "agent-b"));
  }

  /** Scenario f: what each prune mode leaves on the server once the job's checkpoints completed. */
  @Test
  void pruneModesAreSeenOnTheServer() throws Exception {
    Run none = new Run("grpc");
    none.runToEnd(Map.of("aj.prune", "none"));
    Run checkpoint = new Run("grpc");
    checkpoint.runToEnd(Map.of("aj.prune", "checkpoint", "aj.action-ms", "100"));
    assertEquals(INPUTS, records(none.job), "prune none keeps every record");
    long left = records(checkpoint.job);
    assertTrue(left < INPUTS, "prune on checkpoint deleted nothing: " + left + " left");
  }

  private static long records(String job) {
    ManagedChannel channel = ManagedChannelBuilder.forTarget(server.target).usePlaintext().build();
    try {
      GetStatsResponse r =
          ActionJournalGrpc.newBlockingStub(channel)
              .getStats(GetStatsRequest.newBuilder().setJobId(job).build());
      return r.getJobsCount() == 0 ? 0 : r.getJobs(0).getRecords();
    } finally {
      channel.shutdownNow();
    }
  }

}
