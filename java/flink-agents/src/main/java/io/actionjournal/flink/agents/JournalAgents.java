package io.actionjournal.flink.agents;

import java.util.Objects;
import org.apache.flink.agents.api.agents.Agent;
import org.apache.flink.agents.plan.AgentConfiguration;
import org.apache.flink.agents.plan.AgentPlan;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;

/**
 * Applies a Flink Agents agent to a keyed stream with actionjournal as its action state store: what
 * {@code AgentsExecutionEnvironment.fromDataStream(..).apply(agent).toDataStream()} builds, with the
 * store injected (Flink Agents 0.3.1 selects built-in stores only by name).
 *
 * <pre>{@code
 * DataStream<Object> out =
 *     JournalAgents.apply(input.keyBy(r -> r.id), new MyAgent(), new AgentConfiguration(),
 *         new JournalActionStateStore(JournalStoreOptions.forJob("orders")));
 * }</pre>
 *
 * Give the result a stable {@code uid(..)} as for any stateful operator: the operator's ID is the
 * store's namespace (unless {@link JournalStoreOptions#withNamespace} fixes one).
 */
public final class JournalAgents {
  private JournalAgents() {}

  public static <IN, K> SingleOutputStreamOperator<Object> apply(
      KeyedStream<IN, K> input, Agent agent, AgentConfiguration config, JournalActionStateStore store)
      throws Exception {
    Objects.requireNonNull(input, "input");
    AgentPlan plan = new AgentPlan(Objects.requireNonNull(agent, "agent"), config);
    return input
        .transform(
            "action-execute-operator",
            TypeInformation.of(Object.class),
            new JournalOperatorFactory<IN, Object>(plan, true, store))
        .setParallelism(input.getParallelism());
  }

  /** With Flink Agents' default configuration. */
  public static <IN, K> SingleOutputStreamOperator<Object> apply(
      KeyedStream<IN, K> input, Agent agent, JournalActionStateStore store) throws Exception {
    return apply(input, agent, new AgentConfiguration(), store);
  }
}
