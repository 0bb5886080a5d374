package io.actionjournal.flink.agents.replay;

import java.util.Locale;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.api.InputEvent;
import org.apache.flink.agents.api.agents.Agent;
import org.apache.flink.agents.api.annotation.Action;
import org.apache.flink.agents.api.context.RunnerContext;

/** Version D of the review agent: A's calls, another output (upper-cased). */
public class ReviewAgentD extends Agent {
  @Action(listenEventTypes = {InputEvent.EVENT_TYPE})
  public static void review(Event event, RunnerContext ctx) throws Exception {
    Review.review(event, ctx, Review.REPLY_A, out -> out.toUpperCase(Locale.ROOT));
  }
}
