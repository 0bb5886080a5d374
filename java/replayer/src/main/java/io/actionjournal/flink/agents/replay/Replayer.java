package io.actionjournal.flink.agents.replay;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import com.google.protobuf.util.JsonFormat;
import io.actionjournal.client.ClientSecurity;
import io.actionjournal.client.GrpcJournalClient;
import io.actionjournal.client.JournalException;
import io.actionjournal.client.RetryOptions;
import io.actionjournal.v1.GetRecordRequest;
import io.actionjournal.v1.GetRecordResponse;
import io.actionjournal.v1.ListRecordsRequest;
import io.actionjournal.v1.ListRecordsResponse;
import io.actionjournal.v1.RecordSummary;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import org.apache.flink.agents.api.agents.Agent;
import org.apache.flink.agents.plan.AgentConfiguration;
import org.apache.flink.agents.plan.AgentPlan;
import org.apache.flink.agents.runtime.actionstate.ActionStateStore;
import org.apache.flink.agents.runtime.operator.ActionExecutionOperator;
import org.apache.flink.agents.runtime.operator.ActionExecutionOperatorFactory;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;

/**
 * Checks an agent (the new code) against recorded journals before it is deployed, executing
 * nothing: each recorded record's input goes through Flink Agents' own operator ({@code
 * ActionExecutionOperator}, in Flink's one-operator harness, no cluster) with a store in verify
 * mode ({@link VerifyStore}): every durable call is answered from the journal when its index,
 * function id and argument digest match; one that does not match, or that the journal does not
 * hold, is never run and is reported; nothing is written to the journal.
 *
 * <pre>{@code
 * ReplayReport report = Replayer.forAgent(new MyAgent()).replay(Replayer.fromExport(path));
 * assertEquals(0, report.exitCode(), report.text());
 * }</pre>
 *
 * A key's records are replayed in sequence order through one operator, so an agent's short-term
 * memory evolves as it did; after a record that stopped (a divergence, a call that would run) the
 * operator is made afresh and that memory starts empty. An action stopped at a call the journal
 * does not hold is skipped in a further pass of the record, so that its other actions are checked. A record's input is read back from the
 * state of a completed action it triggered, as Flink Agents serialized it (JSON: a POJO input comes
 * back as a map unless {@link #inputClass} says what to convert it to); a record without one is
 * skipped.
 */
public final class Replayer {
  private static final ThreadLocal<String> KEY = new ThreadLocal<>();
  // Passes of one record at most (each skips one more action that would run).
  private static final int MAX_PASSES = 16;

  private final Agent agent;
  private AgentConfiguration config = new AgentConfiguration();
  private String namespace;
  private Class<?> inputClass;
  private int limit = Integer.MAX_VALUE;

  private Replayer(Agent agent) {
    this.agent = Objects.requireNonNull(agent, "agent");
  }

  /** A replayer of {@code agent}: the code to check. */
  public static Replayer forAgent(Agent agent) {
    return new Replayer(agent);
  }

  /** Flink Agents' configuration for the agent's plan (its default when not set). */
  public Replayer config(AgentConfiguration config) {
    this.config = Objects.requireNonNull(config, "config");
    return this;
  }

  /**
   * Which operator's records to replay (the journal's namespace, by default the operator's ID):
   * needed only when the records hold more than one.
   */
  public Replayer namespace(String namespace) {
    this.namespace = Objects.requireNonNull(namespace, "namespace");
    return this;
  }

  /** The agent's input type, when its inputs are POJOs (read back from JSON, then converted). */
  public Replayer inputClass(Class<?> inputClass) {
    this.inputClass = Objects.requireNonNull(inputClass, "inputClass");
    return this;
  }

  /** Replay at most {@code limit} records. */
  public Replayer limit(int limit) {
    if (limit <= 0) throw new IllegalArgumentException("limit: must be > 0, got " + limit);
    this.limit = limit;
    return this;
  }

  /** Records as {@code actionjournal-cli export --job J --payloads} wrote them (JSON Lines). */
  public static Source fromExport(Path file) {
    Objects.requireNonNull(file, "file");
    return new Source("export " + file) {
      @Override
      List<GetRecordResponse> read() throws IOException {
        List<GetRecordResponse> out = new ArrayList<>();
        JsonFormat.Parser parser = JsonFormat.parser().ignoringUnknownFields();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
          int n = 0;
          for (String line; (line = in.readLine()) != null; ) {
            n++;
            if (line.isBlank()) continue;
            GetRecordResponse.Builder b = GetRecordResponse.newBuilder();
            try {
              parser.merge(line, b);
            } catch (IOException e) {
              throw new IOException(file + ":" + n + ": not an exported record: " + e.getMessage(), e);
            }
            out.add(b.build());
          }
        }
        return out;
      }
    };
  }

  /**
   * Records read from a live journal, read-only (ListRecords and GetRecord: no attempt, no write):
   * the job's records whose key starts with {@code keyPrefix} (empty: all).
   */
  public static Source fromJournal(GrpcJournalClient client, String jobId, String keyPrefix) {
    Objects.requireNonNull(client, "client");
    Objects.requireNonNull(jobId, "jobId");
    Objects.requireNonNull(keyPrefix, "keyPrefix");
    return new Source("job " + jobId) {
      @Override
      List<GetRecordResponse> read() {
        List<GetRecordResponse> out = new ArrayList<>();
        ListRecordsRequest.Builder list =
            ListRecordsRequest.newBuilder()
                .setJobId(jobId)
                .setKeyPrefix(ByteString.copyFromUtf8(keyPrefix))
                .setPageSize(500);
        for (; ; ) {
          ListRecordsResponse page = client.listRecords(list.build());
          for (RecordSummary s : page.getRecordsList()) {
            try {
              out.add(
                  client.getRecord(
                      GetRecordRequest.newBuilder()
                          .setRecord(s.getRecord())
                          .setIncludePayloads(true)
                          .build()));
            } catch (JournalException e) {
              if (e.code() != 5) throw e; // NOT_FOUND: pruned since the page was read
            }
          }
          if (page.getNextPageToken().isEmpty()) return out;
          list.setPageToken(page.getNextPageToken());
        }
      }
    };
  }

  /** Where recorded records come from. */
  public abstract static class Source {
    final String name;

    Source(String name) {
      this.name = name;
    }

    abstract List<GetRecordResponse> read() throws IOException;
  }

  /** Replays every record of {@code source} (of one namespace) and reports. */
  public ReplayReport replay(Source source) throws Exception {
    long start = System.nanoTime();
    List<Recorded> all = new ArrayList<>();
    for (GetRecordResponse r : source.read()) all.add(new Recorded(r));
    TreeSet<String> namespaces = new TreeSet<>();
    for (Recorded r : all) namespaces.add(r.namespace);
    String ns = namespace;
    if (ns == null) {
      if (namespaces.size() > 1) {
        throw new IllegalArgumentException(
            "the records hold " + namespaces.size() + " operators' namespaces " + namespaces
                + ": name one (--namespace)");
      }
      ns = namespaces.isEmpty() ? "" : namespaces.first();
    }
    List<Recorded> records = new ArrayList<>();
    for (Recorded r : all) if (r.namespace.equals(ns)) records.add(r);
    // A key's records in sequence order, keys in a fixed order.
    records.sort(Comparator.comparing((Recorded r) -> r.key).thenComparingLong(r -> r.seqNum));
    if (records.size() > limit) records = records.subList(0, limit);

    AgentPlan plan = new AgentPlan(agent, config);
    VerifyStore store = new VerifyStore();
    VerifyStore.Session session = store.session();
    List<ReplayReport.Record> results = new ArrayList<>();
    Harness harness = null;
    ObjectMapper convert = new ObjectMapper();
    try {
      for (Recorded r : records) {
        session.begin(r);
        Object input;
        try {
          input = r.input();
        } catch (RuntimeException e) {
          session.add(
              Finding.of(
                  Finding.Kind.STATE_UNREADABLE, "-", String.valueOf(VerifyStore.rootOf(e))));
          results.add(result(r, session));
          continue;
        }
        if (input == null) {
          results.add(
              new ReplayReport.Record(
                  r.key,
                  r.seqNum,
                  ReplayReport.Status.SKIPPED,
                  List.of(
                      Finding.of(
                          Finding.Kind.NO_INPUT,
                          "-",
                          "no completed action in the journal carries the record's input"))));
          continue;
        }
        if (inputClass != null && !inputClass.isInstance(input)) {
          input = convert.convertValue(input, inputClass);
        }
        // A pass stopped at a call the journal does not hold (would run) ends that action, not
        // the record: the next pass answers it as completed and empty, so that the record's
        // other actions are checked too. A divergence ends the record.
        for (int pass = 0; ; pass++) {
          if (harness == null) harness = new Harness(plan, store);
          try {
            harness.run(r.key, input);
          } catch (Throwable t) {
            if (!session.stopped) {
              // The new code failed on its own, on the journal's answers.
              session.add(
                  Finding.of(
                      Finding.Kind.ACTION_FAILED, "-", String.valueOf(VerifyStore.rootOf(t))));
            }
            harness.closeQuietly();
            harness = null;
          }
          if (!session.stopped
              || session.divergent()
              || session.stoppedAction == null
              || !session.skipped.add(session.stoppedAction)
              || pass == MAX_PASSES) {
            break;
          }
          session.nextPass();
        }
        if (!session.stopped) {
          // Actions the journal holds that the new code never asked for.
          for (String actionKey : r.actions.keySet()) {
            if (!session.asked.contains(actionKey)) {
              session.add(
                  Finding.of(
                      Finding.Kind.ACTION_NOT_REACHED,
                      actionKey.substring(actionKey.indexOf('/') + 1),
                      "journaled, not run by this code"));
            }
          }
        }
        results.add(result(r, session));
      }
    } finally {
      if (harness != null) harness.closeQuietly();
      store.release();
    }
    return new ReplayReport(
        agent.getClass().getName(),
        source.name,
        ns,
        results,
        (System.nanoTime() - start) / 1_000_000);
  }

  private static ReplayReport.Record result(Recorded r, VerifyStore.Session s) {
    ReplayReport.Status status = ReplayReport.Status.IDENTICAL;
    for (Finding f : s.findings) {
      if (f.kind.divergent) {
        status = ReplayReport.Status.DIVERGENT;
        break;
      }
      status = ReplayReport.Status.WOULD_RUN;
    }
    return new ReplayReport.Record(r.key, r.seqNum, status, s.findings);
  }

  /** Flink Agents' operator in Flink's one-operator harness, keyed by the recorded key. */
  private static final class Harness {
    final KeyedOneInputStreamOperatorTestHarness<String, Object, Object> h;
    final ActionExecutionOperator<Object, Object> operator;

    @SuppressWarnings("unchecked")
    Harness(AgentPlan plan, VerifyStore store) throws Exception {
      h =
          new KeyedOneInputStreamOperatorTestHarness<>(
              new VerifyOperatorFactory(plan, store),
              (KeySelector<Object, String>) in -> KEY.get(),
              Types.STRING);
      h.open();
      operator = (ActionExecutionOperator<Object, Object>) h.getOperator();
    }

    void run(String key, Object input) throws Exception {
      KEY.set(key);
      try {
        h.processElement(new StreamRecord<>(input));
        operator.waitInFlightEventsFinished();
      } finally {
        KEY.remove();
      }
    }

    void closeQuietly() {
      try {
        h.close();
      } catch (Throwable ignored) {
        // An operator that failed may not close cleanly; it is dropped either way.
      }
    }
  }

  /** Flink Agents' factory with the verify store (its store-taking constructor is protected). */
  private static final class VerifyOperatorFactory
      extends ActionExecutionOperatorFactory<Object, Object> {
    private static final long serialVersionUID = 1L;

    VerifyOperatorFactory(AgentPlan plan, ActionStateStore store) {
      super(plan, true, store);
    }
  }

  /**
   * The command line:
   *
   * <pre>
   * Replayer --agent CLASS (--export FILE | --target HOST:PORT --job JOB)
   *          [--namespace NS] [--input-class CLASS] [--limit N] [--json FILE]
   * </pre>
   *
   * Prints the text report; {@code --json} also writes the JSON one. Exit codes: 0 nothing
   * divergent, 1 a record diverged, 64 usage, 2 the records could not be read.
   */
  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** {@link #main} without exiting: the exit code. */
  public static int run(String[] args) {
    Map<String, String> a = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String k = args[i];
      if (!k.startsWith("--") || i + 1 >= args.length) return usage("bad argument: " + k);
      a.put(k.substring(2), args[++i]);
    }
    for (String k : a.keySet()) {
      if (!List.of("agent", "export", "target", "job", "namespace", "input-class", "limit", "json")
          .contains(k)) {
        return usage("unknown flag --" + k);
      }
    }
    if (!a.containsKey("agent")) return usage("--agent is required");
    if (a.containsKey("export") == a.containsKey("target")) {
      return usage("give one of --export FILE or --target HOST:PORT --job JOB");
    }
    if (a.containsKey("target") && !a.containsKey("job")) return usage("--job is required with --target");
    Replayer replayer;
    try {
      ClassLoader cl = Thread.currentThread().getContextClassLoader();
      Agent agent =
          (Agent) Class.forName(a.get("agent"), true, cl).getDeclaredConstructor().newInstance();
      replayer = forAgent(agent);
      if (a.containsKey("namespace")) replayer.namespace(a.get("namespace"));
      if (a.containsKey("input-class")) replayer.inputClass(Class.forName(a.get("input-class"), true, cl));
      if (a.containsKey("limit")) replayer.limit(Integer.parseInt(a.get("limit")));
    } catch (ReflectiveOperationException | ClassCastException | IllegalArgumentException e) {
      return usage("--agent/--input-class/--limit: " + e);
    }
    GrpcJournalClient client = null;
    try {
      Source source;
      if (a.containsKey("export")) {
        source = fromExport(Paths.get(a.get("export")));
      } else {
        client =
            new GrpcJournalClient(
                a.get("target"),
                RetryOptions.defaults(),
                ClientSecurity.fromMap(Map.of(), System.getenv()));
        source = fromJournal(client, a.get("job"), a.containsKey("namespace") ? a.get("namespace") + "/" : "");
      }
      ReplayReport report = replayer.replay(source);
      System.out.print(report.text());
      if (a.containsKey("json")) {
        Files.write(Paths.get(a.get("json")), report.json().getBytes(StandardCharsets.UTF_8));
      }
      return report.exitCode();
    } catch (IOException e) {
      System.err.println("replayer: cannot read the records: " + e);
      return 2;
    } catch (JournalException | IllegalArgumentException e) {
      System.err.println("replayer: " + e.getMessage());
      return 2;
    } catch (Exception e) {
      System.err.println("replayer: " + e);
      return 2;
    } finally {
      if (client != null) client.close();
    }
  }

  private static int usage(String why) {
    System.err.println("replayer: " + why);
    System.err.println(
        "usage: Replayer --agent CLASS (--export FILE | --target HOST:PORT --job JOB)"
            + " [--namespace NS] [--input-class CLASS] [--limit N] [--json FILE]");
    return 64;
  }
}
