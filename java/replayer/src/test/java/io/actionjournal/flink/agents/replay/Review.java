package io.actionjournal.flink.agents.replay;

import io.actionjournal.flink.agents.JournalCalls;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.api.InputEvent;
import org.apache.flink.agents.api.OutputEvent;
import org.apache.flink.agents.api.context.RunnerContext;

/**
 * The test agents' one action, "review": two durable calls made with {@link JournalCalls} (so
 * that their prompts are part of their identity), each a counted side effect, then an output. The
 * versions differ in one prompt ({@link ReviewAgentB}), in one more action ({@link
 * ReviewAgentC}), in both ({@link ReviewAgentE}) or in their output ({@link ReviewAgentD}).
 */
final class Review {
  static final String CLASSIFY = "Classify the sentiment of: ";
  static final String REPLY_A = "Write a polite reply to: ";
  static final String REPLY_B = "Write a short, polite reply to: ";

  /** Side effects run, by call name: what a replay must leave alone. */
  static final Map<String, AtomicInteger> EFFECTS = new ConcurrentHashMap<>();
  /** When set, the next action fails (an Error, as a crash would) after both calls, once. */
  static volatile boolean failAtEnd;
  /** When set, the next call of {@link TwoStepAgent} fails inside, after its effect, once. */
  static volatile boolean failInCall;

  private Review() {}

  static void review(Event event, RunnerContext ctx, String replyPrompt) throws Exception {
    review(event, ctx, replyPrompt, out -> out);
  }

  static void review(
      Event event, RunnerContext ctx, String replyPrompt, UnaryOperator<String> format)
      throws Exception {
    String input = (String) InputEvent.fromEvent(event).getInput();
    String label =
        ctx.durableExecute(
            JournalCalls.call(
                "classify",
                Map.of("prompt", CLASSIFY + input),
                String.class,
                () -> effect("classify", input)));
    String reply =
        ctx.durableExecute(
            JournalCalls.call(
                "reply",
                Map.of("prompt", replyPrompt + input, "label", label),
                String.class,
                () -> effect("reply", input)));
    if (failAtEnd) {
      failAtEnd = false;
      throw new AssertionError("injected failure after the calls of " + input);
    }
    ctx.sendEvent(new OutputEvent(format.apply(input + "=" + label + "," + reply)));
  }

  /** C's and E's new action: an audit of every input, a call the journal of A never saw. */
  static void audit(Event event, RunnerContext ctx) throws Exception {
    String input = (String) InputEvent.fromEvent(event).getInput();
    ctx.durableExecute(
        JournalCalls.call("audit", Map.of("input", input), String.class, () -> effect("audit", input)));
  }

  static String effect(String name, String input) {
    int n = EFFECTS.computeIfAbsent(name, k -> new AtomicInteger()).incrementAndGet();
    return name + ":" + input + ":" + n;
  }

  static int effects(String name) {
    AtomicInteger n = EFFECTS.get(name);
    return n == null ? 0 : n.get();
  }

  static int effects() {
    return EFFECTS.values().stream().mapToInt(AtomicInteger::get).sum();
  }
}
