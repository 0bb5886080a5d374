package com.example.agents;

import io.actionjournal.flink.agents.JournalActionStateStore;
import io.actionjournal.flink.agents.JournalAgents;
import io.actionjournal.flink.agents.JournalStoreOptions;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.api.InputEvent;
import org.apache.flink.agents.api.OutputEvent;
import org.apache.flink.agents.api.agents.Agent;
import org.apache.flink.agents.api.annotation.Action;
import org.apache.flink.agents.api.context.DurableCallable;
import org.apache.flink.agents.api.context.RunnerContext;
import org.apache.flink.agents.plan.AgentConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * Reviews a few product comments. The "model call" is a durable call: after a crash and a replay,
 * its journaled result is used and it does not run (nor bill) again.
 *
 * <p>Settings: ACTIONJOURNAL_TARGET (the server, 127.0.0.1:7450 by default) and
 * ACTIONJOURNAL_JOB_ID (the journal's job, "review-example" by default).
 */
public final class ReviewJob {
  public static void main(String[] args) throws Exception {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.enableCheckpointing(1000);
    env.setParallelism(1);
    // actionjournal.* keys, else ACTIONJOURNAL_* variables (target, TLS, prune mode, ...).
    Map<String, String> conf = new HashMap<>();
    conf.put(
        "actionjournal.job-id",
        System.getenv().getOrDefault("ACTIONJOURNAL_JOB_ID", "review-example"));
    JournalStoreOptions options = JournalStoreOptions.fromMap(conf, System.getenv());
    JournalAgents.apply(
            env.fromData("great coffee", "slow delivery", "great price").keyBy(s -> s),
            new ReviewAgent(),
            new AgentConfiguration(),
            new JournalActionStateStore(options))
        .uid("review-agent")
        .print();
    env.execute("review-example");
  }

  /** One action, one durable call. */
  public static class ReviewAgent extends Agent {
    @Action(listenEventTypes = {InputEvent.EVENT_TYPE})
    public static void review(Event event, RunnerContext ctx) throws Exception {
      String comment = (String) InputEvent.fromEvent(event).getInput();
      String verdict = ctx.durableExecute(new ModelCall(comment));
      ctx.sendEvent(new OutputEvent("review " + comment + ": " + verdict));
    }
  }

  /** Stands for an LLM call: deterministic here, billed and slow in life. */
  static final class ModelCall implements DurableCallable<String> {
    private final String comment;

    ModelCall(String comment) {
      this.comment = comment;
    }

    @Override
    public String getId() {
      return "model.review";
    }

    @Override
    public Class<String> getResultClass() {
      return String.class;
    }

    @Override
    public String call() {
      return comment.toLowerCase(Locale.ROOT).contains("great") ? "positive" : "negative";
    }
  }

  private ReviewJob() {}
}
