package io.actionjournal.flink.agents;

import com.google.protobuf.ByteString;
import io.actionjournal.client.JniJournalClient;
import io.actionjournal.client.Journal;
import io.actionjournal.client.JournalException;
import io.actionjournal.v1.ActionEntries;
import io.actionjournal.v1.AppendActionRequest;
import io.actionjournal.v1.AppendActionResponse;
import io.actionjournal.v1.AppendOutcome;
import io.actionjournal.v1.BeginRecordRequest;
import io.actionjournal.v1.BeginRecordResponse;
import io.actionjournal.v1.Completion;
import io.actionjournal.v1.ConflictPolicy;
import io.actionjournal.v1.IssueAttemptRequest;
import io.actionjournal.v1.PruneRequest;
import io.actionjournal.v1.RecordId;
import io.actionjournal.v1.RecordStatus;
import io.actionjournal.v1.Step;
import io.actionjournal.v1.StepStatus;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.plan.actions.Action;
import org.apache.flink.agents.runtime.actionstate.ActionState;
import org.apache.flink.agents.runtime.actionstate.ActionStateSerde;
import org.apache.flink.agents.runtime.actionstate.ActionStateStore;
import org.apache.flink.agents.runtime.actionstate.ActionStateUtil;
import org.apache.flink.agents.runtime.actionstate.CallResult;

/**
 * Flink Agents' {@link ActionStateStore} on actionjournal, as Flink Agents 0.3.1's runtime calls it
 * (ActionExecutionOperator, DurableExecutionManager, RunnerContextImpl):
 *
 * <ul>
 *   <li>{@code rebuildState} when the operator's state is initialized, at every start and restore
 *       of the task: the store asks the journal for a fresh attempt (IssueAttempt), above every
 *       attempt the job ever used, so writers of any earlier run, including one restored from a
 *       newer savepoint than this one, are fenced, and this one is never fenced by them.
 *   <li>{@code get} before an action, and again at its end; {@code put} of a fresh, empty state
 *       when get found none; {@code put} of partial states while the action runs, each with the
 *       call results of its durable calls so far (a PENDING one before a call with a reconciler, a
 *       finished one after); {@code put} of the completed state (memory updates, output events) at
 *       the end. An action between its first put and its completed one is pinned in memory, so its
 *       get at the end never comes back empty.
 *   <li>Partial states are journaled as the action's steps (one per call result, the argument
 *       digest as the step's args_digest), so a replay skips every finished call; the completed
 *       state is the action's completion, serialized by Flink Agents' own {@link
 *       ActionStateSerde}. First writer wins: a second, different completed state is not stored,
 *       and {@code get} hands back the first. A completion this version of Flink Agents cannot
 *       read fails the action with a message that says what to do (docs/flink.md). With {@code
 *       actionjournal.on-divergence=fail} the journaled calls {@code get} hands back stop the
 *       action with a {@link DivergenceException} before a call that does not match them runs.
 *   <li>After a miss (an action the journal has no entry for, on a record the journal knew, or on
 *       any record after a restore), every later sequence number of that key is read with a reset
 *       (ActionStateStore's contract): those records were written by another history, and are
 *       dropped and journaled afresh instead of answered.
 *   <li>{@code pruneState} after every completed checkpoint, for every key the operator ever
 *       completed: one hash and one probe per key whose bound did not move; the others are queued
 *       and sent in the background, many keys per Prune; it never throws or blocks the task, and
 *       what failed is sent with the next one (see {@link JournalStoreOptions.PruneMode}).
 * </ul>
 *
 * <p>A record is (job, namespace + "/" + {@code String.valueOf(key)}, seqNum). The namespace is the
 * operator's ID, so two agent operators of one job never share records; the runtime passes {@code
 * key.toString()} to one {@code get} and the key itself elsewhere, so typed keys meet as strings.
 * An action is the event's identity as Flink Agents defines it ({@link ActionStateUtil#generateKey}:
 * a UUID of its attributes) and the action's name.
 *
 * <p>Serializable: it travels inside the operator factory; each task's copy opens its own
 * connection. Thread-safe (calls are serialized).
 */
public final class JournalActionStateStore implements ActionStateStore, Serializable {
  private static final long serialVersionUID = 2L;
  private static final System.Logger LOG =
      System.getLogger(JournalActionStateStore.class.getName());
  // Records whose journal this task has read (one BeginRecord each); a record evicted is read again.
  private static final int MAX_CACHED_RECORDS = 1024;
  // The server's default --max-prune-keys.
  private static final int MAX_PRUNE_KEYS = 10_000;
  private static final long FLUSH_DELAY_MS = 100;
  private static final int MAX_ACTION_KEY_BYTES = 512;
  private static final long NEVER = Long.MAX_VALUE;

  private final JournalStoreOptions options;
  private transient Journal journal;
  private transient boolean ownsJournal;
  private transient String namespace;
  private transient long attempt;
  private transient boolean restored;
  private transient Map<RecordId, Loaded> records;
  // Records with an action between its first put and its completed one: never evicted.
  private transient Map<RecordId, Loaded> inFlight;
  // Per key (hash of the record key): the lowest sequence number that missed.
  private transient KeyBounds missedAt;
  private transient long resets;
  // Prunes the task thread queued, not yet taken by the sender; and those the sender took but
  // could not send (record keys built), sent with the next flush.
  private transient KeyQueue queued;
  private transient Map<String, Long> unsent;
  // Per key: the highest prune bound queued (or, in DELAYED, held); lower ones are not sent again.
  private transient KeyBounds pruneBounds;
  // The last checkpoint's pruneState calls in order, to skip the hash and probe of most of them.
  private transient LastPass lastPass;
  private transient ScheduledExecutorService pruner;
  private transient Object flushing;
  private transient String hashedNamespace;
  private transient long namespaceHash;
  private transient boolean pruneQueued;
  // Prune mode DELAYED: checkpoints taken (getRecoveryMarker calls), and the bounds each
  // checkpoint's completion asked for, oldest first, until pruneDelay later ones completed.
  private transient long checkpoints;
  private transient Deque<Held> held;

  /** The prunes one completed checkpoint asked for, held in prune mode DELAYED. */
  private static final class Held {
    final long checkpoint;
    final KeyQueue bounds = new KeyQueue();

    Held(long checkpoint) {
      this.checkpoint = checkpoint;
    }
  }

  /** One record as read from the journal, with what this task wrote since. */
  private static final class Loaded {
    final boolean wasNew;
    final Map<String, Known> actions = new HashMap<>();
    int inFlight;

    Loaded(boolean wasNew) {
      this.wasNew = wasNew;
    }
  }

  /** What this task knows to be journaled for one action. */
  private static final class Known {
    final List<Step> steps = new ArrayList<>();
    byte[] completion;
    boolean pinned;
  }

  /**
   * The store that opens its client in the task, by the options: over gRPC the one client its JVM
   * shares for that target and security (one connection per TaskManager, appends of its subtasks
   * coalesced), over JNI one of its own.
   */
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

  /** The options this store was made with. */
  public JournalStoreOptions options() {
    return options;
  }

  /**
   * Binds the namespace to the operator's ID unless the options fix one; {@link
   * JournalOperatorFactory} calls it in the task, before the operator is created.
   */
  synchronized void bindOperator(String operatorId) {
    if (options.namespace == null) namespace = Objects.requireNonNull(operatorId, "operatorId");
  }

  @Override
  public synchronized void put(Object key, long seqNum, Action action, Event event, ActionState state)
      throws Exception {
    Objects.requireNonNull(state, "state");
    open();
    RecordId record = record(key, seqNum);
    String actionKey = actionKey(key, seqNum, action, event);
    Loaded loaded = load(record);
    Known known = loaded.actions.computeIfAbsent(actionKey, k -> new Known());
    if (state.isCompleted()) {
      putCompleted(record, actionKey, action, state, known);
      if (known.pinned) {
        known.pinned = false;
        if (--loaded.inFlight == 0) inFlight.remove(record);
      }
    } else {
      putCalls(record, actionKey, state.getCallResults(), known);
      if (!known.pinned) {
        known.pinned = true;
        loaded.inFlight++;
        inFlight.put(record, loaded);
      }
    }
  }

  @Override
  public synchronized ActionState get(Object key, long seqNum, Action action, Event event)
      throws Exception {
    open();
    RecordId record = record(key, seqNum);
    Loaded loaded = load(record);
    String actionKey = actionKey(key, seqNum, action, event);
    Known known = loaded.actions.get(actionKey);
    if (known == null) {
      // A miss: later sequence numbers of this key belong to another history (see the class
      // comment). On a first run's new records there is none to drop, so nothing is remembered.
      if (!loaded.wasNew || restored) {
        long h = KeyBounds.hash(record.getRecordKey().toStringUtf8());
        if (seqNum < missedAt.get(h, NEVER)) missedAt.put(h, seqNum);
      }
      return null;
    }
    if (known.completion != null) return readCompletion(record, action, known.completion);
    List<CallResult> calls = new ArrayList<>();
    for (Step s : known.steps) calls.add(checked(record, action, s.getIndex(), toCallResult(s)));
    return new ActionState(event, null, null, null, calls, false);
  }

  /** With on-divergence FAIL, {@code c} checked: a call that does not match it stops the action. */
  private CallResult checked(RecordId record, Action action, int index, CallResult c) {
    if (options.onDivergence != JournalStoreOptions.OnDivergence.FAIL) return c;
    String name = action.getName();
    return CheckedCallResult.of(
        index,
        c,
        (i, journaled, functionId, argsDigest) -> {
          throw divergence(
              record, name, i, journaled.getFunctionId(), journaled.getArgsDigest(), functionId,
              argsDigest);
        });
  }

  private static DivergenceException divergence(
      RecordId record,
      String action,
      int index,
      String journaledFunctionId,
      String journaledArgsDigest,
      String functionId,
      String argsDigest) {
    DivergenceException e =
        new DivergenceException(
            record.getJobId(),
            record.getRecordKey().toStringUtf8(),
            record.getSeqNum(),
            action,
            index,
            journaledFunctionId,
            journaledArgsDigest,
            functionId,
            argsDigest);
    LOG.log(System.Logger.Level.ERROR, e.getMessage());
    return e;
  }

  /** The action's name in its action key (eventUuid/name), for messages. */
  private static String actionName(String actionKey) {
    return actionKey.substring(actionKey.indexOf('/') + 1);
  }

  @Override
  public synchronized void rebuildState(List<Object> recoveryMarkers) {
    Objects.requireNonNull(recoveryMarkers, "recoveryMarkers");
    open();
    String job = "actionjournal:" + options.jobId + ":";
    for (Object marker : recoveryMarkers) {
      String m = String.valueOf(marker);
      if (m.startsWith("actionjournal:") && !m.startsWith(job)) {
        throw new IllegalStateException(
            "recovery marker " + m + " is not of job " + options.jobId + ": wrong job id?");
      }
      // Anything else is this job's (informational) or another store's marker (the job switched
      // stores): nothing to rebuild, the journal is read record by record.
    }
    restored = !recoveryMarkers.isEmpty();
    // A fresh attempt, above every one the job used, whatever checkpoint this restores: records
    // are read again under it, which takes them over from any earlier writer and fences it.
    attempt = issueAttempt();
    records.clear();
    inFlight.clear();
    missedAt.clear();
  }

  @Override
  public synchronized void pruneState(Object key, long seqNum) {
    if (options.prune == JournalStoreOptions.PruneMode.NONE || key == null) return;
    open();
    // Most calls: the key the last checkpoint's pass had at this place, its bound not moved.
    long last = lastPass.match(key, Long.MIN_VALUE);
    lastPass.record(key, last >= seqNum ? last : queuePrune(key, seqNum));
  }

  /** Queues the prune of {@code key} up to {@code seqNum} unless held; returns the bound held. */
  private long queuePrune(Object key, long seqNum) {
    // The record key's hash without building the record key: most keys' bounds did not move.
    String ns = namespace();
    String plain = String.valueOf(key);
    long h = KeyBounds.hash(ns == null ? KeyBounds.SEED : namespaceHash(ns), plain);
    long bound = pruneBounds.get(h, Long.MIN_VALUE);
    if (bound >= seqNum) return bound;
    pruneBounds.put(h, seqNum);
    if (options.prune == JournalStoreOptions.PruneMode.DELAYED) {
      Held last = held.peekLast();
      if (last == null || last.checkpoint != checkpoints) held.addLast(last = new Held(checkpoints));
      last.bounds.add(key, seqNum);
      // A checkpoint's bounds are due once pruneDelay later checkpoints have completed.
      while (held.size() > options.pruneDelay) queued.addAll(held.removeFirst().bounds);
      if (queued.size() == 0) return seqNum;
    } else {
      queued.add(key, seqNum);
    }
    if (!pruneQueued) {
      pruneQueued = true;
      // A while after the first key, so that a checkpoint's pass goes in a few large Prunes and
      // the sending thread does not wake for every few keys while the task thread is passing.
      pruner.schedule(this::flushPrunesQuietly, FLUSH_DELAY_MS, TimeUnit.MILLISECONDS);
    }
    return seqNum;
  }

  @Override
  public synchronized Object getRecoveryMarker() {
    open();
    checkpoints++;
    lastPass.nextPass();
    return "actionjournal:" + options.jobId + ":" + namespace() + ":" + attempt();
  }

  /** The attempt this store writes with (issued by the journal at the task's start). */
  public synchronized long attempt() {
    open();
    if (attempt == 0) attempt = issueAttempt();
    return attempt;
  }

  /** Records read with a reset since the task started (after a miss, see the class comment). */
  public synchronized long resets() {
    return resets;
  }

  /** Keys with a prune bound queued or held (what pruneState remembers; for tests, benchmarks). */
  public synchronized int prunedKeys() {
    open();
    return pruneBounds.size();
  }

  /**
   * Sends every queued prune now, in this thread. Returns true when nothing is left queued; false
   * when the journal could not be reached (they stay queued). For shutdown and tests.
   */
  public boolean flushPrunes() {
    // One flush at a time (the background one and a caller's): a caller's returns after what was
    // queued before it was sent, and no key goes twice.
    synchronized (this) {
      open();
    }
    synchronized (flushing) {
      return flushPrunesLocked();
    }
  }

  private boolean flushPrunesLocked() {
    KeyQueue taken;
    Map<String, Long> batch;
    String ns;
    synchronized (this) {
      open();
      pruneQueued = false;
      if (queued.size() == 0 && unsent.isEmpty()) return true;
      taken = queued;
      queued = new KeyQueue();
      batch = unsent;
      unsent = new LinkedHashMap<>();
      ns = namespace();
    }
    // Record keys built here, off the task thread; a key queued twice goes once, at its highest.
    for (int i = 0; i < taken.size(); i++) {
      batch.merge(recordKey(ns, taken.key(i)), taken.bound(i), Math::max);
    }
    // The calls run outside the lock: a journal that is away must not stall get and put.
    Iterator<Map.Entry<String, Long>> it = batch.entrySet().iterator();
    while (it.hasNext()) {
      PruneRequest.Builder request = PruneRequest.newBuilder().setJobId(options.jobId);
      Map<String, Long> sending = new LinkedHashMap<>();
      while (it.hasNext() && request.getKeysCount() < MAX_PRUNE_KEYS) {
        Map.Entry<String, Long> e = it.next();
        request.addKeys(
            PruneRequest.KeyUpTo.newBuilder()
                .setRecordKey(ByteString.copyFromUtf8(e.getKey()))
                .setUpToSeqNum(e.getValue()));
        sending.put(e.getKey(), e.getValue());
      }
      try {
        journal.prune(request.build());
      } catch (JournalException e) {
        LOG.log(
            System.Logger.Level.WARNING,
            "actionjournal: prune of " + batch.size() + " key(s) failed, retried with the next"
                + " checkpoint: " + e.getMessage());
        synchronized (this) {
          // What was not sent goes back, merged with what was queued since.
          sending.forEach((k, v) -> unsent.merge(k, v, Math::max));
          it.forEachRemaining(e2 -> unsent.merge(e2.getKey(), e2.getValue(), Math::max));
        }
        return false;
      }
    }
    synchronized (this) {
      return queued.size() == 0 && unsent.isEmpty();
    }
  }

  @Override
  public void close() {
    ScheduledExecutorService p;
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
      if (ownsJournal) {
        if (options.transport == JournalStoreOptions.Transport.JNI) {
          journal.close();
        } else {
          SharedClients.release(journal);
        }
      }
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

  private long issueAttempt() {
    try {
      return journal
          .issueAttempt(IssueAttemptRequest.newBuilder().setJobId(options.jobId).build())
          .getAttempt();
    } catch (JournalException e) {
      if (e.code() == 12) {
        throw new IllegalStateException(
            "actionjournal: the server at " + options.target + " does not issue attempts"
                + " (IssueAttempt): upgrade it before this adapter", e);
      }
      throw e;
    }
  }

  private ActionState readCompletion(RecordId record, Action action, byte[] bytes) {
    try {
      return ActionStateSerde.deserialize(bytes);
    } catch (RuntimeException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new IllegalStateException(
          "actionjournal: the completed state of action " + action.getName() + " of record (job "
              + record.getJobId() + ", key " + record.getRecordKey().toStringUtf8() + ", seq "
              + record.getSeqNum() + ") was journaled by another version of the agent or of"
              + " Flink Agents and cannot be read by this one (" + cause + "). Replaying it would"
              + " run the action again, so the task stops here. Either restore this savepoint"
              + " with the version that wrote it, or accept that these actions run again: prune"
              + " the job's journal (actionjournal-cli prune --job " + record.getJobId()
              + " --whole-job) and restore (docs/flink.md, \"Upgrades\").",
          e);
    }
  }

  private void putCompleted(
      RecordId record, String actionKey, Action action, ActionState state, Known known) {
    byte[] bytes = ActionStateSerde.serialize(plain(state));
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
        if (options.onDivergence == JournalStoreOptions.OnDivergence.FAIL) {
          // A runtime path that compares calls itself (Flink Agents' Python reconcile path) is
          // about to run another call in a journaled one's place: stop it here, before it runs.
          Step had = r.getStoredStep();
          throw divergence(
              record, actionName(actionKey), i, had.getFunctionId(),
              had.getArgsDigest().toStringUtf8(), want.getFunctionId(),
              want.getArgsDigest().toStringUtf8());
        }
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
  private Loaded load(RecordId record) {
    Loaded loaded = inFlight.get(record);
    if (loaded == null) loaded = records.get(record);
    if (loaded != null) return loaded;
    // Hashed only when some key missed (after a restore or a divergence), not on a first run.
    boolean afterMiss =
        missedAt.size() > 0
            && record.getSeqNum()
                > missedAt.get(KeyBounds.hash(record.getRecordKey().toStringUtf8()), NEVER);
    BeginRecordResponse r =
        journal.beginRecord(
            BeginRecordRequest.newBuilder()
                .setRecord(record)
                .setAttempt(attempt())
                // Which run wrote the record first: a record of another run is dropped when it
                // comes after a miss; one of this run (read again after eviction) is kept.
                .setInputFingerprint(ByteString.copyFromUtf8("run:" + attempt))
                .setResetOnMismatch(afterMiss)
                .build());
    if (r.getReset()) {
      resets++;
      LOG.log(
          System.Logger.Level.INFO,
          "actionjournal: record (key " + record.getRecordKey().toStringUtf8() + ", seq "
              + record.getSeqNum() + ") follows a replay that diverged: its journal of an earlier"
              + " run is dropped and its actions run again");
    }
    loaded = new Loaded(r.getStatus() == RecordStatus.RECORD_STATUS_NEW || r.getReset());
    for (ActionEntries a : r.getActionsList()) {
      Known k = new Known();
      k.steps.addAll(a.getStepsList());
      if (a.hasCompletion()) k.completion = a.getCompletion().getState().toByteArray();
      loaded.actions.put(a.getActionKey(), k);
    }
    records.put(record, loaded);
    return loaded;
  }

  private void open() {
    if (journal != null) return;
    Journal j =
        options.transport == JournalStoreOptions.Transport.JNI
            ? new JniJournalClient(
                options.target,
                Duration.ofSeconds(10),
                10,
                Duration.ofSeconds(30),
                options.security)
            : SharedClients.acquire(options.target, options.security);
    init(j, true);
  }

  private void init(Journal j, boolean owns) {
    journal = j;
    ownsJournal = owns;
    records =
        new LinkedHashMap<>(16, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<RecordId, Loaded> eldest) {
            return size() > MAX_CACHED_RECORDS;
          }
        };
    inFlight = new HashMap<>();
    missedAt = new KeyBounds();
    queued = new KeyQueue();
    unsent = new LinkedHashMap<>();
    pruneBounds = new KeyBounds();
    lastPass = new LastPass();
    held = new ArrayDeque<>();
    flushing = new Object();
    pruner =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "actionjournal-prune");
              t.setDaemon(true);
              return t;
            });
  }

  /** KeyBounds.hash(namespace + "/"), computed once per namespace. */
  private long namespaceHash(String ns) {
    if (!ns.equals(hashedNamespace)) {
      namespaceHash = KeyBounds.hash(ns + "/");
      hashedNamespace = ns;
    }
    return namespaceHash;
  }

  private String namespace() {
    return options.namespace != null ? options.namespace : namespace;
  }

  private String recordKey(Object key) {
    return recordKey(namespace(), key);
  }

  private static String recordKey(String ns, Object key) {
    String k = String.valueOf(key);
    return ns == null ? k : ns + "/" + k;
  }

  private AppendActionRequest.Builder request(RecordId record, String actionKey) {
    return AppendActionRequest.newBuilder()
        .setRecord(record)
        .setActionKey(actionKey)
        .setAttempt(attempt());
  }

  private RecordId record(Object key, long seqNum) {
    Objects.requireNonNull(key, "key");
    return RecordId.newBuilder()
        .setJobId(options.jobId)
        .setRecordKey(ByteString.copyFromUtf8(recordKey(key)))
        .setSeqNum(seqNum)
        .build();
  }

  /**
   * The journal's action key of {@code action} triggered by {@code event}: the event's UUID as
   * Flink Agents computes it for its own stores (from the attributes, so the same in every JVM),
   * then the action's name (stable, unlike a hash code).
   */
  public static String actionKey(Object key, long seqNum, Action action, Event event)
      throws Exception {
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

  /** {@code state} with plain call results (none of the checked ones {@code get} handed out). */
  static ActionState plain(ActionState state) {
    List<CallResult> calls = state.getCallResults();
    if (calls == null || calls.stream().noneMatch(c -> c instanceof CheckedCallResult)) return state;
    List<CallResult> plain = new ArrayList<>(calls.size());
    for (CallResult c : calls) plain.add(CheckedCallResult.plain(c));
    return new ActionState(
        state.getTaskEvent(),
        state.getSensoryMemoryUpdates(),
        state.getShortTermMemoryUpdates(),
        state.getOutputEvents(),
        plain,
        state.isCompleted());
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
      // A null result is stored as an empty one: Flink Agents never serializes a value to 0 bytes.
      s.setStatus(StepStatus.STEP_STATUS_SUCCEEDED);
      if (c.getResultPayload() != null) s.setResult(ByteString.copyFrom(c.getResultPayload()));
    }
    return s.build();
  }

  /** A journaled step as the CallResult Flink Agents put (an empty result read back as null). */
  public static CallResult toCallResult(Step s) {
    String digest = s.getArgsDigest().toStringUtf8();
    switch (s.getStatus()) {
      case STEP_STATUS_SUCCEEDED:
        return new CallResult(
            s.getFunctionId(), digest, s.getResult().isEmpty() ? null : s.getResult().toByteArray());
      case STEP_STATUS_FAILED:
        return new CallResult(s.getFunctionId(), digest, null, s.getError().toByteArray());
      default:
        return CallResult.pending(s.getFunctionId(), digest);
    }
  }

  static byte[] sha256(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static String hex(byte[] bytes) {
    StringBuilder s = new StringBuilder(bytes.length * 2);
    for (byte b : bytes) s.append(Character.forDigit((b >> 4) & 15, 16)).append(Character.forDigit(b & 15, 16));
    return s.toString();
  }
}
