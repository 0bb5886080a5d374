package io.actionjournal.flink.agents;

import io.actionjournal.client.Journal;
import io.actionjournal.v1.AppendActionRequest;
import io.actionjournal.v1.AppendActionResponse;
import io.actionjournal.v1.BeginRecordRequest;
import io.actionjournal.v1.BeginRecordResponse;
import io.actionjournal.v1.CompleteRecordRequest;
import io.actionjournal.v1.CompleteRecordResponse;
import io.actionjournal.v1.IssueAttemptRequest;
import io.actionjournal.v1.IssueAttemptResponse;
import io.actionjournal.v1.LookupActionRequest;
import io.actionjournal.v1.LookupActionResponse;
import io.actionjournal.v1.PruneRequest;
import io.actionjournal.v1.PruneResponse;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The task thread's cost of Flink Agents' pruneState at one checkpoint, for KEYS distinct keys
 * (the runtime calls it for every key the operator ever completed): the first checkpoint (every
 * bound new, all queued), a steady one (no bound moved), and one where 1% moved. The journal
 * answers at once (what the background sends is counted, not timed). Prints medians and spread
 * of REPS runs as RESULT lines. usage: PruneBench [KEYS] [REPS]
 */
public final class PruneBench {
  private PruneBench() {}

  /** Answers everything at once; counts the keys prunes carry. */
  static final class NullJournal implements Journal {
    final AtomicLong keys = new AtomicLong();

    @Override
    public BeginRecordResponse beginRecord(BeginRecordRequest r) {
      return BeginRecordResponse.getDefaultInstance();
    }

    @Override
    public AppendActionResponse appendAction(AppendActionRequest r) {
      return AppendActionResponse.getDefaultInstance();
    }

    @Override
    public LookupActionResponse lookupAction(LookupActionRequest r) {
      return LookupActionResponse.getDefaultInstance();
    }

    @Override
    public CompleteRecordResponse completeRecord(CompleteRecordRequest r) {
      return CompleteRecordResponse.getDefaultInstance();
    }

    @Override
    public PruneResponse prune(PruneRequest r) {
      keys.addAndGet(r.getKeysCount());
      return PruneResponse.getDefaultInstance();
    }

    @Override
    public IssueAttemptResponse issueAttempt(IssueAttemptRequest r) {
      return IssueAttemptResponse.newBuilder().setAttempt(1).build();
    }

    @Override
    public void close() {}
  }

  public static void main(String[] args) throws Exception {
    int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    int reps = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    String[] names = new String[keys];
    for (int k = 0; k < keys; k++) names[k] = "user-" + k;
    // The floor: the runtime's own loop per checkpoint (DurableExecutionManager iterates a
    // HashMap<Object, Long> of every key and calls pruneState), here with a no-op store call.
    java.util.HashMap<Object, Long> runtimeMap = new java.util.HashMap<>();
    for (int k = 0; k < keys; k++) runtimeMap.put(names[k], 1L);
    double[] floor = new double[reps];
    long sink = 0;
    for (int rep = 0; rep < reps; rep++) {
      long t0 = System.nanoTime();
      for (java.util.Map.Entry<Object, Long> e : runtimeMap.entrySet()) {
        sink += e.getKey().hashCode() + e.getValue();
      }
      floor[rep] = (System.nanoTime() - t0) / 1e6;
    }
    double[][] ms = new double[3][reps];
    long sent = 0;
    for (int rep = 0; rep < reps; rep++) {
      NullJournal journal = new NullJournal();
      JournalActionStateStore store =
          new JournalActionStateStore(JournalStoreOptions.forJob("bench"), journal);
      store.bindOperator("op");
      store.rebuildState(List.of());
      for (int phase = 0; phase < 3; phase++) {
        long t0 = System.nanoTime();
        // As the runtime calls it: its snapshotState takes the marker, then the checkpoint's
        // completion calls pruneState over its map's entries.
        store.getRecoveryMarker();
        int k = 0;
        for (java.util.Map.Entry<Object, Long> e : runtimeMap.entrySet()) {
          long seq = phase == 0 ? 1 : (phase == 2 && k++ % 100 == 0 ? 2 : 1);
          store.pruneState(e.getKey(), seq);
        }
        ms[phase][rep] = (System.nanoTime() - t0) / 1e6;
        store.flushPrunes();
      }
      sent = journal.keys.get();
      store.close();
    }
    Arrays.sort(floor);
    System.out.printf(
        "RESULT prune_state keys=%d runtime_loop_floor_ms_median=%.1f min=%.1f max=%.1f (%d)%n",
        keys, floor[reps / 2], floor[0], floor[reps - 1], sink & 1);
    String[] phases = {"first", "steady", "one_percent_moved"};
    for (int phase = 0; phase < 3; phase++) {
      double[] m = ms[phase].clone();
      Arrays.sort(m);
      System.out.printf(
          "RESULT prune_state keys=%d checkpoint=%s task_thread_ms_median=%.1f min=%.1f max=%.1f"
              + " reps=%d ratio_to_floor=%.1f%n",
          keys, phases[phase], m[m.length / 2], m[0], m[m.length - 1], reps,
          m[m.length / 2] / floor[reps / 2]);
    }
    System.out.printf(
        "RESULT prune_state keys=%d sent_keys_over_three_checkpoints=%d (first: all, then only"
            + " moved bounds)%n",
        keys, sent);
  }
}
