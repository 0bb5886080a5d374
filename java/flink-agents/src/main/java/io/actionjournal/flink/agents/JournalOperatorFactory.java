package io.actionjournal.flink.agents;

import java.util.Objects;
import org.apache.flink.agents.plan.AgentPlan;
import org.apache.flink.agents.runtime.operator.ActionExecutionOperatorFactory;
import org.apache.flink.streaming.api.operators.StreamOperator;
import org.apache.flink.streaming.api.operators.StreamOperatorParameters;

/**
 * Flink Agents' operator factory with a {@link JournalActionStateStore} injected through the
 * store-taking constructor (protected in 0.3.1, so reached by this named subclass: nothing of an
 * outer instance travels with it). In each task it binds the store's namespace to the operator's
 * ID before the operator is created, so two agent operators of one job keep their records apart.
 */
public final class JournalOperatorFactory<IN, OUT> extends ActionExecutionOperatorFactory<IN, OUT> {
  private static final long serialVersionUID = 1L;

  private final JournalActionStateStore store;

  /** {@code inputIsJava}: true for Java DataStreams (Flink Agents' Python path passes false). */
  public JournalOperatorFactory(AgentPlan plan, boolean inputIsJava, JournalActionStateStore store) {
    super(Objects.requireNonNull(plan, "plan"), inputIsJava, Objects.requireNonNull(store, "store"));
    this.store = store;
  }

  @Override
  public <T extends StreamOperator<OUT>> T createStreamOperator(
      StreamOperatorParameters<OUT> parameters) {
    // The factory arrives deserialized in the task: `store` and the one the superclass holds are
    // the same object, so the operator sees the bound namespace.
    store.bindOperator(parameters.getStreamConfig().getOperatorID().toHexString());
    return super.createStreamOperator(parameters);
  }
}
