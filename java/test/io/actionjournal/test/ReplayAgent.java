package io.actionjournal.test;

import io.actionjournal.client.JournalClient;
import io.actionjournal.flink.AgentAction;
import io.actionjournal.flink.AgentEvent;
import io.actionjournal.flink.JournalActionStateStore;
import io.actionjournal.flink.KeyCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HexFormat;
import java.util.List;

/**
 * An agent program as Flink Agents runs one: per record three actions (classify; enrich, which
 * makes two durable calls; respond), each looked up in the journal first and replayed from it
 * when it completed before. Every real execution of an action or call appends a line to a side
 * effect file outside the JVM; every action's state is written to an output file.
 *
 * <p>usage: ReplayAgent TARGET WORK_DIR RECORDS ATTEMPT CRASH_AT (RECORD:ACTION, or none: the
 * JVM kills itself with SIGKILL right after that action's state is journaled)
 */
public final class ReplayAgent {
  private static final List<String> ACTIONS = List.of("classify", "enrich", "respond");

  public static void main(String[] args) throws Exception {
    String target = args[0];
    Path work = Path.of(args[1]);
    int records = Integer.parseInt(args[2]);
    long attempt = Long.parseLong(args[3]);
    String crashAt = args[4];
    Path effects = work.resolve("effects.txt");
    Path outputs = work.resolve("outputs-attempt-" + attempt + ".txt");
    try (JournalClient client = new JournalClient(target)) {
      JournalActionStateStore store =
          new JournalActionStateStore(client, "replay-job", attempt, KeyCodec.TO_STRING);
      for (int r = 0; r < records; r++) {
        String key = "user-" + (r % 2);
        long seq = r;
        byte[] content = ("event " + r + ": a question").getBytes(StandardCharsets.UTF_8);
        AgentEvent event = () -> content;
        for (String name : ACTIONS) {
          AgentAction action = () -> name;
          byte[] state = store.get(key, seq, action, event);
          if (state == null) {
            state = run(store, key, seq, action, event, r, effects);
            store.put(key, seq, action, event, state);
          }
          append(outputs, r + " " + name + " " + HexFormat.of().formatHex(state));
          if (crashAt.equals(r + ":" + name)) {
            new ProcessBuilder("kill", "-KILL", String.valueOf(ProcessHandle.current().pid()))
                .start()
                .waitFor();
            Thread.sleep(60_000);
          }
        }
      }
    }
  }

  // The action's real work: answers that differ on every execution (time), so
  // that a replay that ran again could not match the first run's bytes.
  private static byte[] run(
      JournalActionStateStore store,
      String key,
      long seq,
      AgentAction action,
      AgentEvent event,
      int r,
      Path effects)
      throws Exception {
    String name = action.name();
    if (name.equals("enrich")) {
      StringBuilder out = new StringBuilder("enriched");
      for (int i = 0; i < 2; i++) {
        String fn = "lookup." + (char) ('a' + i);
        byte[] result =
            store.durableCall(
                key, seq, action, event, i, fn, ("q" + r).getBytes(StandardCharsets.UTF_8),
                () -> {
                  append(effects, "call " + fn + " " + r);
                  return (fn + "@" + System.nanoTime()).getBytes(StandardCharsets.UTF_8);
                });
        out.append(' ').append(new String(result, StandardCharsets.UTF_8));
      }
      return out.toString().getBytes(StandardCharsets.UTF_8);
    }
    append(effects, "action " + name + " " + r);
    return (name + " of " + r + " @" + System.nanoTime()).getBytes(StandardCharsets.UTF_8);
  }

  private static void append(Path file, String line) throws Exception {
    Files.writeString(
        file, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
  }
}
