package io.actionjournal.flink;

/**
 * What the store needs of a Flink Agents event: its content as bytes, from the job's own
 * serializer, so that the same event yields the same bytes in every JVM (never {@code
 * hashCode()}).
 */
@FunctionalInterface
public interface AgentEvent {
  byte[] content();
}
