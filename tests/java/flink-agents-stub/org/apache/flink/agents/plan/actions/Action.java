package org.apache.flink.agents.plan.actions;

import java.util.List;
import java.util.Objects;

/**
 * Test stand-in for Flink Agents' Action. The real constructor also takes the function to run
 * ({@code org.apache.flink.agents.plan.Function}); the adapter never calls it.
 */
public class Action {
  private final String name;
  private final List<String> triggerConditions;

  public Action(String name, List<String> triggerConditions) {
    this.name = name;
    this.triggerConditions = triggerConditions;
  }

  public String getName() {
    return name;
  }

  public List<String> getTriggerConditions() {
    return triggerConditions;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Action
        && name.equals(((Action) o).name)
        && Objects.equals(triggerConditions, ((Action) o).triggerConditions);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, triggerConditions);
  }
}
