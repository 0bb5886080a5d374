package io.actionjournal.flink.agents;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.api.InputEvent;
import org.apache.flink.agents.api.OutputEvent;
import org.apache.flink.agents.api.agents.Agent;
import org.apache.flink.agents.api.annotation.Action;
import org.apache.flink.agents.api.context.DurableCallable;
import org.apache.flink.agents.api.context.RunnerContext;

/**
 * A Flink Agents Java agent whose one action makes two durable calls, each with a side effect
 * outside the JVM: a line appended (and forced to disk) to the file named by the system property
 * {@code aj.effects}, which the JVM's death cannot roll back. "plan" is completion-only; "act" has
 * a reconciler (Flink Agents' reconcile path for a call left PENDING): it looks for its own effect
 * in the file and returns what that call returned, doing it only if it never happened. Each call's
 * result carries a fresh nonce, so a call run twice is visible in the output.
 *
 * <p>Faults ({@code aj.fault}): {@code error:INPUT} throws an Error once (a marker file remembers)
 * after act's effect for INPUT, before its result is recorded (act stays PENDING);
 * {@code hang:INPUT} blocks there for ever, for the test to SIGKILL the JVM.
 *
 * <p>Each action's start appends its input to {@code aj.effects + ".started"}: an input started
 * and not yet in the output may have a call between its effect and its journal entry.
 */
public class TwoCallAgent extends Agent {
  @Action(listenEventTypes = {InputEvent.EVENT_TYPE})
  public static void answer(Event event, RunnerContext ctx) throws Exception {
    String input = (String) InputEvent.fromEvent(event).getInput();
    appendTo(started(), input);
    Thread.sleep(Long.getLong("aj.action-ms", 30));
    String plan = ctx.durableExecute(new Call("plan", input, false));
    // aj.act-id: another version of the agent, whose second call changed.
    String act = ctx.durableExecute(new Call(System.getProperty("aj.act-id", "act"), input, true));
    ctx.sendEvent(new OutputEvent(input + "=" + plan + "," + act));
  }

  /** A side effect: one line "NAME INPUT NONCE" in the effects file. */
  static final class Call implements DurableCallable<String> {
    private final String name;
    private final String input;
    private final boolean reconciles;

    Call(String name, String input, boolean reconciles) {
      this.name = name;
      this.input = input;
      this.reconciles = reconciles;
    }

    @Override
    public String getId() {
      return name;
    }

    @Override
    public Class<String> getResultClass() {
      return String.class;
    }

    @Override
    public String call() throws Exception {
      String nonce = UUID.randomUUID().toString().substring(0, 8);
      append(name + " " + input + " " + nonce);
      if (name.equals("act")) fault(input);
      return name + ":" + nonce;
    }

    @Override
    public Callable<String> reconciler() {
      if (!reconciles) return null;
      return () -> {
        append("reconcile " + input + " -");
        for (String line : Files.readAllLines(effects(), StandardCharsets.UTF_8)) {
          String[] f = line.split(" ");
          if (f[0].equals(name) && f[1].equals(input)) return name + ":" + f[2];
        }
        return call();
      };
    }
  }

  private static void fault(String input) throws Exception {
    String fault = System.getProperty("aj.fault", "");
    if (fault.equals("error:" + input)) {
      Path marker = Paths.get(effects() + ".faulted");
      if (!Files.exists(marker)) {
        Files.createFile(marker);
        throw new AssertionError("injected failure in act(" + input + ")");
      }
    } else if (fault.equals("hang:" + input)) {
      Files.write(Paths.get(effects() + ".hung"), new byte[0]);
      Thread.sleep(Long.MAX_VALUE);
    }
  }

  static Path effects() {
    return Paths.get(System.getProperty("aj.effects"));
  }

  static Path started() {
    return Paths.get(effects() + ".started");
  }

  static void append(String line) throws IOException {
    appendTo(effects(), line);
  }

  static synchronized void appendTo(Path file, String line) throws IOException {
    try (java.nio.channels.FileChannel c =
        java.nio.channels.FileChannel.open(
            file, StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE)) {
      c.write(java.nio.ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8)));
      c.force(true);
    }
  }
}
