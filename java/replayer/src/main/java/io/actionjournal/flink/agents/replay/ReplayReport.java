package io.actionjournal.flink.agents.replay;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** What a replay found: per record, and the first divergence of each grouped by action and call. */
public final class ReplayReport {
  /** How one record fared. */
  public enum Status {
    /** Every action ran on the journal's answers and ended as journaled. */
    IDENTICAL,
    /** The new code contradicts the journal (see the record's first finding). */
    DIVERGENT,
    /** The new code agrees with the journal but would run something it does not hold. */
    WOULD_RUN,
    /** Not replayed: the journal holds no completed action that carries the record's input. */
    SKIPPED
  }

  /** One record's result. */
  public static final class Record {
    public final String key;
    public final long seqNum;
    public final Status status;
    /** What was found, in order; the first divergent one (else the first) decides the status. */
    public final List<Finding> findings;

    Record(String key, long seqNum, Status status, List<Finding> findings) {
      this.key = key;
      this.seqNum = seqNum;
      this.status = status;
      this.findings = Collections.unmodifiableList(new ArrayList<>(findings));
    }

    /** The finding that decided the status; null when identical or skipped. */
    public Finding first() {
      for (Finding f : findings) if (f.kind.divergent) return f;
      return findings.isEmpty() ? null : findings.get(0);
    }
  }

  public final String agent;
  public final String source;
  public final String namespace;
  public final List<Record> records;
  public final long elapsedMillis;

  ReplayReport(
      String agent, String source, String namespace, List<Record> records, long elapsedMillis) {
    this.agent = agent;
    this.source = source;
    this.namespace = namespace;
    this.records = Collections.unmodifiableList(new ArrayList<>(records));
    this.elapsedMillis = elapsedMillis;
  }

  public long count(Status s) {
    return records.stream().filter(r -> r.status == s).count();
  }

  /** Records checked (replayed), skipped ones not counted. */
  public long checked() {
    return records.size() - count(Status.SKIPPED);
  }

  /** The records of {@code status}. */
  public List<Record> of(Status status) {
    List<Record> out = new ArrayList<>();
    for (Record r : records) if (r.status == status) out.add(r);
    return out;
  }

  /** Divergent and would-run records grouped by their first finding's kind, action and function. */
  public Map<String, List<Record>> groups() {
    Map<String, List<Record>> g = new LinkedHashMap<>();
    for (Record r : records) {
      Finding f = r.first();
      if (f == null || r.status == Status.SKIPPED) continue;
      String k =
          f.kind.name().toLowerCase(Locale.ROOT) + " action=" + f.action + " function=" + f.function()
              + (f.index >= 0 ? " index=" + f.index : "");
      g.computeIfAbsent(k, x -> new ArrayList<>()).add(r);
    }
    return g;
  }

  /** The process exit code: 1 when a record diverged, else 0. */
  public int exitCode() {
    return count(Status.DIVERGENT) > 0 ? 1 : 0;
  }

  /** A report for people. */
  public String text() {
    StringBuilder b = new StringBuilder();
    b.append("replayed ").append(checked()).append(" record(s) of ").append(source);
    if (!namespace.isEmpty()) b.append(", namespace ").append(namespace);
    b.append(", with ").append(agent).append(", in ").append(elapsedMillis).append(" ms\n");
    b.append("  identical ").append(count(Status.IDENTICAL));
    b.append(", divergent ").append(count(Status.DIVERGENT));
    b.append(", would run ").append(count(Status.WOULD_RUN));
    b.append(", skipped ").append(count(Status.SKIPPED)).append('\n');
    for (Map.Entry<String, List<Record>> e : groups().entrySet()) {
      Record r = e.getValue().get(0);
      b.append(r.status == Status.DIVERGENT ? "DIVERGENT " : "would run ");
      b.append(e.getKey()).append(": ").append(e.getValue().size()).append(" record(s); first: key ");
      b.append(r.key).append(" seq ").append(r.seqNum).append(": ").append(r.first()).append('\n');
    }
    List<Record> skipped = of(Status.SKIPPED);
    if (!skipped.isEmpty()) {
      Record r = skipped.get(0);
      b.append("skipped ").append(skipped.size()).append(" record(s); first: key ").append(r.key);
      b.append(" seq ").append(r.seqNum).append(": ").append(r.findings.get(0).detail).append('\n');
    }
    return b.toString();
  }

  /** The report as JSON: counts, groups, and every record that was not identical. */
  public String json() {
    ObjectMapper m = new ObjectMapper();
    ObjectNode root = m.createObjectNode();
    root.put("agent", agent);
    root.put("source", source);
    root.put("namespace", namespace);
    root.put("elapsed_ms", elapsedMillis);
    root.put("checked", checked());
    for (Status s : Status.values()) root.put(s.name().toLowerCase(Locale.ROOT), count(s));
    ArrayNode groups = root.putArray("groups");
    for (Map.Entry<String, List<Record>> e : groups().entrySet()) {
      ObjectNode g = groups.addObject();
      g.put("group", e.getKey());
      g.put("records", e.getValue().size());
      g.set("first", record(m, e.getValue().get(0)));
    }
    ArrayNode rs = root.putArray("records");
    for (Record r : records) if (r.status != Status.IDENTICAL) rs.add(record(m, r));
    return root.toString();
  }

  private static ObjectNode record(ObjectMapper m, Record r) {
    ObjectNode o = m.createObjectNode();
    o.put("key", r.key);
    o.put("seq", r.seqNum);
    o.put("status", r.status.name().toLowerCase(Locale.ROOT));
    ArrayNode fs = o.putArray("findings");
    for (Finding f : r.findings) {
      ObjectNode j = fs.addObject();
      j.put("kind", f.kind.name().toLowerCase(Locale.ROOT));
      j.put("action", f.action);
      if (f.index >= 0) j.put("index", f.index);
      if (f.journaledFunctionId != null) {
        j.put("journal_function_id", f.journaledFunctionId);
        j.put("journal_args_digest", f.journaledArgsDigest);
      }
      if (f.functionId != null) {
        j.put("function_id", f.functionId);
        j.put("args_digest", f.argsDigest);
      }
      if (f.detail != null) j.put("detail", f.detail);
    }
    return o;
  }
}
