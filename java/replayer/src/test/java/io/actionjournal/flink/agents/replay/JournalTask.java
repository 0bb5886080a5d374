package io.actionjournal.flink.agents.replay;

import io.actionjournal.flink.agents.JournalActionStateStore;
import io.actionjournal.flink.agents.JournalOperatorFactory;
import io.actionjournal.flink.agents.JournalStoreOptions;
import java.util.HashMap;
import java.util.Map;
import org.apache.flink.agents.api.agents.Agent;
import org.apache.flink.agents.plan.AgentConfiguration;
import org.apache.flink.agents.plan.AgentPlan;
import org.apache.flink.agents.runtime.operator.ActionExecutionOperator;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;

/**
 * One task as Flink runs it: Flink Agents' operator (in Flink's harness) with {@code agent} and
 * JournalActionStateStore on the server at {@code target}, namespace "review", inputs "KEY:..."
 * keyed by KEY. Made afresh, it is a restore: the store issues a new attempt.
 */
final class JournalTask implements AutoCloseable {
  final KeyedOneInputStreamOperatorTestHarness<String, String, Object> h;

  /** {@code settings}: more actionjournal.* keys (job-id required). */
  JournalTask(String target, Agent agent, Map<String, String> settings) throws Exception {
    Map<String, String> all = new HashMap<>(settings);
    all.put("actionjournal.target", target);
    all.put("actionjournal.namespace", "review");
    h =
        new KeyedOneInputStreamOperatorTestHarness<>(
            new JournalOperatorFactory<String, Object>(
                new AgentPlan(agent, new AgentConfiguration()),
                true,
                new JournalActionStateStore(JournalStoreOptions.fromMap(all, Map.of()))),
            (KeySelector<String, String>) s -> s.substring(0, s.indexOf(':')),
            Types.STRING);
    h.open();
  }

  /** Processes {@code input} and every action it triggers. */
  @SuppressWarnings("unchecked")
  void run(String input) throws Exception {
    h.processElement(new StreamRecord<>(input));
    ((ActionExecutionOperator<String, Object>) h.getOperator()).waitInFlightEventsFinished();
  }

  @Override
  public void close() {
    try {
      h.close();
    } catch (Exception ignored) {
      // a task that failed
    }
  }
}
