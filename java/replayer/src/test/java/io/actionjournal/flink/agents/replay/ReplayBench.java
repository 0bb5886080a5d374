package io.actionjournal.flink.agents.replay;

import io.actionjournal.client.GrpcJournalClient;
import io.actionjournal.client.TestServer;
import io.actionjournal.v1.GetRecordResponse;
import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * How fast the replayer checks recorded records (bench/replay_bench.sh): RECORDS records over 100
 * keys are journaled by the review agent A through Flink Agents' operator and
 * JournalActionStateStore on a real server, then replayed REPS times with A (identical) and with B
 * (every record divergent, each stopping its operator), from the live journal and from an export
 * file; RESULT lines give the median and spread of the replay's time, and the records' load apart.
 */
public final class ReplayBench {
  private ReplayBench() {}

  public static void main(String[] args) throws Exception {
    int records = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
    int reps = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    Path dir = Files.createTempDirectory("replay-bench");
    try (TestServer server = TestServer.start(dir.resolve("server"))) {
      String job = "replay-bench";
      long t0 = System.nanoTime();
      record(server.target, job, records);
      System.out.printf(
          "recorded %d records in %.1f s%n", records, (System.nanoTime() - t0) / 1e9);

      Path export = dir.resolve("export.jsonl");
      try (GrpcJournalClient c = new GrpcJournalClient(server.target);
          BufferedWriter out = Files.newBufferedWriter(export, StandardCharsets.UTF_8)) {
        for (GetRecordResponse r : Replayer.fromJournal(c, job, "").read()) {
          out.write(com.google.protobuf.util.JsonFormat.printer().omittingInsignificantWhitespace().print(r));
          out.write('\n');
        }
      }
      try (GrpcJournalClient c = new GrpcJournalClient(server.target)) {
        run("live", "A", records, reps, () -> Replayer.forAgent(new ReviewAgentA()).replay(Replayer.fromJournal(c, job, "")));
      }
      run("export", "A", records, reps, () -> Replayer.forAgent(new ReviewAgentA()).replay(Replayer.fromExport(export)));
      run("export", "B", records, reps, () -> Replayer.forAgent(new ReviewAgentB()).replay(Replayer.fromExport(export)));
      // The load alone: reading and parsing the export.
      List<Double> load = new ArrayList<>();
      for (int i = 0; i < reps; i++) {
        long s = System.nanoTime();
        Replayer.fromExport(export).read();
        load.add((System.nanoTime() - s) / 1e9);
      }
      System.out.printf("RESULT replay source=export phase=load records=%d seconds_median=%.2f min=%.2f max=%.2f%n",
          records, median(load), Collections.min(load), Collections.max(load));
    }
  }

  interface Replay {
    ReplayReport run() throws Exception;
  }

  private static void run(String source, String agent, int records, int reps, Replay replay) throws Exception {
    List<Double> secs = new ArrayList<>();
    ReplayReport last = null;
    for (int i = 0; i < reps; i++) {
      long s = System.nanoTime();
      last = replay.run();
      secs.add((System.nanoTime() - s) / 1e9);
    }
    double m = median(secs);
    System.out.printf(
        "RESULT replay source=%s agent=%s records=%d checked=%d identical=%d divergent=%d seconds_median=%.2f min=%.2f max=%.2f records_per_s=%.0f reps=%d%n",
        source, agent, records, last.checked(), last.count(ReplayReport.Status.IDENTICAL),
        last.count(ReplayReport.Status.DIVERGENT), m, Collections.min(secs), Collections.max(secs),
        records / m, reps);
  }

  private static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    Collections.sort(s);
    return s.get(s.size() / 2);
  }

  /** Journals {@code n} records with agent A, as a task does (prune none: the journal keeps all). */
  static void record(String target, String job, int n) throws Exception {
    try (JournalTask t =
        new JournalTask(
            target,
            new ReviewAgentA(),
            Map.of("actionjournal.job-id", job, "actionjournal.prune", "none"))) {
      for (int i = 1; i <= n; i++) t.run("k" + (i % 100) + ":" + i);
    }
  }
}
