package io.actionjournal.flink.agents;

import io.actionjournal.client.ClientSecurity;
import java.io.Serializable;
import java.util.Map;
import java.util.Objects;

/**
 * How {@link JournalActionStateStore} reaches the journal and what it does there. Immutable and
 * serializable: it travels with the operator factory to every TaskManager. {@link #fromMap} reads
 * the keys below (Flink configuration or system properties), each with an environment variable.
 *
 * <table>
 *   <tr><th>key</th><th>environment</th><th>default</th></tr>
 *   <tr><td>actionjournal.target</td><td>ACTIONJOURNAL_TARGET</td><td>127.0.0.1:7450</td></tr>
 *   <tr><td>actionjournal.job-id</td><td>ACTIONJOURNAL_JOB_ID</td><td>(required)</td></tr>
 *   <tr><td>actionjournal.transport</td><td>ACTIONJOURNAL_TRANSPORT</td><td>grpc (or jni)</td></tr>
 *   <tr><td>actionjournal.namespace</td><td>ACTIONJOURNAL_NAMESPACE</td><td>the operator's ID</td></tr>
 *   <tr><td>actionjournal.prune</td><td>ACTIONJOURNAL_PRUNE</td><td>checkpoint (or delayed, none)</td></tr>
 *   <tr><td>actionjournal.prune-delay</td><td>ACTIONJOURNAL_PRUNE_DELAY</td><td>2</td></tr>
 *   <tr><td>actionjournal.max-state-bytes</td><td>ACTIONJOURNAL_MAX_STATE_BYTES</td><td>4194304</td></tr>
 *   <tr><td>actionjournal.on-divergence</td><td>ACTIONJOURNAL_ON_DIVERGENCE</td><td>truncate (or fail)</td></tr>
 *   <tr><td>actionjournal.tls-ca-file</td><td>ACTIONJOURNAL_TLS_CA_FILE</td><td>(plaintext)</td></tr>
 *   <tr><td>actionjournal.tls-cert-file</td><td>ACTIONJOURNAL_TLS_CERT_FILE</td><td>(none)</td></tr>
 *   <tr><td>actionjournal.tls-key-file</td><td>ACTIONJOURNAL_TLS_KEY_FILE</td><td>(none)</td></tr>
 *   <tr><td>actionjournal.token-file</td><td>ACTIONJOURNAL_TOKEN_FILE</td><td>(none)</td></tr>
 * </table>
 */
public final class JournalStoreOptions implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Whether and when pruneState deletes what a completed checkpoint covers. */
  public enum PruneMode {
    /**
     * Delete a key's records up to the checkpointed sequence number once the checkpoint completed.
     * The journal stays small, but a restore from an older checkpoint or savepoint re-runs the
     * actions of records pruned since (unless the server's retention still keeps them).
     */
    CHECKPOINT,
    /**
     * Delete what a completed checkpoint covers only after {@link #pruneDelay} further checkpoints
     * completed: a restore from any of the last pruneDelay + 1 completed checkpoints replays from
     * the journal, at the cost of keeping that many checkpoints' worth of records. Checkpoints are
     * counted by getRecoveryMarker, which the runtime calls in every snapshot; what is held when
     * the JVM ends is not deleted (the server's retention bounds it).
     */
    DELAYED,
    /**
     * Never delete from the operator: any savepoint can be restored without re-running an action,
     * and the server's retention (Prune by completion time, or whole_job after the job ends) bounds
     * the journal instead.
     */
    NONE
  }

  /**
   * What a replayed action does when its next durable call is not the one the journal holds at
   * that index (another function id or argument digest: the agent's code changed, or is not
   * deterministic).
   */
  public enum OnDivergence {
    /**
     * As Flink Agents does: drop the journaled calls from that index on, run the call and go on.
     */
    TRUNCATE,
    /**
     * Fail the action before the call runs, with a {@link DivergenceException} naming the record,
     * the action, the index and both identities; nothing runs and nothing journaled is dropped.
     * The task fails (and Flink restarts it, failing again) until the agent's code matches the
     * journal again or the record's journal is invalidated (docs/flink.md, "Strict mode").
     */
    FAIL
  }

  /** Which client carries the calls. */
  public enum Transport {
    /** Pure Java (grpc-java): no native code in the TaskManager. */
    GRPC,
    /** The C++ client in-process (libactionjournal_jni.so). */
    JNI
  }

  public final String target;
  public final String jobId;
  public final Transport transport;
  /**
   * Keeps operators apart inside the job: every record key is {@code namespace + "/" + key}. Null:
   * the operator's ID (hex), bound by {@link JournalAgents} when the operator is created; set it
   * to keep a journal across a change of the job graph that changes the operator's ID (or give the
   * operator a stable {@code uid}). 1-128 chars of [A-Za-z0-9._:-].
   */
  public final String namespace;

  public final PruneMode prune;
  /** With {@link PruneMode#DELAYED}: how many further completed checkpoints a prune waits for. */
  public final int pruneDelay;
  /** The journal's payload limit: a larger serialized state fails at once, without a call. */
  public final int maxStateBytes;
  /** TLS, mutual TLS and the token file (ClientSecurity.fromMap's keys); NONE by default. */
  public final ClientSecurity security;
  /** What a replayed call that does not match the journal does; TRUNCATE by default. */
  public final OnDivergence onDivergence;

  public JournalStoreOptions(
      String target,
      String jobId,
      Transport transport,
      PruneMode prune,
      int pruneDelay,
      int maxStateBytes) {
    this.target = Objects.requireNonNull(target, "target");
    this.jobId = Objects.requireNonNull(jobId, "jobId");
    if (!jobId.matches("[A-Za-z0-9._:-]{1,128}")) {
      throw new IllegalArgumentException("jobId: 1-128 chars of [A-Za-z0-9._:-], got " + jobId);
    }
    this.transport = Objects.requireNonNull(transport, "transport");
    this.namespace = null;
    this.prune = Objects.requireNonNull(prune, "prune");
    if (pruneDelay < 1) throw new IllegalArgumentException("pruneDelay: must be >= 1");
    this.pruneDelay = pruneDelay;
    if (maxStateBytes <= 0) throw new IllegalArgumentException("maxStateBytes: must be > 0");
    this.maxStateBytes = maxStateBytes;
    this.security = ClientSecurity.NONE;
    this.onDivergence = OnDivergence.TRUNCATE;
  }

  private JournalStoreOptions(
      JournalStoreOptions o, String namespace, ClientSecurity security, OnDivergence onDivergence) {
    this.target = o.target;
    this.jobId = o.jobId;
    this.transport = o.transport;
    if (namespace != null && !namespace.matches("[A-Za-z0-9._:-]{1,128}")) {
      throw new IllegalArgumentException(
          "namespace: 1-128 chars of [A-Za-z0-9._:-], got " + namespace);
    }
    this.namespace = namespace;
    this.prune = o.prune;
    this.pruneDelay = o.pruneDelay;
    this.maxStateBytes = o.maxStateBytes;
    this.security = Objects.requireNonNull(security, "security");
    this.onDivergence = Objects.requireNonNull(onDivergence, "onDivergence");
  }

  /** These options with TLS, mutual TLS and a token file as {@code security} says. */
  public JournalStoreOptions withSecurity(ClientSecurity security) {
    return new JournalStoreOptions(this, namespace, security, onDivergence);
  }

  /** These options with a fixed namespace instead of the operator's ID (see {@link #namespace}). */
  public JournalStoreOptions withNamespace(String namespace) {
    return new JournalStoreOptions(
        this, Objects.requireNonNull(namespace, "namespace"), security, onDivergence);
  }

  /** These options with {@code onDivergence} (see {@link OnDivergence}). */
  public JournalStoreOptions withOnDivergence(OnDivergence onDivergence) {
    return new JournalStoreOptions(this, namespace, security, onDivergence);
  }

  /** Sidecar defaults for one job: gRPC to 127.0.0.1:7450, prune on checkpoint. */
  public static JournalStoreOptions forJob(String jobId) {
    return new JournalStoreOptions(
        "127.0.0.1:7450", jobId, Transport.GRPC, PruneMode.CHECKPOINT, 2, 4 << 20);
  }

  /** From configuration keys (see the class comment); a key absent there is read from env. */
  public static JournalStoreOptions fromMap(Map<String, String> conf, Map<String, String> env) {
    JournalStoreOptions o =
        fromMapWithoutSecurity(conf, env).withSecurity(ClientSecurity.fromMap(conf, env));
    o =
        o.withOnDivergence(
            choice(
                OnDivergence.class,
                "actionjournal.on-divergence",
                get(conf, env, "actionjournal.on-divergence", "ACTIONJOURNAL_ON_DIVERGENCE", "truncate")));
    String ns = get(conf, env, "actionjournal.namespace", "ACTIONJOURNAL_NAMESPACE", "");
    return ns.isEmpty() ? o : o.withNamespace(ns);
  }

  private static JournalStoreOptions fromMapWithoutSecurity(
      Map<String, String> conf, Map<String, String> env) {
    return new JournalStoreOptions(
        get(conf, env, "actionjournal.target", "ACTIONJOURNAL_TARGET", "127.0.0.1:7450"),
        get(conf, env, "actionjournal.job-id", "ACTIONJOURNAL_JOB_ID", null),
        choice(
            Transport.class,
            "actionjournal.transport",
            get(conf, env, "actionjournal.transport", "ACTIONJOURNAL_TRANSPORT", "grpc")),
        choice(
            PruneMode.class,
            "actionjournal.prune",
            get(conf, env, "actionjournal.prune", "ACTIONJOURNAL_PRUNE", "checkpoint")),
        Integer.parseInt(
            get(conf, env, "actionjournal.prune-delay", "ACTIONJOURNAL_PRUNE_DELAY", "2")),
        Integer.parseInt(
            get(
                conf,
                env,
                "actionjournal.max-state-bytes",
                "ACTIONJOURNAL_MAX_STATE_BYTES",
                String.valueOf(4 << 20))));
  }

  /** The constant of {@code type} that {@code value} names, in any case; else says which exist. */
  private static <E extends Enum<E>> E choice(Class<E> type, String key, String value) {
    for (E e : type.getEnumConstants()) {
      if (e.name().equalsIgnoreCase(value)) return e;
    }
    StringBuilder names = new StringBuilder();
    for (E e : type.getEnumConstants()) {
      names.append(names.length() == 0 ? "" : ", ").append(e.name().toLowerCase(java.util.Locale.ROOT));
    }
    throw new IllegalArgumentException(key + ": one of " + names + ", got " + value);
  }

  private static String get(
      Map<String, String> conf, Map<String, String> env, String key, String var, String def) {
    String v = conf.get(key);
    if (v == null || v.isEmpty()) v = env.get(var);
    if (v == null || v.isEmpty()) v = def;
    if (v == null) throw new IllegalArgumentException(key + " (or " + var + ") is required");
    return v.trim();
  }
}
