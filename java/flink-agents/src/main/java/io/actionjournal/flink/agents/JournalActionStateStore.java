package io.actionjournal.flink.agents;

import com.google.protobuf.ByteString;
import io.actionjournal.client.GrpcJournalClient;
import io.actionjournal.client.Journal;
import io.actionjournal.client.JournalClient;
import io.actionjournal.client.JournalException;
import io.actionjournal.client.RetryOptions;
import io.actionjournal.v1.ActionEntries;
import io.actionjournal.v1.AppendActionRequest;
import io.actionjournal.v1.AppendActionResponse;
import io.actionjournal.v1.AppendOutcome;
import io.actionjournal.v1.BeginRecordRequest;
import io.actionjournal.v1.BeginRecordResponse;
import io.actionjournal.v1.Completion;
import io.actionjournal.v1.ConflictPolicy;
import io.actionjournal.v1.PruneRequest;
import io.actionjournal.v1.RecordId;
import io.actionjournal.v1.Step;
import io.actionjournal.v1.StepStatus;
import java.io.Serializable;
import java.util.ArrayDeque;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.plan.actions.Action;
import org.apache.flink.agents.runtime.actionstate.ActionState;
import org.apache.flink.agents.runtime.actionstate.ActionStateSerde;
import org.apache.flink.agents.runtime.actionstate.ActionStateStore;
import org.apache.flink.agents.runtime.actionstate.ActionStateUtil;
import org.apache.flink.agents.runtime.actionstate.CallResult;

/**
 * Flink Agents' {@link ActionStateStore} on actionjournal, as the runtime calls it
 * (DurableExecutionManager, RunnerContextImpl):
 *
 * <ul>
 *   <li>{@code get} before an action, and again at its end; {@code put} of a fresh, empty state
 *       when get found none; {@code put} of partial states while the action runs, each with the
 *       call results of its durable calls so far (a PENDING one before a call, a finished one
 *       after); {@code put} of the completed state (memory updates, output events) at the end.
 *   <li>Partial states are journaled as the action's steps (one per call result, the argument
 *       digest as the step's args_digest), so a replay skips every finished call; the completed
 *       state is the action's completion, serialized by Flink Agents' own {@link
 *       ActionStateSerde}. First writer wins: a second, different completed state is not stored,
 *       and {@code get} hands back the first.
 *   <li>{@code pruneState} after every completed checkpoint, per key: queued and sent in the
 *       background, many keys per Prune; it never throws or blocks the task, and what failed is
 *       sent with the next one (see {@link JournalStoreOptions.PruneMode}).
 *   <li>{@code getRecoveryMarker} at each checkpoint and {@code rebuildState} at restore: the
 *       marker names the job and the attempt; a restore raises the attempt above every marker's, so
 *       a zombie writer of the old attempt is fenced.
 * </ul>
 *
 * <p>A record is (job, {@code String.valueOf(key)}, seqNum): the runtime passes {@code
 * key.toString()} to one {@code get} and the key itself elsewhere, so typed keys must meet as
 * strings (1L and "1" are one key). An action is the event's identity as Flink Agents defines it
 * ({@link ActionStateUtil#generateKey}: a UUID of its attributes) and the action's name: two events
 * with equal attributes are one event for every Flink Agents store, this one included.
 *
 * <p>Serializable: it travels inside the operator factory; the connection opens on first use in
 * the TaskManager. Thread-safe (calls are serialized): durable calls may put from other threads.
 */
public final class JournalActionStateStore implements ActionStateStore, Serializable {
  private static final long serialVersionUID = 1L;
  private static final System.Logger LOG =
      System.getLogger(JournalActionStateStore.class.getName());
  // Records whose journal this JVM has read (one BeginRecord each); a record evicted is read again.
  private static final int MAX_CACHED_RECORDS = 1024;
  // The server's default --max-prune-keys.
  private static final int MAX_PRUNE_KEYS = 10_000;
  private static final int MAX_ACTION_KEY_BYTES = 512;

  private final JournalStoreOptions options;
  private transient Journal journal;
  private transient boolean ownsJournal;
  private transient long attempt;
  private transient Map<RecordId, Map<String, Known>> records;
  private transient Map<String, Long> prunes;
  private transient ExecutorService pruner;
  private transient boolean pruneQueued;
  // Prune mode DELAYED: checkpoints taken (getRecoveryMarker calls), and the bounds each
  // checkpoint's completion asked for, oldest first, until pruneDelay later ones completed.
  private transient long checkpoints;
  private transient Deque<Held> held;

  /** The prunes one completed checkpoint asked for, held in prune mode DELAYED. */
  private static final class Held {
    final long checkpoint;
    final Map<String, Long> bounds = new LinkedHashMap<>();

    Held(long checkpoint) {
      this.checkpoint = checkpoint;
    }
  }

  /** What this JVM knows to be journaled for one action. */
  private static final class Known {
    final List<Step> steps = new ArrayList<>();
    byte[] completion;
  }

  /** The store that opens its own client (gRPC or JNI, by the options) on first use. */
  public JournalActionStateStore(JournalStoreOptions options) {
    this.options = Objects.requireNonNull(options, "options");
  }

  /** Over a client the caller owns and closes (shared by several stores, or a test's). */
  public JournalActionStateStore(JournalStoreOptions options, Journal journal) {
    this(options);
    init(Objects.requireNonNull(journal, "journal"), false);
  }

  /** From system properties, then the environment (keys in {@link JournalStoreOptions}). */
  public static JournalActionStateStore fromEnvironment() {
    Map<String, String> props = new HashMap<>();
    System.getProperties().forEach((k, v) -> props.put(String.valueOf(k), String.valueOf(v)));
    return new JournalActionStateStore(JournalStoreOptions.fromMap(props, System.getenv()));
  }

  @Override
  public synchronized void put(Object key, long seqNum, Action action, Event event, ActionState state)
      throws Exception {
    Objects.requireNonNull(state, "state");
    open();
    RecordId record = record(key, seqNum);
    String actionKey = actionKey(key, seqNum, action, event);
    Known known = load(record).computeIfAbsent(actionKey, k -> new Known());
    if (state.isCompleted()) {
      putCompleted(record, actionKey, action, state, known);
    } else {
      putCalls(record, actionKey, state.getCallResults(), known);
    }
  }

  @Override
  public synchronized ActionState get(Object key, long seqNum, Action action, Event event)
      throws Exception {
    open();
    RecordId record = record(key, seqNum);
    Known known = load(record).get(actionKey(key, seqNum, action, event));
    if (known == null) return null;
    if (known.completion != null) return ActionStateSerde.deserialize(known.completion);
    List<CallResult> calls = new ArrayList<>();
    for (Step s : known.steps) calls.add(toCallResult(s));
    return new ActionState(event, null, null, null, calls, false);
  }

  @Override
  public synchronized void rebuildState(List<Object> recoveryMarkers) {
    Objects.requireNonNull(recoveryMarkers, "recoveryMarkers");
    open();
    String mine = markerPrefix();
    for (Object marker : recoveryMarkers) {
      String m = String.valueOf(marker);
      if (m.startsWith(mine)) {
        attempt = Math.max(attempt, Long.parseLong(m.substring(mine.length())) + 1);
      } else if (m.startsWith("actionjournal:")) {
        throw new IllegalStateException(
            "recovery marker " + m + " is not of job " + options.jobId + ": wrong job id?");
      }
      // Anything else is another store's marker (the job switched stores): nothing to rebuild.
    }
    // Read records again under the new attempt, which takes them over from the old one.
    records.clear();
  }

  @Override
  public synchronized void pruneState(Object key, long seqNum) {
    if (options.prune == JournalStoreOptions.PruneMode.NONE || key == null) return;
    open();
    String k = String.valueOf(key);
    records.keySet().removeIf(r -> r.getSeqNum() <= seqNum && r.getRecordKey().toStringUtf8().equals(k));
    if (options.prune == JournalStoreOptions.PruneMode.DELAYED) {
      Held last = held.peekLast();
      if (last == null || last.checkpoint != checkpoints) held.addLast(last = new Held(checkpoints));
      last.bounds.merge(k, seqNum, Math::max);
      // A checkpoint's bounds are due once pruneDelay later checkpoints have completed.
      while (held.size() > options.pruneDelay) {
        held.removeFirst().bounds.forEach((due, upTo) -> prunes.merge(due, upTo, Math::max));
      }
      if (prunes.isEmpty()) return;
    } else {
      prunes.merge(k, seqNum, Math::max);
    }
    if (!pruneQueued) {
      pruneQueued = true;
      pruner.execute(this::flushPrunesQuietly);
    }
  }

  @Override
  public synchronized Object getRecoveryMarker() {
    open();
    checkpoints++;
    return markerPrefix() + attempt;
  }

  /** The attempt this store writes with now (the configured one, raised by a restore). */
  public synchronized long attempt() {
    open();
    return attempt;
  }

  /**
   * Sends every queued prune now, in this thread. Returns true when nothing is left queued; false
   * when the journal could not be reached (they stay queued). For shutdown and tests.
   */
  public boolean flushPrunes() {
    Map<String, Long> batch;
    synchronized (this) {
      open();
      pruneQueued = false;
      if (prunes.isEmpty()) return true;
      batch = new LinkedHashMap<>(prunes);
    }
    // The call runs outside the lock: a journal that is away must not stall get and put.
    Iterator<Map.Entry<String, Long>> it = batch.entrySet().iterator();
    while (it.hasNext()) {
      PruneRequest.Builder request = PruneRequest.newBuilder().setJobId(options.jobId);
      Map<String, Long> sent = new HashMap<>();
      while (it.hasNext() && request.getKeysCount() < MAX_PRUNE_KEYS) {
        Map.Entry<String, Long> e = it.next();
        request.addKeys(
            PruneRequest.KeyUpTo.newBuilder()
                .setRecordKey(ByteString.copyFromUtf8(e.getKey()))
                .setUpToSeqNum(e.getValue()));
        sent.put(e.getKey(), e.getValue());
      }
      try {
        journal.prune(request.build());
      } catch (JournalException e) {
        LOG.log(
            System.Logger.Level.WARNING,
            "actionjournal: prune of " + batch.size() + " key(s) failed, retried with the next"
                + " checkpoint: " + e.getMessage());
        return false;
      }
      synchronized (this) {
        // Only what was sent: a key whose bound rose meanwhile stays for the next flush.
        sent.forEach((k, v) -> prunes.remove(k, v));
      }
    }
    synchronized (this) {
      return prunes.isEmpty();
    }
  }

  @Override
  public void close() {
    ExecutorService p;
    synchronized (this) {
      if (journal == null) return;
      p = pruner;
    }
    p.shutdown();
    try {
      p.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    synchronized (this) {
      if (ownsJournal) journal.close();
      journal = null;
    }
  }

  private void flushPrunesQuietly() {
    try {
      flushPrunes();
    } catch (RuntimeException e) {
      // pruneState must never fail the task; what was not pruned stays queued.
      LOG.log(System.Logger.Level.WARNING, "actionjournal: prune failed", e);
    }
  }

  private void putCompleted(
      RecordId record, String actionKey, Action action, ActionState state, Known known) {
    byte[] bytes = ActionStateSerde.serialize(state);
    if (bytes.length > options.maxStateBytes) {
      throw new JournalException(
          8,
          "the completed state of action " + action.getName() + " is " + bytes.length
              + " bytes, over the journal's payload limit of " + options.maxStateBytes
              + " bytes (actionjournal.max-state-bytes, the server's --max-payload-bytes);"
              + " keep large data out of memory updates and output events");
    }
    AppendActionResponse r =
        journal.appendAction(
            request(record, actionKey)
                .setCompletion(Completion.newBuilder().setState(ByteString.copyFrom(bytes)))
                .build());
    if (r.getOutcome() == AppendOutcome.APPEND_OUTCOME_CONFLICT) {
      // Another writer completed it first; the world has seen that one, and get returns it.
      LOG.log(
          System.Logger.Level.WARNING,
          "actionjournal: action " + action.getName() + " was completed with another state"
              + " first; that state stands");
    }
    known.completion = r.getStoredCompletion().getState().toByteArray();
  }

  private void putCalls(RecordId record, String actionKey, List<CallResult> calls, Known known) {
    for (int i = 0; i < calls.size(); i++) {
      Step want = toStep(i, calls.get(i));
      if (i < known.steps.size() && known.steps.get(i).equals(want)) continue;
      AppendActionResponse r = journal.appendAction(request(record, actionKey).setStep(want).build());
      if (r.getOutcome() == AppendOutcome.APPEND_OUTCOME_CONFLICT) {
        // The runtime found the journaled call no longer matches (non-determinism) and replaced
        // it, with every later one: the state it hands us is the truth now.
        r =
            journal.appendAction(
                request(record, actionKey)
                    .setStep(want)
                    .setConflictPolicy(ConflictPolicy.CONFLICT_POLICY_REPLACE_FROM_HERE)
                    .build());
        while (known.steps.size() > i) known.steps.remove(known.steps.size() - 1);
      }
      Step stored = r.getStoredStep();
      if (i < known.steps.size()) {
        known.steps.set(i, stored);
      } else {
        known.steps.add(stored);
      }
    }
  }

  /** Reads the record's journal once (BeginRecord: fences, takes over, lists every action). */
  private Map<String, Known> load(RecordId record) {
    Map<String, Known> actions = records.get(record);
    if (actions != null) return actions;
    BeginRecordResponse r =
        journal.beginRecord(
            BeginRecordRequest.newBuilder().setRecord(record).setAttempt(attempt).build());
    actions = new HashMap<>();
    for (ActionEntries a : r.getActionsList()) {
      Known k = new Known();
      k.steps.addAll(a.getStepsList());
      if (a.hasCompletion()) k.completion = a.getCompletion().getState().toByteArray();
      actions.put(a.getActionKey(), k);
    }
    records.put(record, actions);
    return actions;
  }

  private void open() {
    if (journal != null) return;
    Journal j =
        options.transport == JournalStoreOptions.Transport.JNI
            ? new JournalClient(
                options.target,
                Duration.ofSeconds(10),
                10,
                Duration.ofSeconds(30),
                options.security)
            : new GrpcJournalClient(options.target, RetryOptions.defaults(), options.security);
    init(j, true);
  }

  private void init(Journal j, boolean owns) {
    journal = j;
    ownsJournal = owns;
    attempt = options.attempt;
    records =
        new LinkedHashMap<>(16, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<RecordId, Map<String, Known>> eldest) {
            return size() > MAX_CACHED_RECORDS;
          }
        };
    prunes = new LinkedHashMap<>();
    held = new ArrayDeque<>();
    pruner =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "actionjournal-prune");
              t.setDaemon(true);
              return t;
            });
  }

  private AppendActionRequest.Builder request(RecordId record, String actionKey) {
    return AppendActionRequest.newBuilder()
        .setRecord(record)
        .setActionKey(actionKey)
        .setAttempt(attempt);
  }

  private RecordId record(Object key, long seqNum) {
    Objects.requireNonNull(key, "key");
    return RecordId.newBuilder()
        .setJobId(options.jobId)
        .setRecordKey(ByteString.copyFromUtf8(String.valueOf(key)))
        .setSeqNum(seqNum)
        .build();
  }

  /**
   * The event's UUID as Flink Agents computes it for its own stores (from the attributes, so the
   * same in every JVM), then the action's name (stable, unlike a hash code).
   */
  static String actionKey(Object key, long seqNum, Action action, Event event) throws Exception {
    Objects.requireNonNull(action, "action");
    Objects.requireNonNull(event, "event");
    String full = ActionStateUtil.generateKey(key, seqNum, action, event);
    // key_seq_eventUuid_actionUuid; the key itself may hold '_', so count from the end.
    int last = full.lastIndexOf('_');
    String eventUuid = full.substring(full.lastIndexOf('_', last - 1) + 1, last);
    String name = action.getName();
    String k = eventUuid + "/" + name;
    if (k.getBytes(StandardCharsets.UTF_8).length > MAX_ACTION_KEY_BYTES) {
      k = eventUuid + "/sha256:" + hex(sha256(name.getBytes(StandardCharsets.UTF_8)));
    }
    return k;
  }

  private String markerPrefix() {
    return "actionjournal:" + options.jobId + ":";
  }

  private static Step toStep(int index, CallResult c) {
    Step.Builder s =
        Step.newBuilder()
            .setIndex(index)
            .setFunctionId(Objects.requireNonNull(c.getFunctionId(), "functionId"))
            .setArgsDigest(ByteString.copyFromUtf8(String.valueOf(c.getArgsDigest())));
    if (c.isPending()) {
      s.setStatus(StepStatus.STEP_STATUS_PENDING);
    } else if (c.isFailure()) {
      s.setStatus(StepStatus.STEP_STATUS_FAILED);
      if (c.getExceptionPayload() != null) s.setError(ByteString.copyFrom(c.getExceptionPayload()));
    } else {
      s.setStatus(StepStatus.STEP_STATUS_SUCCEEDED);
      if (c.getResultPayload() != null) s.setResult(ByteString.copyFrom(c.getResultPayload()));
    }
    return s.build();
  }

  private static CallResult toCallResult(Step s) {
    String digest = s.getArgsDigest().toStringUtf8();
    switch (s.getStatus()) {
      case STEP_STATUS_SUCCEEDED:
        return new CallResult(s.getFunctionId(), digest, s.getResult().toByteArray());
      case STEP_STATUS_FAILED:
        return new CallResult(s.getFunctionId(), digest, null, s.getError().toByteArray());
      default:
        return CallResult.pending(s.getFunctionId(), digest);
    }
  }

  private static byte[] sha256(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String hex(byte[] bytes) {
    StringBuilder s = new StringBuilder(bytes.length * 2);
    for (byte b : bytes) s.append(Character.forDigit((b >> 4) & 15, 16)).append(Character.forDigit(b & 15, 16));
    return s.toString();
  }
}
