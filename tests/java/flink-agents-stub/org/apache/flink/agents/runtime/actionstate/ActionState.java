package org.apache.flink.agents.runtime.actionstate;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.flink.agents.api.Event;
import org.apache.flink.agents.api.context.MemoryUpdate;

/** Test stand-in for Flink Agents' ActionState. */
public class ActionState implements Serializable {
  private final Event taskEvent;
  private final List<MemoryUpdate> sensoryMemoryUpdates;
  private final List<MemoryUpdate> shortTermMemoryUpdates;
  private final List<Event> outputEvents;
  private final List<CallResult> callResults;
  private boolean completed;

  public ActionState(final Event taskEvent) {
    this(taskEvent, null, null, null, null, false);
  }

  public ActionState(
      Event taskEvent,
      List<MemoryUpdate> sensoryMemoryUpdates,
      List<MemoryUpdate> shortTermMemoryUpdates,
      List<Event> outputEvents,
      List<CallResult> callResults,
      boolean completed) {
    this.taskEvent = taskEvent;
    this.sensoryMemoryUpdates = sensoryMemoryUpdates != null ? sensoryMemoryUpdates : new ArrayList<>();
    this.shortTermMemoryUpdates =
        shortTermMemoryUpdates != null ? shortTermMemoryUpdates : new ArrayList<>();
    this.outputEvents = outputEvents != null ? outputEvents : new ArrayList<>();
    this.callResults = callResults != null ? callResults : new ArrayList<>();
    this.completed = completed;
  }

  public Event getTaskEvent() {
    return taskEvent;
  }

  public List<MemoryUpdate> getSensoryMemoryUpdates() {
    return sensoryMemoryUpdates;
  }

  public List<MemoryUpdate> getShortTermMemoryUpdates() {
    return shortTermMemoryUpdates;
  }

  public List<Event> getOutputEvents() {
    return outputEvents;
  }

  public void addSensoryMemoryUpdate(MemoryUpdate memoryUpdate) {
    sensoryMemoryUpdates.add(memoryUpdate);
  }

  public void addShortTermMemoryUpdate(MemoryUpdate memoryUpdate) {
    shortTermMemoryUpdates.add(memoryUpdate);
  }

  public void addEvent(Event event) {
    outputEvents.add(event);
  }

  public List<CallResult> getCallResults() {
    return callResults;
  }

  public void addCallResult(CallResult callResult) {
    callResults.add(callResult);
  }

  public void replaceCallResult(int index, CallResult callResult) {
    callResults.set(index, callResult);
  }

  public CallResult getCallResult(int index) {
    return index >= 0 && index < callResults.size() ? callResults.get(index) : null;
  }

  public int getCallResultCount() {
    return callResults.size();
  }

  public void clearCallResultsFrom(int fromIndex) {
    while (callResults.size() > fromIndex) callResults.remove(callResults.size() - 1);
  }

  public boolean isCompleted() {
    return completed;
  }

  public void markCompleted() {
    completed = true;
    callResults.clear();
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof ActionState)) return false;
    ActionState s = (ActionState) o;
    return completed == s.completed
        && Objects.equals(taskEvent, s.taskEvent)
        && sensoryMemoryUpdates.equals(s.sensoryMemoryUpdates)
        && shortTermMemoryUpdates.equals(s.shortTermMemoryUpdates)
        && outputEvents.equals(s.outputEvents)
        && callResults.equals(s.callResults);
  }

  @Override
  public int hashCode() {
    return Objects.hash(taskEvent, outputEvents, completed);
  }
}
