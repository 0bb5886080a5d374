package io.actionjournal.flink.agents.replay;

import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.api.InputEvent;
import org.apache.flink.agents.api.agents.Agent;
import org.apache.flink.agents.api.annotation.Action;
import org.apache.flink.agents.api.context.RunnerContext;

/** Version E of the review agent: B (a prompt changed) with C's new action. */
public class ReviewAgentE extends Agent {
  @Action(listenEventTypes = {InputEvent.EVENT_TYPE})
  public static void review(Event event, RunnerContext ctx) throws Exception {
    Review.review(event, ctx, Review.REPLY_B);
  }

  @Action(listenEventTypes = {InputEvent.EVENT_TYPE})
  public static void audit(Event event, RunnerContext ctx) throws Exception {
    Review.audit(event, ctx);
  }
}
