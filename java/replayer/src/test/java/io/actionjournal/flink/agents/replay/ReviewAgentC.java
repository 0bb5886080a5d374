package io.actionjournal.flink.agents.replay;

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

  @Action(listenEventTypes = {InputEvent.EVENT_TYPE})
  public static void audit(Event event, RunnerContext ctx) throws Exception {
    Review.audit(event, ctx);
  }
}
