package io.actionjournal.flink.agents;

import io.actionjournal.client.GrpcJournalClient;
import io.actionjournal.client.Journal;
import io.actionjournal.client.TestServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.api.configuration.AgentConfigOptions;
import org.apache.flink.agents.plan.AgentConfiguration;
import org.apache.flink.agents.plan.actions.Action;
import org.apache.flink.agents.runtime.actionstate.ActionState;
import org.apache.flink.agents.runtime.actionstate.ActionStateKafkaSeder;
import org.apache.flink.agents.runtime.actionstate.ActionStateStore;
import org.apache.flink.agents.runtime.actionstate.ActionStateUtil;
import org.apache.flink.agents.runtime.actionstate.CallResult;
import org.apache.flink.agents.runtime.actionstate.KafkaActionStateStore;
import org.apache.kafka.clients.admin.AdminClient;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The store a Flink Agents user has (Flink Agents 0.3.1's own {@link KafkaActionStateStore}, on a
 * real Kafka broker) beside {@link JournalActionStateStore} over actionjournal on PostgreSQL,
 * both driven through the calls the runtime makes (DurableExecutionManager, RunnerContextImpl)
 * for an action with two durable calls that have reconcilers:
 *
 * <pre>
 *   get -> null; put(new state)                       maybeInitActionState
 *   put(PENDING call 0); put(call 0's result)         durableExecute, twice
 *   put(PENDING call 1); put(call 1's result)
 *   get; put(completed state)                         maybePersistTaskResult
 *   every checkpoint: getRecoveryMarker; pruneState(key, seq) for each key completed
 * </pre>
 *
 * <p>"Keys in flight" N is N operator subtasks of one TaskManager, each with its own store driven
 * by one thread: the runtime calls its store on the task's mailbox thread, so one subtask has one
 * call out at a time and concurrency comes from parallel subtasks. Each side's stores are built as
 * a job builds them (the journal's share their JVM's gRPC client; each Kafka store has its own
 * producer and consumer). The calls do nothing else (the LLM and the tool
 * answer at once), so an action's time is what the store adds.
 *
 * <p>Recovery: with N states written since the restored checkpoint's recovery marker (a rollback
 * to an older savepoint, or that much work between checkpoints), a new store, {@code
 * rebuildState} with the marker, and the replay ({@code get}, which must find the completion) of
 * the 1,000 newest records. The Kafka store rescans the topic from the marker; the journal reads
 * only the records replayed.
 *
 * <p>CPU per action is the store side's: the broker's process, or the service's process plus
 * PostgreSQL's (the postmaster and its backends), from /proc over each run.
 *
 * <p>usage: PeerBench --dsn DSN --pg-data DIR --kafka-classpath FILE [--seconds S] [--warmup S]
 * [--jit-warmup S] [--reps R] [--inflight 1,8,64] [--recovery 10000,100000,1000000]
 * [--checkpoint-ms MS]
 */
public final class PeerBench {
  private static final int KEYS_PER_SUBTASK = 16;
  private static final int REPLAYED = 1000;
  private static final byte[] RESULT = "r".repeat(256).getBytes(StandardCharsets.UTF_8);
  private static final String TEXT = "t".repeat(256);

  private final Map<String, String> args;
  private final Action action = JournalActionStateStoreTest.action("answer");
  private TestServer server;
  private Kafka kafka;
  private long postmaster;
  private int warmupSeconds;
  private int kafkaReplayedLoaded;

  private PeerBench(Map<String, String> args) {
    this.args = args;
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = new HashMap<>();
    for (int i = 0; i + 1 < argv.length; i += 2) args.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
    new PeerBench(args).run();
    System.exit(0); // the Kafka clients' threads
  }

  private String arg(String name, String otherwise) {
    String v = args.getOrDefault(name, otherwise);
    if (v == null) throw new IllegalArgumentException("--" + name + " is required");
    return v;
  }

  private static List<Integer> ints(String csv) {
    return Arrays.stream(csv.split(",")).map(String::trim).map(Integer::parseInt).collect(Collectors.toList());
  }

  private void run() throws Exception {
    Path work = Files.createTempDirectory("peer-bench");
    postmaster = Long.parseLong(Files.readAllLines(Paths.get(arg("pg-data", null), "postmaster.pid")).get(0).trim());
    server = TestServer.start(work.resolve("server"), "--store=" + arg("dsn", null), "--prune-retention=24h");
    kafka = Kafka.start(work.resolve("kafka"), Files.readString(Paths.get(arg("kafka-classpath", null))).trim());
    try {
      System.out.printf(
          "peer bench: Flink Agents 0.3.1 KafkaActionStateStore on Kafka 4.0.1 (KRaft, one broker, acks=all,"
              + " replication 1, the broker's default flush policy: no fsync) vs JournalActionStateStore over"
              + " gRPC to actionjournal on PostgreSQL (fsync on, synchronous_commit on)%n");
      int seconds = Integer.parseInt(arg("seconds", "10"));
      warmupSeconds = Integer.parseInt(arg("warmup", "3"));
      int reps = Integer.parseInt(arg("reps", "3"));
      long checkpointMs = Long.parseLong(arg("checkpoint-ms", "1000"));
      // Both JVM sides' code compiled first (the JIT takes tens of seconds on two cores).
      int jit = Integer.parseInt(arg("jit-warmup", "15"));
      if (jit > 0) {
        String w = "warmup-" + UUID.randomUUID().toString().substring(0, 8);
        drive(8, jit, checkpointMs, i -> journalStore(w), this::journalCpu);
        kafka.createTopic(w);
        drive(8, jit, checkpointMs, i -> kafka.store(w), kafka::cpuTicks);
      }
      for (int n : ints(arg("inflight", "1,8,64"))) throughput(n, seconds, reps, checkpointMs);
      recovery(ints(arg("recovery", "10000,100000,1000000")));
    } finally {
      kafka.close();
      server.close();
    }
  }

  // --- Throughput -------------------------------------------------------------------------

  /** One side's figures over one run. */
  private static final class Run {
    double actionsPerS, p50Ms, p99Ms, cpuUsPerAction, stealPct;
  }

  private void throughput(int n, int seconds, int reps, long checkpointMs) throws Exception {
    List<Run> journal = new ArrayList<>(), kafkaRuns = new ArrayList<>();
    for (int rep = 0; rep < reps; rep++) {
      String run = "peer-" + n + "-" + rep + "-" + UUID.randomUUID().toString().substring(0, 8);
      // Interleaved, so that both sides see the same machine.
      journal.add(drive(n, seconds, checkpointMs, i -> journalStore(run), this::journalCpu));
      kafka.createTopic(run);
      kafkaRuns.add(drive(n, seconds, checkpointMs, i -> kafka.store(run), kafka::cpuTicks));
    }
    double ratio = median(journal, r -> r.actionsPerS) / median(kafkaRuns, r -> r.actionsPerS);
    System.out.printf(
        Locale.ROOT,
        "RESULT workload=peer_k%d journal_actions_per_s=%.0f kafka_actions_per_s=%.0f ratio=%.2f"
            + " journal_p50_ms=%.2f kafka_p50_ms=%.2f journal_p99_ms=%.2f kafka_p99_ms=%.2f"
            + " journal_cpu_us=%.0f kafka_cpu_us=%.0f reps=%d ratio_spread=%s steal_pct=%.0f%n",
        n,
        median(journal, r -> r.actionsPerS),
        median(kafkaRuns, r -> r.actionsPerS),
        ratio,
        median(journal, r -> r.p50Ms),
        median(kafkaRuns, r -> r.p50Ms),
        median(journal, r -> r.p99Ms),
        median(kafkaRuns, r -> r.p99Ms),
        median(journal, r -> r.cpuUsPerAction),
        median(kafkaRuns, r -> r.cpuUsPerAction),
        reps,
        spread(journal, kafkaRuns),
        (median(journal, r -> r.stealPct) + median(kafkaRuns, r -> r.stealPct)) / 2);
  }

  private JournalStoreOptions journalOptions(String job, JournalStoreOptions.PruneMode prune) {
    return new JournalStoreOptions(server.target, job, JournalStoreOptions.Transport.GRPC, prune, 2, 4 << 20);
  }

  private JournalActionStateStore journalStore(String job) {
    JournalActionStateStore s =
        new JournalActionStateStore(journalOptions(job, JournalStoreOptions.PruneMode.CHECKPOINT));
    s.bindOperator("agent");
    return s;
  }

  /**
   * N subtasks for WARMUP seconds (not measured: the JIT, the broker's and the server's first
   * requests), then for SECONDS: each action's time, and the store side's CPU over those.
   */
  private Run drive(
      int n, int seconds, long checkpointMs, StoreFactory stores, CpuMeter cpu) throws Exception {
    List<ActionStateStore> opened = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ActionStateStore s = stores.open(i);
      s.rebuildState(List.of()); // the task's start
      opened.add(s);
    }
    ExecutorService pool = Executors.newFixedThreadPool(n);
    System.gc();
    long warmupEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(warmupSeconds);
    long[] from = new long[1];
    long[] cpu0 = new long[1];
    long[][] steal0 = new long[1][];
    java.util.concurrent.CyclicBarrier measured =
        new java.util.concurrent.CyclicBarrier(
            n,
            () -> {
              cpu0[0] = cpu.ticks();
              steal0[0] = Cpu.machine();
              from[0] = System.nanoTime();
            });
    List<Future<long[]>> done = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ActionStateStore s = opened.get(i);
      int subtask = i;
      done.add(
          pool.submit(
              (Callable<long[]>)
                  () -> {
                    subtask(s, subtask, 0, warmupEnd, checkpointMs);
                    measured.await();
                    return subtask(
                        s, subtask, 1, from[0] + TimeUnit.SECONDS.toNanos(seconds), checkpointMs);
                  }));
    }
    List<long[]> times = new ArrayList<>();
    for (Future<long[]> f : done) times.add(f.get());
    double elapsed = (System.nanoTime() - from[0]) / 1e9;
    long cpuTicks = cpu.ticks() - cpu0[0];
    long[] steal1 = Cpu.machine();
    pool.shutdown();
    for (ActionStateStore s : opened) s.close();
    long[] all = times.stream().flatMapToLong(Arrays::stream).sorted().toArray();
    Run r = new Run();
    r.actionsPerS = all.length / elapsed;
    r.p50Ms = all[all.length / 2] / 1e6;
    r.p99Ms = all[(int) Math.min(all.length - 1, Math.floor(all.length * 0.99))] / 1e6;
    r.cpuUsPerAction = cpuTicks * 1e6 / Cpu.HZ / all.length;
    r.stealPct = 100.0 * (steal1[1] - steal0[0][1]) / Math.max(1, steal1[0] - steal0[0][0]);
    return r;
  }

  /** One subtask's loop: actions on its keys in turn, a checkpoint every checkpointMs. */
  private long[] subtask(ActionStateStore store, int subtask, int phase, long end, long checkpointMs)
      throws Exception {
    long[] times = new long[1 << 12];
    int count = 0;
    Map<String, Long> completed = new HashMap<>();
    long[] seq = new long[KEYS_PER_SUBTASK];
    long nextCheckpoint = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(checkpointMs);
    for (int i = 0; System.nanoTime() < end; i++) {
      int k = i % KEYS_PER_SUBTASK;
      String key = "s" + subtask + "p" + phase + "k" + k;
      long s = ++seq[k];
      Event in = new Event("InputEvent", Map.of("text", TEXT, "n", i));
      long t0 = System.nanoTime();
      oneAction(store, key, s, in);
      long t = System.nanoTime() - t0;
      if (count == times.length) times = Arrays.copyOf(times, count * 2);
      times[count++] = t;
      completed.put(key, s);
      if (System.nanoTime() >= nextCheckpoint) {
        store.getRecoveryMarker();
        completed.forEach(store::pruneState);
        nextCheckpoint = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(checkpointMs);
      }
    }
    return Arrays.copyOf(times, count);
  }

  private void oneAction(ActionStateStore store, String key, long seq, Event in) throws Exception {
    if (store.get(key, seq, action, in) != null) throw new IllegalStateException("not a new record: " + key);
    store.put(key, seq, action, in, new ActionState(in));
    ActionState state = new ActionState(in);
    for (int call = 0; call < 2; call++) {
      String fn = call == 0 ? "llm.chat" : "tool.search";
      String digest = "d" + call + "-" + seq;
      state.addCallResult(CallResult.pending(fn, digest));
      store.put(key, seq, action, in, state);
      state.replaceCallResult(call, new CallResult(fn, digest, RESULT));
      store.put(key, seq, action, in, state);
    }
    ActionState atEnd = store.get(key, seq, action, in);
    if (atEnd == null || atEnd.getCallResultCount() != 2) {
      throw new IllegalStateException("the action's state at its end is lost: " + key + " " + seq);
    }
    state.addEvent(new Event("OutputEvent", Map.of("answer", TEXT)));
    state.markCompleted();
    store.put(key, seq, action, in, state);
  }

  // --- Recovery ---------------------------------------------------------------------------

  private void recovery(List<Integer> sizes) throws Exception {
    String run = "recovery-" + UUID.randomUUID().toString().substring(0, 8);
    kafka.createTopic(run);
    KafkaActionStateStore probe = kafka.store(run);
    Object marker = probe.getRecoveryMarker(); // the checkpoint the restore goes back to
    probe.close();
    JournalActionStateStore journalProbe = journalStore(run);
    journalProbe.rebuildState(List.of());
    Object journalMarker = journalProbe.getRecoveryMarker();
    journalProbe.close();
    Event in = new Event("InputEvent", Map.of("text", TEXT));
    ActionState done = new ActionState(in);
    done.addCallResult(new CallResult("llm.chat", "d0", RESULT));
    done.addCallResult(new CallResult("tool.search", "d1", RESULT));
    done.addEvent(new Event("OutputEvent", Map.of("answer", TEXT)));
    done.markCompleted();
    // The records replayed, journaled through both stores' own paths; the others ("filler",
    // older states of the same shape) written in bulk: the Kafka store's with a batching
    // producer before them (the scan reads everything since the marker), the journal's rows
    // copied from a replayed one by SQL (their cost is not measured either way).
    int filler = 0;
    loadJournal(run, 0, REPLAYED, in, done);
    for (int size : sizes) {
      int want = Math.max(0, size - REPLAYED);
      System.out.printf("recovery: %d states on both sides%n", size);
      kafka.load(run, "f", filler, want, action, in, done);
      copyJournalRows(run, filler, want);
      filler = want;
      if (kafkaReplayedLoaded < REPLAYED) {
        kafka.load(run, "r", 0, REPLAYED, action, in, done);
        kafkaReplayedLoaded = REPLAYED;
      }
      List<Double> journalS = new ArrayList<>(), kafkaS = new ArrayList<>();
      long[] steal0 = Cpu.machine();
      for (int rep = 0; rep < 3; rep++) {
        journalS.add(replay(journalStore(run), List.of(journalMarker), in));
        kafkaS.add(replay(kafka.store(run), List.of(marker), in));
        System.out.printf(
            Locale.ROOT, "recovery_%d run %d: journal %.3f s, kafka %.3f s%n",
            size, rep + 1, journalS.get(rep), kafkaS.get(rep));
      }
      double j = median(journalS, x -> x), k = median(kafkaS, x -> x);
      System.out.printf(
          Locale.ROOT,
          "RESULT workload=recovery_%d journal_s=%.3f kafka_s=%.3f ratio=%.1f journal_spread=%s kafka_spread=%s"
              + " steal_pct=%.0f%n",
          size, j, k, k / j, range(journalS), range(kafkaS), stealSince(steal0));
    }
  }

  /** The journal's records LO..HI, by 64 subtasks of the runtime's completion-only path. */
  private void loadJournal(String job, int lo, int hi, Event in, ActionState done) throws Exception {
    int threads = 64;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    List<Future<?>> parts = new ArrayList<>();
    try (Journal shared = new GrpcJournalClient(server.target)) {
      for (int t = 0; t < threads; t++) {
        int first = t;
        parts.add(
            pool.submit(
                (Callable<Void>)
                    () -> {
                      JournalActionStateStore s =
                          new JournalActionStateStore(
                              journalOptions(job, JournalStoreOptions.PruneMode.NONE), shared);
                      s.bindOperator("agent");
                      for (int i = lo + first; i < hi; i += threads) {
                        if (s.get(recordKey(i), 1, action, in) != null) throw new IllegalStateException("loaded twice");
                        s.put(recordKey(i), 1, action, in, done);
                      }
                      s.close();
                      return null;
                    }));
      }
      for (Future<?> f : parts) f.get();
    } finally {
      pool.shutdown();
    }
  }

  static String recordKey(int i) {
    return "r" + i;
  }

  /**
   * Filler records LO..HI of the journal: each a copy of replayed record r0's rows (records and
   * completions, as the completion-only path wrote them) under the key "agent/f" + i, by one SQL
   * statement per table through psql.
   */
  private void copyJournalRows(String job, int lo, int hi) throws Exception {
    if (hi <= lo) return;
    String copy =
        "DO $$ DECLARE t text; cols text; BEGIN FOREACH t IN ARRAY ARRAY['records', 'completions']"
            + " LOOP SELECT string_agg(quote_ident(column_name), ', ') INTO cols FROM"
            + " information_schema.columns WHERE table_name = t AND column_name <> 'record_key';"
            + " EXECUTE format('INSERT INTO %1$I (record_key, %2$s) SELECT convert_to(''agent/f'' || i,"
            + " ''UTF8''), %2$s FROM %1$I, generate_series(%3$s, %4$s) i WHERE job_id = %5$L AND"
            + " record_key = convert_to(''agent/r0'', ''UTF8'')', t, cols, "
            + lo + ", " + (hi - 1) + ", '" + job + "'); END LOOP; END $$; ANALYZE records; ANALYZE completions;";
    TestServer.run(List.of("psql", "-v", "ON_ERROR_STOP=1", "-q", arg("dsn", null), "-c", copy));
  }

  /** A restore: the store, rebuildState, and the replay of the REPLAYED records. */
  private double replay(ActionStateStore store, List<Object> markers, Event in) throws Exception {
    System.gc(); // the other side's last run (the Kafka store's map) is not collected on this one
    long t0 = System.nanoTime();
    store.rebuildState(markers);
    for (int i = 0; i < REPLAYED; i++) {
      ActionState s = store.get(recordKey(i), 1, action, in);
      if (s == null || !s.isCompleted()) throw new IllegalStateException("replay found no completion for " + i);
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    store.close();
    return seconds;
  }

  // --- The broker ----------------------------------------------------------------------------

  /** One Kafka broker in KRaft mode (broker and controller in one process) on loopback. */
  static final class Kafka implements AutoCloseable {
    final Process process;
    final String bootstrap;

    private Kafka(Process process, String bootstrap) {
      this.process = process;
      this.bootstrap = bootstrap;
    }

    static Kafka start(Path dir, String classpath) throws Exception {
      Files.createDirectories(dir);
      int port = freePort(), controller = freePort();
      Path props = dir.resolve("server.properties");
      Files.writeString(
          props,
          String.join(
              "\n",
              "process.roles=broker,controller",
              "node.id=1",
              "controller.quorum.voters=1@127.0.0.1:" + controller,
              "listeners=PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controller,
              "advertised.listeners=PLAINTEXT://127.0.0.1:" + port,
              "controller.listener.names=CONTROLLER",
              "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
              "log.dirs=" + dir.resolve("logs"),
              "offsets.topic.replication.factor=1",
              "transaction.state.log.replication.factor=1",
              "transaction.state.log.min.isr=1",
              "group.initial.rebalance.delay.ms=0",
              ""));
      String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
      List<String> base = List.of(java, "-Xmx2g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", classpath);
      List<String> format = new ArrayList<>(base);
      format.addAll(List.of("kafka.tools.StorageTool", "format", "-t", clusterId(), "-c", props.toString()));
      TestServer.run(format);
      List<String> cmd = new ArrayList<>(base);
      cmd.addAll(List.of("kafka.Kafka", props.toString()));
      Process p =
          new ProcessBuilder(cmd)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("broker.log").toFile()))
              .start();
      String bootstrap = "127.0.0.1:" + port;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (System.nanoTime() < deadline && p.isAlive()) {
        try (AdminClient admin = AdminClient.create(common(bootstrap))) {
          admin.listTopics().names().get(2, TimeUnit.SECONDS);
          return new Kafka(p, bootstrap);
        } catch (Exception notYet) {
          Thread.sleep(200);
        }
      }
      p.destroyForcibly();
      throw new IOException("the Kafka broker did not start: " + Files.readString(dir.resolve("broker.log")));
    }

    /** A KRaft cluster id: 16 random bytes, URL-safe base64 without padding. */
    private static String clusterId() {
      UUID u = UUID.randomUUID();
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(16);
      b.putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits());
      return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(b.array());
    }

    private static Properties common(String bootstrap) {
      Properties p = new Properties();
      p.put("bootstrap.servers", bootstrap);
      return p;
    }

    private AgentConfiguration config(String topic) {
      AgentConfiguration c = new AgentConfiguration();
      c.setStr(AgentConfigOptions.KAFKA_BOOTSTRAP_SERVERS.getKey(), bootstrap);
      c.setStr(AgentConfigOptions.KAFKA_ACTION_STATE_TOPIC.getKey(), topic);
      return c;
    }

    /** The topic as the store would create it (64 partitions, compacted), made here once. */
    void createTopic(String topic) throws Exception {
      try (AdminClient admin = AdminClient.create(common(bootstrap))) {
        NewTopic t =
            new NewTopic(
                topic,
                AgentConfigOptions.KAFKA_ACTION_STATE_TOPIC_NUM_PARTITIONS.getDefaultValue(),
                AgentConfigOptions.KAFKA_ACTION_STATE_TOPIC_REPLICATION_FACTOR.getDefaultValue().shortValue());
        t.configs(Map.of("cleanup.policy", "compact"));
        admin.createTopics(List.of(t)).all().get(30, TimeUnit.SECONDS);
      }
    }

    /**
     * Flink Agents' store. Its constructor lists topics with a 100 ms timeout and fails when the
     * broker is slower than that (seen under load here); the runtime would fail the task and
     * restart it, so this tries again as a restart would.
     */
    KafkaActionStateStore store(String topic) {
      for (int tries = 0; ; tries++) {
        try {
          return new KafkaActionStateStore(config(topic));
        } catch (RuntimeException e) {
          if (tries == 20) throw e;
        }
      }
    }

    /** States PREFIX + LO..HI ("r": the replayed records' keys, recordKey), sent in batches (their cost is not measured). */
    void load(String topic, String prefix, int lo, int hi, Action action, Event in, ActionState done)
        throws Exception {
      if (hi <= lo) return;
      Properties p = common(bootstrap);
      p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
      p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ActionStateKafkaSeder.class);
      p.put(ProducerConfig.ACKS_CONFIG, "all");
      p.put(ProducerConfig.PARTITIONER_CLASS_CONFIG, "org.apache.flink.agents.runtime.actionstate.ActionStateKeyPartitioner");
      p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
      try (KafkaProducer<String, ActionState> producer = new KafkaProducer<>(p)) {
        for (int i = lo; i < hi; i++) {
          producer.send(new ProducerRecord<>(topic, ActionStateUtil.generateKey(prefix + i, 1, action, in), done));
        }
        producer.flush();
      }
    }

    long cpuTicks() {
      return Cpu.ticks(process.pid(), false);
    }

    @Override
    public void close() throws Exception {
      process.destroy();
      if (!process.waitFor(20, TimeUnit.SECONDS)) process.destroyForcibly();
    }
  }

  private static int freePort() throws IOException {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  // --- CPU, from /proc ------------------------------------------------------------------------

  /** The service's process plus PostgreSQL's postmaster and backends. */
  private long journalCpu() {
    return Cpu.ticks(server.pid(), false) + Cpu.ticks(postmaster, true);
  }

  /** User plus system CPU, in clock ticks, of a process (and of its children, live and reaped). */
  static final class Cpu {
    static final long HZ = 100; // USER_HZ on Linux

    static long ticks(long pid, boolean withChildren) {
      long sum = 0;
      String[] own = stat(pid);
      if (own == null) throw new IllegalStateException("no process " + pid);
      sum += Long.parseLong(own[13]) + Long.parseLong(own[14]);
      if (!withChildren) return sum;
      sum += Long.parseLong(own[15]) + Long.parseLong(own[16]); // reaped children
      try (var procs = Files.list(Paths.get("/proc"))) {
        for (Path p : (Iterable<Path>) procs::iterator) {
          String name = p.getFileName().toString();
          if (!name.chars().allMatch(Character::isDigit)) continue;
          String[] f = stat(Long.parseLong(name));
          if (f != null && Long.parseLong(f[3]) == pid) {
            sum += Long.parseLong(f[13]) + Long.parseLong(f[14]) + Long.parseLong(f[15]) + Long.parseLong(f[16]);
          }
        }
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
      return sum;
    }

    /**
     * The machine's CPU time in all and stolen by the hypervisor, in ticks (/proc/stat): a run
     * with much steal measured a slower machine than it had.
     */
    static long[] machine() {
      try {
        String[] f = Files.readAllLines(Paths.get("/proc/stat")).get(0).trim().split("\\s+");
        long all = 0;
        for (int i = 1; i < f.length; i++) all += Long.parseLong(f[i]);
        return new long[] {all, f.length > 8 ? Long.parseLong(f[8]) : 0};
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }

    /** /proc/PID/stat's fields (0-based, as proc(5) numbers them minus one), or null. */
    private static String[] stat(long pid) {
      try {
        String s = Files.readString(Paths.get("/proc", Long.toString(pid), "stat"));
        String rest = s.substring(s.lastIndexOf(')') + 2);
        String[] tail = rest.split(" ");
        String[] f = new String[tail.length + 2];
        f[0] = Long.toString(pid);
        f[1] = "comm";
        System.arraycopy(tail, 0, f, 2, tail.length);
        return f;
      } catch (IOException gone) {
        return null;
      }
    }
  }

  // --- Figures --------------------------------------------------------------------------------

  interface StoreFactory {
    ActionStateStore open(int subtask) throws Exception;
  }

  interface CpuMeter {
    long ticks();
  }

  interface Figure<T> {
    double of(T t);
  }

  private static <T> double median(List<T> xs, Figure<T> f) {
    double[] v = xs.stream().mapToDouble(f::of).sorted().toArray();
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  private static double stealSince(long[] before) {
    long[] now = Cpu.machine();
    return 100.0 * (now[1] - before[1]) / Math.max(1, now[0] - before[0]);
  }

  private static String range(List<Double> xs) {
    return String.format(
        Locale.ROOT, "%.3f-%.3f", xs.stream().mapToDouble(x -> x).min().orElse(0),
        xs.stream().mapToDouble(x -> x).max().orElse(0));
  }

  /** The per-rep ratios' range (rep i of one side against rep i of the other). */
  private static String spread(List<Run> journal, List<Run> kafka) {
    List<Double> ratios = new ArrayList<>();
    for (int i = 0; i < journal.size(); i++) ratios.add(journal.get(i).actionsPerS / kafka.get(i).actionsPerS);
    return String.format(
        Locale.ROOT, "%.2f-%.2f", ratios.stream().mapToDouble(x -> x).min().orElse(0),
        ratios.stream().mapToDouble(x -> x).max().orElse(0));
  }

}
