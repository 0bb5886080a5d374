package io.actionjournal.flink.agents.replay;

import io.actionjournal.flink.agents.JournalCalls;
import java.util.Map;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.api.InputEvent;
import org.apache.flink.agents.api.agents.Agent;
import org.apache.flink.agents.api.annotation.Action;
import org.apache.flink.agents.api.context.RunnerContext;

/** Version C of the review agent: A with one more action. */
public class ReviewAgentC extends Agent {
  @Action(listenEventTypes = {InputEvent.EVENT_TYPE})
  public static void review(Event event, RunnerContext ctx) throws Exception {
    Review.review(event, ctx, Review.REPLY_A);
  }

  /** New in C: an audit of every input, a durable call the journal of A never saw. */
  @Action(listenEventTypes = {InputEvent.EVENT_TYPE})
  public static void audit(Event event, RunnerContext ctx) throws Exception {
    String input = (String) InputEvent.fromEvent(event).getInput();
    ctx.durableExecute(
        JournalCalls.call(
            "audit", Map.of("input", input), String.class, () -> Review.effect("audit", input)));
  }
}
