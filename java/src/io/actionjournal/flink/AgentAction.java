package io.actionjournal.flink;

/**
 * What the store needs of a Flink Agents action: its name, stable across JVM restarts. Wire it to
 * Flink Agents with {@code action::getName}.
 */
@FunctionalInterface
public interface AgentAction {
  String name();
}
