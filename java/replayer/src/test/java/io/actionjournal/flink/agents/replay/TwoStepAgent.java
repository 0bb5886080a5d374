package io.actionjournal.flink.agents.replay;

import io.actionjournal.flink.agents.JournalCalls;
import java.util.Map;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.api.InputEvent;
import org.apache.flink.agents.api.OutputEvent;
import org.apache.flink.agents.api.agents.Agent;
import org.apache.flink.agents.api.annotation.Action;
import org.apache.flink.agents.api.context.RunnerContext;

/**
 * Two actions in turn: "prepare" (no durable call) hands the input on to "answer", whose one call
 * has a reconciler, so Flink Agents journals it PENDING before it runs ({@link
 * Review#failInCall} leaves it so).
 */
public class TwoStepAgent extends Agent {
  @Action(listenEventTypes = {InputEvent.EVENT_TYPE})
  public static void prepare(Event event, RunnerContext ctx) {
    ctx.sendEvent(new Event("prepared", Map.of("input", InputEvent.fromEvent(event).getInput())));
  }

  @Action(listenEventTypes = {"prepared"})
  public static void answer(Event event, RunnerContext ctx) throws Exception {
    String input = (String) event.getAttr("input");
    String r =
        ctx.durableExecute(
            JournalCalls.call(
                "reply",
                Map.of("input", input),
                String.class,
                () -> {
                  String out = Review.effect("reply", input);
                  if (Review.failInCall) {
                    Review.failInCall = false;
                    throw new AssertionError("injected failure inside the reply to " + input);
                  }
                  return out;
                },
                () -> Review.effect("reconcile", input)));
    ctx.sendEvent(new OutputEvent(r));
  }
}
