package io.actionjournal.flink.agents.replay;

import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.api.InputEvent;
import org.apache.flink.agents.api.agents.Agent;
import org.apache.flink.agents.api.annotation.Action;
import org.apache.flink.agents.api.context.RunnerContext;

/** Version A of the review agent: the recorded version. */
public class ReviewAgentA extends Agent {
  @Action(listenEventTypes = {InputEvent.EVENT_TYPE})
  public static void review(Event event, RunnerContext ctx) throws Exception {
    Review.review(event, ctx, Review.REPLY_A);
  }
}
